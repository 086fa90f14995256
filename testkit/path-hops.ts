/**
 * Which namespaces and links a flow really crossed, read from the kernel's own counters rather than
 * from what the code meant to build: snapshot every link's byte counters in a set of namespaces,
 * run the flow, snapshot again; a link is on the path when it carried at least half the flow's
 * bytes (the other paths are idle meanwhile, so pings and DHCP stay far below that). Benchmarks
 * that compare two paths use it to show that both cross the same hops.
 */
import type { Exec } from '../src/common/exec.js';

/** One link's counters in one namespace. */
interface LinkCount {
  ns: string;
  ifname: string;
  /** linkinfo kind (veth, bridge, vxlan, tun, …); '' for loopback and plain devices. */
  kind: string;
  /** A veth whose peer lives in another namespace. */
  crossNs: boolean;
  /** The bridge it is a port of, if any (a bridge forwarding frames counts no bytes of its own). */
  master?: string;
  bytes: number;
}

export type LinkCounters = Map<string, LinkCount>;

interface IpLink {
  ifname: string;
  link_netnsid?: number;
  master?: string;
  linkinfo?: { info_kind?: string };
  stats64?: { rx?: { bytes?: number }; tx?: { bytes?: number } };
}

/** Every link's counters (max of rx and tx bytes: a flow's data crosses a link one way) in `namespaces`. */
export async function linkCounters(exec: Exec, namespaces: readonly string[]): Promise<LinkCounters> {
  const out: LinkCounters = new Map();
  for (const ns of namespaces) {
    const r = await exec('ip', ['-n', ns, '-s', '-d', '-j', 'link', 'show'], { allowFail: true });
    for (const l of JSON.parse(r.stdout || '[]') as IpLink[]) {
      const bytes = Math.max(l.stats64?.rx?.bytes ?? 0, l.stats64?.tx?.bytes ?? 0);
      const kind = l.linkinfo?.info_kind ?? '';
      const crossNs = l.link_netnsid !== undefined;
      out.set(`${ns}/${l.ifname}`, { ns, ifname: l.ifname, kind, crossNs, bytes, master: l.master });
    }
  }
  return out;
}

/** The namespaces and links a flow crossed. */
export interface Hops {
  /** Namespaces in which some link carried the flow, in the order of `linkCounters`' list. */
  namespaces: string[];
  /** veth pairs between two namespaces, and inside one (both ends carry the flow: ends / 2). */
  vethsBetween: number;
  vethsInside: number;
  /** Per namespace, its links on the path (`name:kind@bridge`). */
  links: Map<string, string[]>;
}

/** The hops of a flow that moved `bytes` between the `before` and `after` snapshots. */
export function hopsOf(before: LinkCounters, after: LinkCounters, bytes: number): Hops {
  const links = new Map<string, string[]>();
  let between = 0;
  let inside = 0;
  for (const [key, a] of after) {
    if (a.ifname === 'lo' || a.bytes - (before.get(key)?.bytes ?? a.bytes) < bytes / 2) continue;
    if (!links.has(a.ns)) links.set(a.ns, []);
    links.get(a.ns)!.push(`${a.ifname}${a.kind ? `:${a.kind}` : ''}${a.master ? `@${a.master}` : ''}`);
    if (a.kind === 'veth') a.crossNs ? between++ : inside++;
  }
  return { namespaces: [...links.keys()], vethsBetween: between / 2, vethsInside: inside / 2, links };
}

/** `5 namespaces, 5 veth pairs (4 between namespaces, 1 inside one)`. */
export function hopCounts(h: Hops): string {
  const pairs = h.vethsBetween + h.vethsInside;
  const split = `${h.vethsBetween} between namespaces, ${h.vethsInside} inside one`;
  return `${h.namespaces.length} namespaces, ${pairs} veth pairs (${split})`;
}

/**
 * Per namespace (without `prefix`), its links on the path: `vm-b1[eth0:veth tap0:tun] …`, the
 * namespaces in the order of `order` (the path's, as the caller knows it), any others last.
 */
export function hopDetail(h: Hops, prefix: string, order: readonly string[] = []): string {
  const rank = (ns: string) => (order.includes(ns) ? order.indexOf(ns) : order.length);
  return [...h.links]
    .sort(([a], [b]) => rank(a) - rank(b))
    .map(([ns, ls]) => `${ns.replace(prefix, '')}[${ls.join(' ')}]`)
    .join(' ');
}

/** Whether two paths cross as many namespaces and veth pairs (between and inside namespaces). */
export const sameHops = (a: Hops, b: Hops): boolean =>
  a.namespaces.length === b.namespaces.length && a.vethsBetween === b.vethsBetween && a.vethsInside === b.vethsInside;
