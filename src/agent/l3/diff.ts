/**
 * Pure: desired L3 state vs what the driver read → ordered operations. Adds first (namespace → veth
 * → node end on its bridge → inner end → addresses → transit and its peers → routes → rules → NAT
 * table → the connections of its 1:1 NATs that went away → node routes → proxy ARP → bridge table),
 * deletions in reverse (proxy ARP → routes → veths → namespaces). Only what is recognisably ours is
 * deleted: router namespaces of our prefix (the driver reads no others), `hrp`/`hrg` node links,
 * static routes, proxy entries inside an external subnet on the underlay interface.
 */
import { cidrContains, parseCidr } from '../../model/grammar/addresses.js';
import { dnatPairs } from './compile.js';
import { routeDev } from './names.js';
import type { L3Op } from './ops.js';
import type { ActualL3, ActualRouterNs, DesiredL3, DesiredRouter } from './types.js';

function diffRouter(d: DesiredRouter, a: ActualRouterNs | undefined, actual: ActualL3, ops: L3Op[]): void {
  if (!a) ops.push({ op: 'ns-add', netns: d.netns });
  for (const f of d.ifaces) {
    const link = a?.links.get(f.inner);
    const outer = actual.outers.get(f.outer);
    if (!link || !outer) {
      if (outer) ops.push({ op: 'veth-del', outer: f.outer });
      if (link) ops.push({ op: 'inner-del', netns: d.netns, inner: f.inner });
      ops.push({ op: 'veth-add', netns: d.netns, iface: f });
    }
    if (!outer || outer.master !== f.bridge || !outer.up)
      ops.push({ op: 'outer-set', outer: f.outer, bridge: f.bridge, mac: f.mac });
    if (!link || link.mac !== f.mac || link.mtu !== f.mtu || link.up !== d.up)
      ops.push({ op: 'inner-set', netns: d.netns, inner: f.inner, mac: f.mac, mtu: f.mtu, up: d.up });
    const have = new Set(link?.addrs ?? []);
    for (const addr of f.addrs) if (!have.has(addr)) ops.push({ op: 'addr-add', netns: d.netns, dev: f.inner, addr });
    for (const addr of have)
      if (!f.addrs.includes(addr)) ops.push({ op: 'addr-del', netns: d.netns, dev: f.inner, addr });
  }
  diffTransit(d, a, ops);
  // Links of interfaces (and a transit) that went away (a veth's peer goes with it).
  const wanted = new Set(d.ifaces.map((f) => f.inner));
  if (d.transit) wanted.add(d.transit.dev);
  for (const name of [...(a?.links.keys() ?? [])].sort())
    if (!wanted.has(name)) ops.push({ op: 'inner-del', netns: d.netns, inner: name });
  const routes = a?.routes ?? new Set<string>();
  for (const r of d.routes) if (!routes.has(r)) ops.push({ op: 'route-replace', netns: d.netns, route: r });
  for (const r of [...routes].sort())
    if (!d.routes.includes(r) && wanted.has(routeDev(r))) ops.push({ op: 'route-del', netns: d.netns, route: r });
  const rules = a?.rules ?? new Set<string>();
  for (const r of [...rules].sort()) if (!d.rules.includes(r)) ops.push({ op: 'rule-del', netns: d.netns, rule: r });
  for (const r of d.rules) if (!rules.has(r)) ops.push({ op: 'rule-add', netns: d.netns, rule: r });
  if (a?.nftKey !== d.nftKey) ops.push({ op: 'nft-replace', netns: d.netns, text: d.nft });
  // After the new table: a connection NATed by a pair that is gone would otherwise keep reaching
  // (or leaving as) the old port, e.g. a long ping to a floating IP moved to another port.
  const pairs = new Set(dnatPairs(d.nft));
  const flushed = new Set<string>();
  for (const pair of [...(a?.dnat ?? [])].sort()) {
    const fip = pair.split(' ')[0]!;
    if (pairs.has(pair) || flushed.has(fip)) continue;
    flushed.add(fip);
    ops.push({ op: 'ct-flush', netns: d.netns, ip: fip });
  }
}

