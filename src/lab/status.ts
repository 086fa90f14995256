/**
 * `hypernet lab status`: what is running compared with what the lab made — recorded processes alive
 * (and still ours), the plan's namespaces present (plus the ones agents made), each VM's hyper address
 * on its interface (eth0, or an agentless VM's OpenVPN TAP), the agents' liveness as the API
 * reports it, and the vpc cloud's VMs and route table (vpc-status.ts).
 */
import { ApiClient } from '../client/api.js';
import type { Exec } from '../common/exec.js';
import { textTable } from '../common/text-table.js';
import type { Agent, HyperVm } from '../model/types.js';
import { listNetnsWithPrefix } from './netns.js';
import { labServerUrl, networkOfIp, planNamespaces } from './plan.js';
import { isOurs, readPidDir } from './processes.js';
import { CLIENT_TAP } from './agentless.js';
import type { LabL3Record, LabState, LabVmRecord } from './state.js';
import { vmInterface } from './vms.js';
import { labToken } from './keystone-lab.js';
import { renderVpcStatus, type VpcStatus, vpcStatus } from './vpc-status.js';

/** The VM-side interface that holds the hyper IP: an agentless VM's OpenVPN TAP, else eth0. */
const hyperInterface = (v: LabVmRecord): string => (v.tap === CLIENT_TAP ? CLIENT_TAP : 'eth0');

export interface LabStatus {
  processes: { name: string; pid: number; alive: boolean }[];
  namespaces: { name: string; present: boolean }[];
  /** Namespaces under the prefix that the plan does not name (made by agents, e.g. DHCP). */
  extraNamespaces: string[];
  /** `network`: the tenant network of the VM's address, when the lab has several (`--networks`). */
  vms: { name: string; expectedIp: string; ifname: string; ip: string | null; ok: boolean; network?: string }[];
  agents: { host: string; alive: boolean | null }[];
  /** The HyperVMs of `--hypervms` and their status per the API (ok when ACTIVE). */
  hypervms: { name: string; ip: string; host: string; status: string; ok: boolean }[];
  apiError: string | null;
  healthy: boolean;
  /** The lab's router, gateways, floating IPs and external host (lab up without --no-router). */
  l3?: LabL3Record;
  /** The vpc cloud of `--custom-route-vms`: its VMs and its route table. */
  vpc?: VpcStatus;
}

/** The lab's gateways, floating IPs and external host, as `lab up` and `lab status` print them. */
export function labL3Lines(l3: LabL3Record): string[] {
  return [
    `router ${l3.routerId}:`,
    textTable(
      ['what', 'address', 'where'],
      [
        ...(l3.interfaces ?? []).map((i) => ['interface', i.ip, `${i.network} (${i.cidr})`]),
        ...l3.gateways.map((g) => ['gateway (SNAT)', g.ip, g.cloud]),
        ...l3.floatingips.map((f) => ['floating IP', f.ip, `${f.vm} (${f.fixedIp})`]),
        ...(l3.externalHost ? [['external host', l3.externalHost.ip, l3.externalHost.ns]] : []),
      ],
    ),
  ];
}

