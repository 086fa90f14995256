/**
 * The operations the L3 diff emits and the commands each one runs (pure), so the order and the exact
 * command lines are tested without root. `uplink` is the node's underlay interface (proxy ARP).
 */
import { L3_NEXT_HOP, L3_TABLE, L3_TRANSIT_PORT } from './names.js';
import type { DesiredIface, DesiredTransit } from './types.js';

export type L3Op =
  | { op: 'ns-add'; netns: string }
  | { op: 'veth-add'; netns: string; iface: DesiredIface }
  | { op: 'transit-add'; netns: string; transit: DesiredTransit }
  | { op: 'neigh-replace' | 'neigh-del'; netns: string; dev: string; ip: string; mac: string }
  | { op: 'fdb-replace' | 'fdb-del'; netns: string; dev: string; mac: string; dst: string }
  | { op: 'rule-add' | 'rule-del'; netns: string; rule: string }
  | { op: 'outer-set'; outer: string; bridge: string | null; mac: string }
  | { op: 'inner-set'; netns: string; inner: string; mac: string; mtu: number; up: boolean }
  | { op: 'addr-add' | 'addr-del'; netns: string; dev: string; addr: string }
  | { op: 'route-replace' | 'route-del'; netns: string; route: string }
  | { op: 'nft-replace'; netns: string; text: string }
  /** Ends the connections NATed to or from a floating IP that left this router's table (or changed port). */
  | { op: 'ct-flush'; netns: string; ip: string }
  | { op: 'host-route-replace' | 'host-route-del'; route: string }
  | { op: 'proxy-add' | 'proxy-del'; ip: string }
  | { op: 'bridge-nft'; text: string }
  | { op: 'inner-del'; netns: string; inner: string }
  | { op: 'veth-del'; outer: string }
  | { op: 'ns-del'; netns: string };

const NOTHING_FLUSHED = /0 flow entries have been deleted/;

/** One command: program, arguments, and standard input when it reads a script. */
export interface L3Command {
  cmd: string;
  args: string[];
  input?: string;
  /** A clean-up step whose failure is expected (nothing to clean). */
  allowFail?: boolean;
  /** A failure whose standard error matches is not one (conntrack exits 1 when nothing matched). */
  okWhen?: RegExp;
}

const ip = (...args: string[]): L3Command => ({ cmd: 'ip', args });
const inNs = (netns: string, cmd: string, args: string[], input?: string): L3Command => ({
  cmd: 'ip',
  args: ['netns', 'exec', netns, cmd, ...args],
  ...(input !== undefined ? { input } : {}),
});

/** Replacing a table atomically: make sure it exists, delete it, write it, in one transaction. */
export const replaceTableScript = (family: string, text: string): string =>
  `table ${family} ${L3_TABLE}\ndelete table ${family} ${L3_TABLE}\n${text}`;

