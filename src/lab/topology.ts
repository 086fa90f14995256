/**
 * Builds and sweeps the lab's underlay from a plan: an "internet" namespace routing between the
 * clouds, one hyperswitch namespace per cloud linked to it by a veth (the cloud's underlay), and empty
 * VM namespaces. Also the native (no overlay) plumbing used by the datapath benchmark: a VM gets a
 * cloud-local address routed by its hyperswitch, Calico style (/32 route, link-local next hop).
 */
import type { Exec } from '../common/exec.js';
import type { Clock } from '../common/clock.js';
import { addNetns, delNetns, listNetnsWithPrefix, netnsPids, sysctlIn } from './netns.js';
import { planNamespaces, type CloudPlan, type LabPlan, type VmPlan } from './plan.js';
import { stopPid } from './processes.js';

/** Next hop the hyperswitch shows every native workload link (same address on each link). */
export const NATIVE_NEXT_HOP = '169.254.1.1';
export const NATIVE_IF = 'nat0';

async function buildCloudLink(exec: Exec, plan: LabPlan, c: CloudPlan): Promise<void> {
  const mtu = String(plan.underlayMtu);
  const inet = plan.internetNs;
  const hs = c.hyperswitchNs;
  await exec('ip', [
    '-n',
    inet,
    'link',
    'add',
    c.internetIf,
    'mtu',
    mtu,
    'type',
    'veth',
    'peer',
    'name',
    c.hyperswitchIf,
    'mtu',
    mtu,
    'netns',
    hs,
  ]);
  await exec('ip', ['-n', inet, 'addr', 'add', `${c.gatewayIp}/${c.transitPrefixLen}`, 'dev', c.internetIf]);
  await exec('ip', ['-n', inet, 'link', 'set', c.internetIf, 'up']);
  await exec('ip', ['-n', hs, 'addr', 'add', `${c.underlayIp}/${c.transitPrefixLen}`, 'dev', c.hyperswitchIf]);
  await exec('ip', ['-n', hs, 'link', 'set', c.hyperswitchIf, 'up']);
  await exec('ip', ['-n', hs, 'route', 'add', 'default', 'via', c.gatewayIp, 'dev', c.hyperswitchIf]);
  // The cloud's workload half is routed by its hyperswitch (used by native paths).
  await exec('ip', ['-n', inet, 'route', 'add', c.workloadCidr, 'via', c.underlayIp, 'dev', c.internetIf]);
  await sysctlIn(exec, hs, 'net.ipv4.ip_forward', 1);
}

/** Creates every namespace and underlay link of the plan. Expects none of them to exist. */
export async function buildTopology(exec: Exec, plan: LabPlan): Promise<void> {
  // The VPC router namespace is the endpoint daemon's (NetnsVpcDataplane makes it).
  const made = planNamespaces(plan).filter((ns) => ns !== plan.vpc?.routerNs);
  await Promise.all(made.map((ns) => addNetns(exec, ns)));
  await sysctlIn(exec, plan.internetNs, 'net.ipv4.ip_forward', 1);
  // The vpc cloud's hyperswitches are linked to the internet like the other clouds' nodes.
  const nodes = [...plan.clouds, ...(plan.vpc?.hyperswitches ?? [])];
  await Promise.all(nodes.map((c) => buildCloudLink(exec, plan, c)));
}

/**
 * Gives a VM a native, underlay-routed address: veth `nat0` in the VM, `nativeHostIf` in its
 * hyperswitch, /32 route to the VM there, and routes in the VM to every cloud's workload range.
 */
export async function plugNative(exec: Exec, plan: LabPlan, vm: VmPlan, mtu = plan.underlayMtu): Promise<string> {
  if (!vm.nativeIp) throw new Error(`${vm.name} has no native address in the plan`);
  const hs = vm.hyperswitchNs;
  const m = String(mtu);
  await exec('ip', [
    '-n',
    hs,
    'link',
    'add',
    vm.nativeHostIf,
    'mtu',
    m,
    'type',
    'veth',
    'peer',
    'name',
    NATIVE_IF,
    'mtu',
    m,
    'netns',
    vm.ns,
  ]);
  await exec('ip', ['-n', hs, 'addr', 'add', `${NATIVE_NEXT_HOP}/32`, 'dev', vm.nativeHostIf]);
  await exec('ip', ['-n', hs, 'link', 'set', vm.nativeHostIf, 'up']);
  await exec('ip', ['-n', hs, 'route', 'add', `${vm.nativeIp}/32`, 'dev', vm.nativeHostIf]);
  await exec('ip', ['-n', vm.ns, 'addr', 'add', `${vm.nativeIp}/32`, 'dev', NATIVE_IF]);
  await exec('ip', ['-n', vm.ns, 'link', 'set', NATIVE_IF, 'up']);
  await exec('ip', ['-n', vm.ns, 'route', 'add', NATIVE_NEXT_HOP, 'dev', NATIVE_IF]);
  for (const c of plan.clouds)
    await exec('ip', ['-n', vm.ns, 'route', 'add', c.workloadCidr, 'via', NATIVE_NEXT_HOP, 'dev', NATIVE_IF]);
  return vm.nativeIp;
}

/**
 * Removes every namespace whose name starts with `prefix` (the plan's and the ones agents made),
 * first stopping the processes that still live in them (all started by the lab or its agents).
 * Idempotent; returns the namespaces removed.
 */
export async function sweepNamespaces(exec: Exec, clock: Clock, prefix: string): Promise<string[]> {
  const names = await listNetnsWithPrefix(exec, prefix);
  for (const ns of names) {
    const pids = await netnsPids(exec, ns);
    await Promise.all(pids.map((pid) => stopPid(pid, null, clock, 1500)));
  }
  await Promise.all(names.map((ns) => delNetns(exec, ns)));
  return names;
}
