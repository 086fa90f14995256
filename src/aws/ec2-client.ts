/**
 * The EC2 client of one cloud's options: region, endpoint and keys from the `agentless:` section when
 * given, else the SDK's own chain (AWS_REGION, AWS_ENDPOINT_URL_EC2, environment keys, shared config,
 * instance role…). Retries are the SDK's standard mode: throttling errors such as RequestLimitExceeded
 * back off exponentially with jitter.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import type { AgentlessConfig } from '../model/agentless-config.js';

export function makeEc2Client(c: AgentlessConfig, o: { maxAttempts?: number } = {}): EC2Client {
  const keys =
    c.aws_access_key_id && c.aws_secret_access_key
      ? { accessKeyId: c.aws_access_key_id, secretAccessKey: c.aws_secret_access_key }
      : undefined;
  return new EC2Client({
    ...(c.aws_region_name ? { region: c.aws_region_name } : {}),
    ...(c.aws_endpoint_url ? { endpoint: c.aws_endpoint_url } : {}),
    ...(keys ? { credentials: keys } : {}),
    retryMode: 'standard',
    ...(o.maxAttempts ? { maxAttempts: o.maxAttempts } : {}),
  });
}

/** True when `e` is the EC2 error `code` (the SDK names its exceptions by the error code). */
export const isEc2Error = (e: unknown, ...codes: string[]): boolean => e instanceof Error && codes.includes(e.name);
