/**
 * A lab EC2 endpoint on a loopback port for tests: one VPC (10.20.0.0/16) with a subnet per role
 * (mgnt, data, the three vms CIDRs, and a "vms" subnet for custom-route VMs), an AMI, and access keys
 * (`full`: every action; `readonly`: Describe* only). `client()` is the real SDK pointed at it.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { realClock, type Clock } from '../src/common/clock.js';
import { silentLogger } from '../src/common/log.js';
import { parseAgentlessConfig, type AgentlessConfig } from '../src/model/agentless-config.js';
import { EC2_ACTIONS, Ec2Endpoint } from '../src/lab/ec2/server.js';
import { Ec2State, type Ec2Dataplane } from '../src/lab/ec2/state.js';
import type { RateLimit } from '../src/lab/ec2/throttle.js';

export const REGION = 'lab-east-1';
export const AMI = 'ami-0a1b2c3d4e5f60718';
export const KEYS = {
  full: { id: 'AKIAHYPERNETFULL0001', secret: 'full-secret-key-for-the-lab-endpoint' },
  readonly: { id: 'AKIAHYPERNETREAD0001', secret: 'read-secret-key-for-the-lab-endpoint' },
} as const;
const VMS_CIDR = ['10.20.192.0/20', '10.20.208.0/20', '10.20.224.0/20'];

export interface Ec2Lab {
  endpoint: Ec2Endpoint;
  state: Ec2State;
  url: string;
  vpcId: string;
  subnets: { mgnt: string; data: string; vms: string[]; workload: string };
  /** The agentless options of a cloud on this endpoint (keys: `full`). */
  config(extra?: Record<string, unknown>): AgentlessConfig;
  client(o?: { key?: keyof typeof KEYS; maxAttempts?: number }): EC2Client;
  close(): Promise<void>;
}

export async function startEc2Lab(
  o: { dataplane?: Ec2Dataplane; rateLimit?: RateLimit; clock?: Clock } = {},
): Promise<Ec2Lab> {
  const state = new Ec2State(o.dataplane);
  const vpc = state.addVpc('10.20.0.0/16');
  state.images.add(AMI);
  const subnets = {
    mgnt: state.addSubnet(vpc.vpcId, '10.20.0.0/24').subnetId,
    data: state.addSubnet(vpc.vpcId, '10.20.1.0/24').subnetId,
    vms: VMS_CIDR.map((c) => state.addSubnet(vpc.vpcId, c).subnetId),
    workload: state.addSubnet(vpc.vpcId, '10.20.2.0/24').subnetId,
  };
  const endpoint = new Ec2Endpoint({
    state,
    credentials: {
      [KEYS.full.id]: { secretAccessKey: KEYS.full.secret },
      [KEYS.readonly.id]: {
        secretAccessKey: KEYS.readonly.secret,
        allow: Object.keys(EC2_ACTIONS)
          .filter((a) => a.startsWith('Describe'))
          .map((a) => `ec2:${a}`),
      },
    },
    region: REGION,
    clock: o.clock ?? realClock,
    log: silentLogger(),
    rateLimit: o.rateLimit,
  });
  const url = await endpoint.listen();
  return {
    endpoint,
    state,
    url,
    vpcId: vpc.vpcId,
    subnets,
    config: (extra = {}) =>
      parseAgentlessConfig({
        provider: 'aws',
        cloud: 'aws-lab',
        aws_vpc: vpc.vpcId,
        aws_region_name: REGION,
        aws_access_key_id: KEYS.full.id,
        aws_secret_access_key: KEYS.full.secret,
        aws_endpoint_url: url,
        aws_hs_image_id: AMI,
        vms_cidr: VMS_CIDR,
        mgnt_network: subnets.mgnt,
        data_network: subnets.data,
        ...extra,
      }),
    client: ({ key = 'full', maxAttempts } = {}) =>
      new EC2Client({
        endpoint: url,
        region: REGION,
        credentials: { accessKeyId: KEYS[key].id, secretAccessKey: KEYS[key].secret },
        ...(maxAttempts ? { maxAttempts } : {}),
      }),
    close: () => endpoint.close(),
  };
}
