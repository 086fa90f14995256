/**
 * Pure: what the driver would read back once a desired L3 state was applied without error. A pass
 * that is not full diffs the new desired state against it instead of reading the kernel (a read is
 * eight programs: on a busy node most of a floating-IP move's latency); full passes still read the
 * kernel, so drift is repaired there.
 */
import { dnatPairs } from './compile.js';
import { emptyActual, type ActualL3, type ActualLink, type DesiredL3 } from './types.js';

export function appliedActual(d: DesiredL3, uplink: ActualL3['uplink']): ActualL3 {
  const a = emptyActual();
  a.uplink = uplink;
  for (const r of d.routers) {
    const links = new Map<string, ActualLink>();
    for (const f of r.ifaces) links.set(f.inner, { mac: f.mac, mtu: f.mtu, up: r.up, addrs: [...f.addrs] });
    const t = r.transit;
    if (t) links.set(t.dev, { mac: t.mac, mtu: t.mtu, up: r.up, addrs: [t.addr] });
    a.namespaces.set(r.netns, {
      links,
      routes: new Set(r.routes),
      nftKey: r.nftKey,
      dnat: new Set(dnatPairs(r.nft)),
      rules: new Set(r.rules),
      // A transit that is down holds no neighbours (diff.ts adds them only while it is up).
      neigh: new Set(t && r.up ? t.peers.map((p) => `${p.hop} ${p.mac}`) : []),
      fdb: new Set(t ? t.peers.map((p) => `${p.mac} ${p.dst}`) : []),
    });
    for (const f of r.ifaces) a.outers.set(f.outer, { master: f.bridge, up: true });
  }
  for (const h of d.hostRoutes) a.hostRoutes.add(h);
  // Proxy entries need the uplink (ops.ts writes none without it).
  if (uplink) for (const ip of d.proxies) a.proxies.add(ip);
  a.bridgeNftKey = d.bridgeNftKey || null;
  return a;
}