export async function labStatus(state: LabState, exec: Exec): Promise<LabStatus> {
  const { plan } = state;
  const processes = [...readPidDir(plan.paths.pidDir)].map(([name, pid]) => ({
    name,
    pid,
    alive: isOurs(pid, plan.paths.marker),
  }));
  const present = new Set(await listNetnsWithPrefix(exec, plan.prefix));
  const planned = planNamespaces(plan);
  const namespaces = planned.map((name) => ({ name, present: present.has(name) }));
  const extraNamespaces = [...present].filter((n) => !planned.includes(n)).sort();
  const vms = await Promise.all(
    state.vms.map(async (v) => {
      const ifname = hyperInterface(v);
      const ip = present.has(v.ns) ? (await vmInterface(exec, v.ns, ifname)).ip : null;
      const net = networkOfIp(plan, v.ip);
      return { name: v.name, expectedIp: v.ip, ifname, ip, ok: ip === v.ip, ...(net ? { network: net.name } : {}) };
    }),
  );
  let apiError: string | null = null;
  let apiAgents: Agent[] = [];
  let apiHyperVms: HyperVm[] = [];
  try {
    const api = new ApiClient({ url: labServerUrl(plan), token: labToken(plan), timeoutMs: 5000 });
    apiAgents = await api.list<Agent>('agents');
    if (state.hypervms?.length) apiHyperVms = await api.list<HyperVm>('hypervms');
  } catch (e) {
    apiError = (e as Error).message;
  }
  // The clouds' hyperswitches, and those the provider launched for agentless VMs.
  const hosts = [
    ...new Set([
      ...plan.clouds.map((c) => c.hostId),
      ...(plan.vpc?.hyperswitches ?? []).map((c) => c.hostId),
      ...state.vms.map((v) => v.hostId),
    ]),
  ];
  const agents = hosts.map((host) => ({
    host,
    alive: apiError ? null : (apiAgents.find((a) => a.host === host)?.alive ?? false),
  }));
  const hypervms = (state.hypervms ?? []).map((h) => {
    const status = apiError ? '?' : (apiHyperVms.find((v) => v.id === h.id)?.status ?? 'gone');
    return { name: h.name, ip: h.ip, host: h.hostId, status, ok: status === 'ACTIVE' };
  });
  const vpc = await vpcStatus(state, exec, present);
  const healthy =
    (!vpc || (vpc.routed && vpc.vms.every((v) => v.ok) && !vpc.error)) &&
    processes.length > 0 &&
    processes.every((p) => p.alive) &&
    namespaces.every((n) => n.present) &&
    vms.every((v) => v.ok) &&
    agents.every((a) => a.alive === true) &&
    hypervms.every((h) => h.ok);
  return {
    processes,
    namespaces,
    extraNamespaces,
    vms,
    agents,
    hypervms,
    apiError,
    healthy,
    ...(state.l3 ? { l3: state.l3 } : {}),
    ...(vpc ? { vpc } : {}),
  };
}

const yes = (b: boolean | null): string => (b === null ? '?' : b ? 'yes' : 'NO');

export function renderStatus(s: LabStatus): string {
  const out: string[] = [];
  out.push(
    'processes:',
    textTable(
      ['name', 'pid', 'alive'],
      s.processes.map((p) => [p.name, String(p.pid), yes(p.alive)]),
    ),
  );
  out.push(
    'namespaces:',
    textTable(
      ['namespace', 'present'],
      [...s.namespaces.map((n) => [n.name, yes(n.present)]), ...s.extraNamespaces.map((n) => [n, 'yes (agent)'])],
    ),
  );
  const several = s.vms.some((v) => v.network);
  out.push(
    'VMs:',
    textTable(
      ['VM', 'hyper IP (API)', ...(several ? ['network'] : []), 'interface', 'its IP', 'ok'],
      s.vms.map((v) => [
        v.name,
        v.expectedIp,
        ...(several ? [v.network ?? '?'] : []),
        v.ifname,
        v.ip ?? '-',
        yes(v.ok),
      ]),
    ),
  );
  out.push(
    'agents (per the API):',
    textTable(
      ['host', 'alive'],
      s.agents.map((a) => [a.host, yes(a.alive)]),
    ),
  );
  if (s.hypervms.length)
    out.push(
      'HyperVMs (per the API):',
      textTable(
        ['HyperVM', 'hyper IP', 'node', 'status', 'ok'],
        s.hypervms.map((h) => [h.name, h.ip, h.host, h.status, yes(h.ok)]),
      ),
    );
  if (s.l3) out.push(...labL3Lines(s.l3));
  if (s.vpc) out.push(...renderVpcStatus(s.vpc));
  if (s.apiError) out.push(`API unreachable: ${s.apiError}`);
  out.push(s.healthy ? 'lab is healthy' : 'lab is NOT healthy');
  return out.join('\n');
}