export function commandsOf(o: L3Op, uplink: string | null): L3Command[] {
  switch (o.op) {
    case 'ns-add':
      return [
        ip('netns', 'add', o.netns),
        ip('-n', o.netns, 'link', 'set', 'lo', 'up'),
        // A router forwards; with its interfaces on one L2 each answers ARP only for its own address.
        inNs(o.netns, 'sysctl', [
          '-qw',
          'net.ipv4.ip_forward=1',
          'net.ipv4.conf.all.arp_ignore=1',
          'net.ipv4.conf.default.arp_ignore=1',
          'net.ipv4.conf.all.rp_filter=0',
          'net.ipv4.conf.default.rp_filter=0',
        ]),
      ];
    case 'veth-add': {
      const f = o.iface;
      const m = String(f.mtu);
      const out = [
        ip('link', 'add', f.outer, 'mtu', m, 'type', 'veth', 'peer', 'name', f.inner, 'mtu', m, 'address', f.mac),
        ip('link', 'set', f.inner, 'netns', o.netns),
      ];
      if (f.kind === 'gateway') out.push(ip('addr', 'add', `${L3_NEXT_HOP}/32`, 'dev', f.outer));
      return out;
    }
    case 'transit-add': {
      // Made in the node namespace (its UDP socket stays there, on the underlay), then moved in.
      const t = o.transit;
      return [
        { ...ip('link', 'del', t.dev), allowFail: true },
        ip(
          'link',
          'add',
          t.dev,
          'mtu',
          String(t.mtu),
          'address',
          t.mac,
          'type',
          'vxlan',
          'id',
          String(t.vni),
          ...['local', t.local, 'dstport', String(L3_TRANSIT_PORT), 'nolearning'],
        ),
        ip('link', 'set', t.dev, 'netns', o.netns),
      ];
    }
    case 'neigh-replace':
      return [ip('-n', o.netns, 'neigh', 'replace', o.ip, 'lladdr', o.mac, 'dev', o.dev, 'nud', 'permanent')];
    case 'neigh-del':
      return [ip('-n', o.netns, 'neigh', 'del', o.ip, 'dev', o.dev)];
    case 'fdb-replace':
      return [
        {
          cmd: 'bridge',
          args: ['-n', o.netns, 'fdb', 'replace', o.mac, 'dev', o.dev, 'dst', o.dst, 'self', 'permanent'],
        },
      ];
    case 'fdb-del':
      return [{ cmd: 'bridge', args: ['-n', o.netns, 'fdb', 'del', o.mac, 'dev', o.dev, 'dst', o.dst, 'self'] }];
    case 'rule-add':
      return [ip('-n', o.netns, 'rule', 'add', ...o.rule.split(' '))];
    case 'rule-del':
      return [ip('-n', o.netns, 'rule', 'del', ...o.rule.split(' '))];
    case 'outer-set':
      if (!o.bridge) return [ip('link', 'set', o.outer, 'nomaster', 'up')];
      // The router's MAC stays on its port: routed frames to remote ports pass the bridge by
      // (overlay-bypass.ts), so it would rarely be relearned, and an aged-out MAC is flooded.
      return [
        ip('link', 'set', o.outer, 'master', o.bridge, 'up'),
        { cmd: 'bridge', args: ['fdb', 'replace', o.mac, 'dev', o.outer, 'master', 'static'] },
      ];
    case 'inner-set':
      return [ip('-n', o.netns, 'link', 'set', o.inner, 'address', o.mac, 'mtu', String(o.mtu), o.up ? 'up' : 'down')];
    case 'addr-add':
      return [ip('-n', o.netns, 'addr', 'replace', o.addr, 'dev', o.dev)];
    case 'addr-del':
      return [ip('-n', o.netns, 'addr', 'del', o.addr, 'dev', o.dev)];
    case 'route-replace':
      return [ip('-n', o.netns, 'route', 'replace', ...o.route.split(' '), 'proto', 'static')];
    case 'route-del':
      return [ip('-n', o.netns, 'route', 'del', ...o.route.split(' '), 'proto', 'static')];
    case 'nft-replace':
      return [inNs(o.netns, 'nft', ['-f', '-'], replaceTableScript('ip', o.text))];
    case 'ct-flush':
      // Inbound flows have the floating IP as original destination, outbound ones (SNATed to it) as
      // reply destination. A connection keeps the NAT it started with whatever the table says now.
      return ['--orig-dst', '--reply-dst'].map((dir) => ({
        ...inNs(o.netns, 'conntrack', ['-D', '-f', 'ipv4', dir, o.ip]),
        okWhen: NOTHING_FLUSHED,
      }));
    case 'host-route-replace':
      return [ip('route', 'replace', ...o.route.split(' '), 'proto', 'static')];
    case 'host-route-del':
      return [ip('route', 'del', ...o.route.split(' '), 'proto', 'static')];
    case 'proxy-add':
      return uplink ? [ip('neigh', 'replace', 'proxy', o.ip, 'dev', uplink)] : [];
    case 'proxy-del':
      return uplink ? [ip('neigh', 'del', 'proxy', o.ip, 'dev', uplink)] : [];
    case 'bridge-nft': {
      // The node's bridge, ip and netdev tables (compile.ts renderNodeNft) are replaced together.
      const drop = ['bridge', 'ip', 'netdev']
        .map((f) => `table ${f} ${L3_TABLE}\ndelete table ${f} ${L3_TABLE}\n`)
        .join('');
      return [{ cmd: 'nft', args: ['-f', '-'], input: `${drop}${o.text}` }];
    }
    case 'inner-del':
      return [ip('-n', o.netns, 'link', 'del', o.inner)];
    case 'veth-del':
      return [ip('link', 'del', o.outer)];
    case 'ns-del':
      return [ip('netns', 'del', o.netns)];
  }
}
