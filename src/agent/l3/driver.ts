/**
 * Effects of the L3 part, through the injected Exec: reads what is ours (router namespaces of the
 * agent's prefix, their links, static routes and NAT table key; the node ends of the veths, static
 * routes to them, proxy ARP entries, the bridge table key and the underlay interface) and applies
 * the diff's operations. Independent objects independently: one router failing does not stop the
 * others; deletions tolerate what is already gone (a veth goes with its peer or its namespace).
 */
import type { Exec } from '../../common/exec.js';
import { listNetns } from '../../common/netns.js';
import { commandsOf, type L3Op } from './ops.js';
import { isOuterLink, isRouterNetns, L3_TABLE } from './names.js';
import { emptyActual, type ActualL3, type ActualLink, type ActualRouterNs } from './types.js';

interface IpAddrJson {
  ifname: string;
  address?: string;
  mtu: number;
  flags?: string[];
  master?: string;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}
interface IpRouteJson {
  dst: string;
  gateway?: string;
  dev?: string;
}

const routeKey = (r: IpRouteJson): string => `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev}`;
const parse = <T>(text: string): T[] => (text.trim() ? (JSON.parse(text) as T[]) : []);
const tableKey = (text: string): string | null => /comment "([0-9a-f]+)"/.exec(text)?.[1] ?? null;

export class L3Driver {
  constructor(
    private readonly exec: Exec,
    private readonly netnsPrefix: string,
    /** The node's underlay IP: the interface holding it is the uplink (proxy ARP, announcements). */
    private readonly underlayIp: string,
  ) {}

  private async readNs(netns: string): Promise<ActualRouterNs> {
    const [addrs, routes, nft] = await Promise.all([
      this.exec('ip', ['-n', netns, '-json', 'addr', 'show']),
      this.exec('ip', ['-n', netns, '-json', 'route', 'show', 'proto', 'static']),
      this.exec('ip', ['netns', 'exec', netns, 'nft', 'list', 'table', 'ip', L3_TABLE], { allowFail: true }),
    ]);
    const links = new Map<string, ActualLink>();
    for (const l of parse<IpAddrJson>(addrs.stdout)) {
      if (l.ifname === 'lo') continue;
      links.set(l.ifname, {
        mac: (l.address ?? '').toLowerCase(),
        mtu: l.mtu,
        up: (l.flags ?? []).includes('UP'),
        addrs: (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
      });
    }
    return {
      links,
      routes: new Set(parse<IpRouteJson>(routes.stdout).map(routeKey)),
      nftKey: nft.code === 0 ? tableKey(nft.stdout) : null,
    };
  }

  /** What is ours on the node now. */
  async read(): Promise<ActualL3> {
    const a = emptyActual();
    const names = (await listNetns(this.exec)).filter((n) => isRouterNetns(this.netnsPrefix, n));
    const [, links, routes, proxies, bridge] = await Promise.all([
      Promise.all(names.map(async (n) => a.namespaces.set(n, await this.readNs(n)))),
      this.exec('ip', ['-json', 'addr', 'show']),
      this.exec('ip', ['-json', 'route', 'show', 'proto', 'static']),
      this.exec('ip', ['-json', 'neigh', 'show', 'proxy']),
      this.exec('nft', ['list', 'table', 'bridge', L3_TABLE], { allowFail: true }),
    ]);
    for (const l of parse<IpAddrJson>(links.stdout)) {
      if (isOuterLink(l.ifname))
        a.outers.set(l.ifname, { master: l.master ?? null, up: (l.flags ?? []).includes('UP') });
      if ((l.addr_info ?? []).some((x) => x.local === this.underlayIp))
        a.uplink = { name: l.ifname, mac: (l.address ?? '').toLowerCase() };
    }
    for (const r of parse<IpRouteJson>(routes.stdout)) if (r.dev && isOuterLink(r.dev)) a.hostRoutes.add(routeKey(r));
    for (const n of parse<{ dst: string; dev: string }>(proxies.stdout))
      if (a.uplink && n.dev === a.uplink.name) a.proxies.add(n.dst);
    a.bridgeNftKey = bridge.code === 0 ? tableKey(bridge.stdout) : null;
    return a;
  }

  /**
   * Runs the operations in order; an operation of a router whose earlier one failed is skipped (the
   * next pass retries it), others go on. Returns the failures.
   */
  async apply(ops: readonly L3Op[], uplink: string | null): Promise<string[]> {
    const failed: string[] = [];
    const broken = new Set<string>();
    for (const o of ops) {
      const scope = 'netns' in o ? o.netns : '';
      if (scope && broken.has(scope)) continue;
      const deleting = o.op.endsWith('-del');
      try {
        for (const c of commandsOf(o, uplink))
          await this.exec(c.cmd, c.args, { allowFail: deleting, timeoutMs: 10_000, input: c.input });
      } catch (e) {
        if (scope) broken.add(scope);
        failed.push(`${o.op} ${scope}: ${(e as Error).message}`);
      }
    }
    return failed;
  }
}
