/**
 * `lab status` for the vpc cloud: each VM's VPC address on its interface (and, in `in-addition` mode,
 * its hyper IP), and the VPC's main route table read through the real SDK from the lab's EC2 endpoint:
 * destination, target ENI, whose ENI that is (which hyperswitch, which VM) and the route's state.
 */
import type { Exec } from '../common/exec.js';
import { textTable } from '../common/text-table.js';
import type { LabState } from './state.js';
import { describeVpc } from './vpc-ec2.js';
import { readVpcEndpoint } from './vpc-endpoint.js';

export interface VpcStatus {
  vms: { name: string; mode: string; hyperIp: string; vpcIp: string; eni: string; hostId: string; ok: boolean }[];
  routes: { destination: string; target: string; owner: string; state: string }[];
  /** The hyper subnet's route targets a hyperswitch's ENI and is active. */
  routed: boolean;
  error: string | null;
}

/** The addresses a namespace's eth0 holds (IPv4). */
async function addressesOf(exec: Exec, ns: string): Promise<string[]> {
  const r = await exec('ip', ['-n', ns, '-json', '-4', 'addr', 'show', 'dev', 'eth0'], { allowFail: true });
  if (r.code !== 0 || !r.stdout.trim()) return [];
  const links = JSON.parse(r.stdout) as { addr_info?: { local: string }[] }[];
  return links.flatMap((l) => (l.addr_info ?? []).map((a) => a.local));
}

export async function vpcStatus(state: LabState, exec: Exec, present: ReadonlySet<string>): Promise<VpcStatus | null> {
  const { plan } = state;
  if (!plan.vpc) return null;
  const rec = state.vpc;
  const vms = await Promise.all(
    (rec?.vms ?? []).map(async (v) => {
      const have = present.has(v.ns) ? await addressesOf(exec, v.ns) : [];
      const ok = have.includes(v.vpcIp) && (v.mode !== 'in-addition' || have.includes(v.ip));
      return { name: v.name, mode: v.mode, hyperIp: v.ip, vpcIp: v.vpcIp, eni: v.eni, hostId: v.hostId, ok };
    }),
  );
  const owners = new Map<string, string>([
    ...(rec?.hyperswitches ?? []).map((h) => [h.eni, h.hostId] as [string, string]),
    ...(rec?.vms ?? []).map((v) => [v.eni, v.name] as [string, string]),
  ]);
  const hyperswitchEnis = new Set((rec?.hyperswitches ?? []).map((h) => h.eni));
  const info = readVpcEndpoint(plan.vpc);
  let error: string | null = info ? null : 'the EC2 endpoint has written no address file';
  let routes: VpcStatus['routes'] = [];
  if (info) {
    try {
      routes = (await describeVpc(info)).routes.map((r) => ({
        ...r,
        owner: r.target === 'local' ? 'the VPC' : (owners.get(r.target) ?? '?'),
      }));
    } catch (e) {
      error = (e as Error).message;
    }
  }
  const routed = routes.some(
    (r) => r.destination === plan.hyperCidr && hyperswitchEnis.has(r.target) && r.state === 'active',
  );
  return { vms, routes, routed, error };
}

export function renderVpcStatus(s: VpcStatus): string[] {
  return [
    'vpc cloud VMs (custom route):',
    textTable(
      ['VM', 'mode', 'hyper IP', 'VPC IP', 'ENI', 'hyperswitch', 'ok'],
      s.vms.map((v) => [v.name, v.mode, v.hyperIp, v.vpcIp, v.eni, v.hostId, v.ok ? 'yes' : 'NO']),
    ),
    'vpc route table (DescribeRouteTables):',
    textTable(
      ['destination', 'target', 'whose', 'state'],
      s.routes.map((r) => [r.destination, r.target, r.owner, r.state]),
    ),
    ...(s.error ? [`EC2 endpoint unreachable: ${s.error}`] : []),
  ];
}
