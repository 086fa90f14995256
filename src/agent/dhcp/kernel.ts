/**
 * The iproute2 side of DHCP: the per-network namespace, the veth pair between it and the network's
 * bridge, and the DHCP port's addresses. Commands run through the injected Exec, which runs in the
 * node namespace (where the bridge is); `ip -n NS` reaches into the DHCP namespace.
 */
import type { Exec } from '../../common/exec.js';
import { listNetns } from '../../common/netns.js';

export interface LinkInfo {
  ifname: string;
  master: string | null;
  mtu: number;
  up: boolean;
  mac: string;
  /** IPv4 global addresses as "ip/prefix". */
  addresses: string[];
}

interface IpJsonLink {
  ifname: string;
  master?: string;
  mtu: number;
  flags?: string[];
  address?: string;
  addr_info?: { family: string; local: string; prefixlen: number; scope?: string }[];
}

const toLinkInfo = (l: IpJsonLink): LinkInfo => ({
  ifname: l.ifname,
  master: l.master ?? null,
  mtu: l.mtu,
  up: (l.flags ?? []).includes('UP'),
  mac: (l.address ?? '').toLowerCase(),
  addresses: (l.addr_info ?? [])
    .filter((a) => a.family === 'inet' && (a.scope ?? 'global') === 'global')
    .map((a) => `${a.local}/${a.prefixlen}`)
    .sort(),
});

/** Links (with IPv4 addresses) of the namespace `ns`, or of the Exec's own namespace when undefined. */
export async function listLinks(exec: Exec, ns?: string): Promise<LinkInfo[]> {
  const args = [...(ns ? ['-n', ns] : []), '-json', 'addr', 'show'];
  const r = await exec('ip', args, { allowFail: true });
  if (r.code !== 0 || !r.stdout.trim()) return [];
  return (JSON.parse(r.stdout) as IpJsonLink[]).map(toLinkInfo);
}

/**
 * The bridges of the Exec's own namespace and the node ends of the DHCP veths (`hnd-<vni>`), with
 * master, MTU and flags. The veths are found in a one-line-per-link listing, then listed in JSON by
 * name: on a node with 1,000 veth taps, the JSON of every veth is ~0.3 MB to parse per DHCP apply.
 */
export async function listNodeLinks(exec: Exec): Promise<LinkInfo[]> {
  const json = (text: string): LinkInfo[] =>
    text
      .split('\n')
      .filter((l) => l.trim().startsWith('['))
      .flatMap((l) => (JSON.parse(l) as IpJsonLink[]).map(toLinkInfo));
  const [bridges, veths] = await Promise.all([
    exec('ip', ['-json', 'link', 'show', 'type', 'bridge'], { allowFail: true }),
    exec('ip', ['-o', 'link', 'show', 'type', 'veth'], { allowFail: true }),
  ]);
  const names = [...veths.stdout.matchAll(/^\d+:\s+(hnd-\d+)[@:]/gm)].map((m) => m[1]!);
  // One JSON document per line; a link gone meanwhile prints none.
  const ours = names.length
    ? await exec('ip', ['-json', '-force', '-batch', '-'], {
        input: `${names.map((n) => `link show dev ${n}`).join('\n')}\n`,
        allowFail: true,
      })
    : null;
  return [...json(bridges.stdout), ...json(ours?.stdout ?? '')];
}

/** `netnsExec` adds the name (host mount namespace), `exec` configures inside it. A stale name
 * (file left without its mount) is deleted first; callers only create when the name is unusable. */
export async function createNetns(netnsExec: Exec, exec: Exec, ns: string): Promise<void> {
  await netnsExec('ip', ['netns', 'del', ns], { allowFail: true });
  await netnsExec('ip', ['netns', 'add', ns]);
  await exec('ip', ['-n', ns, 'link', 'set', 'dev', 'lo', 'up']);
}

/** Replaces whatever is left of the pair with a fresh one, the peer created inside `ns`. */
export async function createVeth(exec: Exec, ns: string, nodeEnd: string, nsEnd: string): Promise<void> {
  await exec('ip', ['link', 'del', 'dev', nodeEnd], { allowFail: true });
  await exec('ip', ['-n', ns, 'link', 'del', 'dev', nsEnd], { allowFail: true });
  await exec('ip', ['link', 'add', nodeEnd, 'type', 'veth', 'peer', 'name', nsEnd, 'netns', ns]);
}

export interface VethConfig {
  ns: string;
  nodeEnd: string;
  nsEnd: string;
  mac: string;
  mtu: number;
  bridge: string;
}

export async function configureVeth(exec: Exec, c: VethConfig): Promise<void> {
  await exec('ip', ['-n', c.ns, 'link', 'set', 'dev', c.nsEnd, 'address', c.mac, 'mtu', String(c.mtu), 'up']);
  await exec('ip', ['link', 'set', 'dev', c.nodeEnd, 'mtu', String(c.mtu), 'master', c.bridge, 'up']);
}

export async function addAddress(exec: Exec, ns: string, dev: string, cidr: string): Promise<void> {
  await exec('ip', ['-n', ns, 'addr', 'replace', cidr, 'dev', dev]);
}

export async function delAddress(exec: Exec, ns: string, dev: string, cidr: string): Promise<void> {
  await exec('ip', ['-n', ns, 'addr', 'del', cidr, 'dev', dev], { allowFail: true });
}

/** Deletes the node-side veth (its peer goes with it) and the namespace; missing ones are fine. */
export async function removeNetnsAndVeth(netnsExec: Exec, exec: Exec, ns: string, nodeEnd: string): Promise<void> {
  await exec('ip', ['link', 'del', 'dev', nodeEnd], { allowFail: true });
  const r = await netnsExec('ip', ['netns', 'del', ns], { allowFail: true });
  if (r.code !== 0 && (await listNetns(netnsExec)).includes(ns)) {
    throw new Error(`ip netns del ${ns}: ${r.stderr.trim()}`);
  }
}
