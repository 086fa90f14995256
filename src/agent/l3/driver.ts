/**
 * Effects of the L3 part, through the injected Exec: reads what is ours (router namespaces of the
 * agent's prefix, their links, static routes and NAT table key; the node ends of the veths, static
 * routes to them, proxy ARP entries, the bridge table key and the underlay interface) and applies
 * the diff's operations. Independent objects independently: one router failing does not stop the
 * others; deletions tolerate what is already gone (a veth goes with its peer or its namespace).
 */
import type { Exec } from '../../common/exec.js';
import { listNetns } from '../../common/netns.js';
import { dnatPairs } from './compile.js';
import { commandsOf, type L3Op } from './ops.js';
import { isOuterLink, isRouterNetns, L3_TABLE, RULE_FIP_PREF, RULE_MAIN_PREF, TRANSIT_PREFIX } from './names.js';
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
  table?: string;
}
interface IpRuleJson {
  priority: number;
  src?: string;
  srclen?: number;
  table?: string;
  suppress_prefixlen?: number;
}

const routeKey = (r: IpRouteJson): string =>
  `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev}${r.table && r.table !== 'main' ? ` table ${r.table}` : ''}`;
/** Our rules (the L3 priorities only) as the keys compile renders. */
const ruleKey = (r: IpRuleJson): string | null => {
  if (r.priority !== RULE_MAIN_PREF && r.priority !== RULE_FIP_PREF) return null;
  const from =
    r.src && r.src !== 'all' ? ` from ${r.src}${r.srclen !== undefined && r.srclen !== 32 ? `/${r.srclen}` : ''}` : '';
  const suppress = r.suppress_prefixlen !== undefined ? ` suppress_prefixlength ${r.suppress_prefixlen}` : '';
  return `pref ${r.priority}${from} lookup ${r.table}${suppress}`;
};
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
    const [addrs, routes, nft, rules, neigh, fdb] = await Promise.all([
      this.exec('ip', ['-n', netns, '-json', 'addr', 'show']),
      this.exec('ip', ['-n', netns, '-json', 'route', 'show', 'table', 'all', 'proto', 'static']),
      this.exec('ip', ['netns', 'exec', netns, 'nft', 'list', 'table', 'ip', L3_TABLE], { allowFail: true }),
      this.exec('ip', ['-n', netns, '-json', 'rule', 'show']),
      this.exec('ip', ['-n', netns, '-json', 'neigh', 'show', 'nud', 'permanent']),
      this.exec('bridge', ['-n', netns, '-json', 'fdb', 'show']),
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
    const onTransit = (dev: string | undefined): boolean => !!dev?.startsWith(TRANSIT_PREFIX);
    return {
      links,
      routes: new Set(parse<IpRouteJson>(routes.stdout).map(routeKey)),
      nftKey: nft.code === 0 ? tableKey(nft.stdout) : null,
      dnat: new Set(nft.code === 0 ? dnatPairs(nft.stdout) : []),
      rules: new Set(parse<IpRuleJson>(rules.stdout).flatMap((r) => ruleKey(r) ?? [])),
      neigh: new Set(
        parse<{ dst: string; dev: string; lladdr?: string }>(neigh.stdout)
          .filter((n) => onTransit(n.dev) && n.lladdr)
          .map((n) => `${n.dst} ${n.lladdr!.toLowerCase()}`),
      ),
      fdb: new Set(
        parse<{ mac: string; dev?: string; dst?: string }>(fdb.stdout)
          .filter((f) => onTransit(f.dev) && f.dst)
          .map((f) => `${f.mac.toLowerCase()} ${f.dst}`),
      ),
    };
  }

  /** What is ours on the node now. */
  async read(): Promise<ActualL3> {
    const a = emptyActual();
    const names = (await listNetns(this.exec)).filter((n) => isRouterNetns(this.netnsPrefix, n));
    const [, links, routes, proxies, bridge, netdev] = await Promise.all([
      Promise.all(names.map(async (n) => a.namespaces.set(n, await this.readNs(n)))),
      this.exec('ip', ['-json', 'addr', 'show']),
      this.exec('ip', ['-json', 'route', 'show', 'proto', 'static']),
      this.exec('ip', ['-json', 'neigh', 'show', 'proxy']),
      this.exec('nft', ['list', 'table', 'bridge', L3_TABLE], { allowFail: true }),
      this.exec('nft', ['list', 'table', 'netdev', L3_TABLE], { allowFail: true }),
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
    // `fwd to` holds the VXLAN's ifindex: one the datapath made again is listed by number (the old
    // device is gone), and the node's tables are written again to point at the new one.
    const stale = netdev.code === 0 && /fwd to \d+/.test(netdev.stdout);
    a.bridgeNftKey = bridge.code === 0 && !stale ? tableKey(bridge.stdout) : null;
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
        for (const c of commandsOf(o, uplink)) {
          const allowFail = deleting || c.allowFail || !!c.okWhen;
          const r = await this.exec(c.cmd, c.args, { allowFail, timeoutMs: 10_000, input: c.input });
          if (c.okWhen && r.code !== 0 && !c.okWhen.test(r.stderr))
            throw new Error(`${c.cmd} ${c.args.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
        }
      } catch (e) {
        if (scope) broken.add(scope);
        failed.push(`${o.op} ${scope}: ${(e as Error).message}`);
      }
    }
    return failed;
  }
}