/** The transit VXLAN: made, set like an inner end, addressed, and its peers' neighbours and entries. */
function diffTransit(d: DesiredRouter, a: ActualRouterNs | undefined, ops: L3Op[]): void {
  const t = d.transit;
  const link = t ? a?.links.get(t.dev) : undefined;
  if (t) {
    if (!link) ops.push({ op: 'transit-add', netns: d.netns, transit: t });
    if (!link || link.mac !== t.mac || link.mtu !== t.mtu || link.up !== d.up)
      ops.push({ op: 'inner-set', netns: d.netns, inner: t.dev, mac: t.mac, mtu: t.mtu, up: d.up });
    if (!link?.addrs.includes(t.addr)) ops.push({ op: 'addr-add', netns: d.netns, dev: t.dev, addr: t.addr });
    for (const x of link?.addrs ?? [])
      if (x !== t.addr) ops.push({ op: 'addr-del', netns: d.netns, dev: t.dev, addr: x });
  }
  // A link set down loses its neighbours (not its entries): they come back when it is up again.
  const neigh = new Map((t?.peers ?? []).map((p) => [`${p.hop} ${p.mac}`, p]));
  const fdb = new Map((t?.peers ?? []).map((p) => [`${p.mac} ${p.dst}`, p]));
  if (t && link) {
    for (const k of [...(a?.neigh ?? [])].sort()) {
      const [ip, mac] = k.split(' ') as [string, string];
      if (!neigh.has(k)) ops.push({ op: 'neigh-del', netns: d.netns, dev: t.dev, ip, mac });
    }
    for (const k of [...(a?.fdb ?? [])].sort()) {
      const [mac, dst] = k.split(' ') as [string, string];
      if (!fdb.has(k)) ops.push({ op: 'fdb-del', netns: d.netns, dev: t.dev, mac, dst });
    }
  }
  if (!t) return;
  for (const [k, p] of fdb)
    if (!a?.fdb.has(k)) ops.push({ op: 'fdb-replace', netns: d.netns, dev: t.dev, mac: p.mac, dst: p.dst });
  if (!d.up) return;
  for (const [k, p] of neigh)
    if (!a?.neigh.has(k)) ops.push({ op: 'neigh-replace', netns: d.netns, dev: t.dev, ip: p.hop, mac: p.mac });
}

export function diffL3(desired: DesiredL3, actual: ActualL3): L3Op[] {
  const ops: L3Op[] = [];
  for (const d of desired.routers) diffRouter(d, actual.namespaces.get(d.netns), actual, ops);
  for (const r of desired.hostRoutes) if (!actual.hostRoutes.has(r)) ops.push({ op: 'host-route-replace', route: r });
  for (const ip of desired.proxies) if (!actual.proxies.has(ip)) ops.push({ op: 'proxy-add', ip });
  if (actual.bridgeNftKey !== (desired.bridgeNftKey || null)) ops.push({ op: 'bridge-nft', text: desired.bridgeNft });

  // Deletions, in reverse; every deletion goes in sorted order, so the operations do not depend on
  // the order the state was read or remembered in (a kernel read and appliedActual must agree).
  const external = desired.externalCidrs.map((c) => parseCidr(c));
  for (const ip of [...actual.proxies].sort())
    if (!desired.proxies.includes(ip) && external.some((c) => cidrContains(c, ip))) ops.push({ op: 'proxy-del', ip });
  for (const r of [...actual.hostRoutes].sort())
    if (!desired.hostRoutes.includes(r)) ops.push({ op: 'host-route-del', route: r });
  const wantedOuters = new Set(desired.routers.flatMap((d) => d.ifaces.map((f) => f.outer)));
  for (const o of [...actual.outers.keys()].sort()) if (!wantedOuters.has(o)) ops.push({ op: 'veth-del', outer: o });
  const wantedNs = new Set(desired.routers.map((d) => d.netns));
  for (const ns of [...actual.namespaces.keys()].sort()) if (!wantedNs.has(ns)) ops.push({ op: 'ns-del', netns: ns });
  return ops;
}
