/**
 * The lab's EC2 endpoint as a daemon of the vpc cloud (`hypernet lab vpc-endpoint`, started and stopped
 * with the lab, pid file `vpc-endpoint`): the endpoint on a loopback port, backed by NetnsVpcDataplane
 * with its VPC router namespace, one VPC with one subnet and an AMI, and an access key of its own. It
 * writes what clients need (URL, ids, key; mode 0600) to `<state>/vpc/endpoint.json` once it listens,
 * and plugs ENIs into the vpc cloud's namespaces on request (vpc-control.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../common/clock.js';
import type { Exec } from '../common/exec.js';
import { writeFileAtomic } from '../common/files.js';
import type { Logger } from '../common/log.js';
import { NetnsVpcDataplane } from './ec2/netns-dataplane.js';
import { Ec2Endpoint } from './ec2/server.js';
import { Ec2State } from './ec2/state.js';
import type { LabPlan, VpcPlan } from './plan.js';
import { readState } from './state.js';
import { serveControl, type PlugRequest } from './vpc-control.js';

/** What a client of the endpoint needs (the server's `agentless:` cloud, `lab up`, `lab status`). */
export interface VpcEndpointInfo {
  url: string;
  region: string;
  vpcId: string;
  subnetId: string;
  routeTableId: string;
  imageId: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export const VPC_REGION = 'lab-1';
export const VPC_IMAGE = 'ami-0a1b2c3d4e5f60718';

export const endpointFile = (vpc: Pick<VpcPlan, 'dir'>): string => join(vpc.dir, 'endpoint.json');
export const controlSocket = (vpc: Pick<VpcPlan, 'dir'>): string => join(vpc.dir, 'control.sock');

/** The endpoint's address file, or null while the daemon has not written it. */
export function readVpcEndpoint(vpc: Pick<VpcPlan, 'dir'>): VpcEndpointInfo | null {
  try {
    return JSON.parse(readFileSync(endpointFile(vpc), 'utf8')) as VpcEndpointInfo;
  } catch {
    return null;
  }
}

/** The vpc cloud of the lab recorded in `stateFile`; throws when it has none. */
function vpcOf(stateFile: string): { plan: LabPlan; vpc: VpcPlan } {
  const state = readState(stateFile);
  if (!state?.plan.vpc) throw new Error(`${stateFile}: no lab with a vpc cloud`);
  return { plan: state.plan, vpc: state.plan.vpc };
}

/** Runs the daemon until SIGTERM/SIGINT. */
export async function runVpcEndpoint(
  stateFile: string,
  deps: { exec: Exec; clock: Clock; log: Logger },
): Promise<void> {
  const { vpc } = vpcOf(stateFile);
  // Owner-only: the address file holds the endpoint's secret key.
  mkdirSync(vpc.dir, { recursive: true, mode: 0o700 });
  const dataplane = new NetnsVpcDataplane(deps.exec, vpc.routerNs);
  await dataplane.create();
  const state = new Ec2State(dataplane);
  const v = state.addVpc(vpc.vpcCidr);
  const subnet = state.addSubnet(v.vpcId, vpc.subnetCidr);
  state.images.add(VPC_IMAGE);
  const key = {
    id: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
    secret: randomBytes(24).toString('base64url'),
  };
  const endpoint = new Ec2Endpoint({
    state,
    credentials: { [key.id]: { secretAccessKey: key.secret } },
    region: VPC_REGION,
    clock: deps.clock,
    log: deps.log,
  });
  const url = await endpoint.listen('127.0.0.1', 0);
  // Only the vpc cloud's namespaces; a hyperswitch keeps its default route on its underlay link.
  const hyperswitchNs = new Set(vpc.hyperswitches.map((h) => h.hyperswitchNs));
  const allowed = new Set([...hyperswitchNs, ...vpc.vms.map((m) => m.ns)]);
  const plug = async (r: PlugRequest) => {
    if (!allowed.has(r.netns)) throw new Error(`${r.netns} is not a namespace of the lab's vpc cloud`);
    const eni = state.interfaces.get(r.eni);
    if (!eni || eni.subnetId !== subnet.subnetId) throw new Error(`no network interface ${r.eni} in ${vpc.subnetCidr}`);
    const via = hyperswitchNs.has(r.netns) ? [vpc.vpcCidr] : ['default'];
    deps.log.info({ eni: r.eni, netns: r.netns }, 'vpc endpoint: plugging');
    await dataplane.plug(eni, vpc.subnetCidr, r.netns, 'eth0', via);
  };
  const control = await serveControl(controlSocket(vpc), plug);
  const info: VpcEndpointInfo = {
    url,
    region: VPC_REGION,
    vpcId: v.vpcId,
    subnetId: subnet.subnetId,
    routeTableId: state.routeTableOf(subnet)!.routeTableId,
    imageId: VPC_IMAGE,
    accessKeyId: key.id,
    secretAccessKey: key.secret,
  };
  await writeFileAtomic(endpointFile(vpc), `${JSON.stringify(info, null, 2)}\n`);
  deps.log.info({ url, vpc: v.vpcId, router: vpc.routerNs }, 'vpc endpoint: listening');
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  control.close();
  await endpoint.close();
}
