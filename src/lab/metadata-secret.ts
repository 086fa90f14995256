/**
 * The lab's metadata secret: made once per lab (random, in the state directory, readable by root
 * only) and given to the server (`metadata_proxy_shared_secret`) and to every agent
 * (`--metadata-secret-file`), so the lab's VMs reach 169.254.169.254 as cloud-init expects.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabPaths } from './plan.js';

export const metadataSecretFile = (paths: Pick<LabPaths, 'stateDir'>): string =>
  join(paths.stateDir, 'metadata-secret');

/** The lab's secret, made on first use. */
export function labMetadataSecret(paths: Pick<LabPaths, 'stateDir'>): string {
  const file = metadataSecretFile(paths);
  if (!existsSync(file)) writeFileSync(file, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}
