/**
 * Network namespace primitives over an injected Exec: list (by prefix), create, delete, run a
 * command inside, and find the processes living in one. Used by the topology builder, `lab down`
 * and the tests' sweeps, so every namespace the lab touches goes through here.
 */
import type { Exec } from '../common/exec.js';
import { listNetns } from '../common/netns.js';

export { listNetns };

export async function listNetnsWithPrefix(exec: Exec, prefix: string): Promise<string[]> {
  if (!prefix) throw new Error('refusing to match namespaces with an empty prefix');
  return (await listNetns(exec)).filter((n) => n.startsWith(prefix));
}

/** Creates a namespace with its loopback up. */
export async function addNetns(exec: Exec, ns: string): Promise<void> {
  await exec('ip', ['netns', 'add', ns]);
  await exec('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
}

/** PIDs of the processes whose network namespace is `ns`. */
export async function netnsPids(exec: Exec, ns: string): Promise<number[]> {
  const r = await exec('ip', ['netns', 'pids', ns], { allowFail: true });
  return r.stdout
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
}

/** A veth pair: `name` in namespace `ns`, its peer `peerName` in namespace `peerNs`. */
export async function addVethPair(
  exec: Exec,
  ns: string,
  name: string,
  peerNs: string,
  peerName: string,
): Promise<void> {
  await exec('ip', ['-n', ns, 'link', 'add', name, 'type', 'veth', 'peer', 'name', peerName, 'netns', peerNs]);
}

export async function delNetns(exec: Exec, ns: string): Promise<void> {
  await exec('ip', ['netns', 'del', ns], { allowFail: true });
}

/** Sets a sysctl inside a namespace. */
export async function sysctlIn(exec: Exec, ns: string, key: string, value: string | number): Promise<void> {
  await exec('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `${key}=${value}`]);
}

/**
 * Command line that runs `argv` as a daemon inside namespace `ns` (an agent on a hyperswitch).
 * `nsenter --net` rather than `ip netns exec`: the latter gives the process a private mount
 * namespace, so namespaces the agent adds for DHCP would be invisible to the host and lost when the
 * agent restarts. The agent talks to the kernel by netlink and /proc/sys/net, which follow the
 * network namespace alone.
 */
export function daemonInNetns(ns: string, argv: readonly string[]): { cmd: string; args: string[] } {
  return { cmd: 'nsenter', args: [`--net=/run/netns/${ns}`, '--', ...argv] };
}
