/**
 * A model of what the L3 operations do to the kernel, for the pure tests: carries out ops.ts's
 * operations on an ActualL3 as the kernel would (a veth goes with its peer and its namespace, routes
 * and proxy-free host routes go with their device, a link set down loses its routes and neighbours,
 * a transit's neighbours and entries go with it; a table's 1:1 NATs are those of its script).
 */
import { routeDev, TRANSIT_PREFIX } from '../../../src/agent/l3/names.js';
import { dnatPairs } from '../../../src/agent/l3/compile.js';
import type { L3Op } from '../../../src/agent/l3/ops.js';
import type { ActualL3 } from '../../../src/agent/l3/types.js';

const peerOf = (name: string): string =>
  name.startsWith('qr-') ? `hrp${name.slice(3)}` : name.startsWith('qg-') ? `hrg${name.slice(3)}` : '';
const keyOf = (text: string): string | null => /comment "([0-9a-f]+)"/.exec(text)?.[1] ?? null;

function dropDevRoutes(routes: Set<string>, dev: string): void {
  for (const r of [...routes]) if (routeDev(r) === dev) routes.delete(r);
}

const emptyNs = () => ({
  links: new Map(),
  routes: new Set<string>(),
  nftKey: null,
  dnat: new Set<string>(),
  rules: new Set<string>(),
  neigh: new Set<string>(),
  fdb: new Set<string>(),
});

function dropInner(a: ActualL3, netns: string, inner: string): void {
  const ns = a.namespaces.get(netns);
  if (!ns?.links.delete(inner)) return;
  dropDevRoutes(ns.routes, inner);
  if (inner.startsWith(TRANSIT_PREFIX)) {
    ns.neigh.clear();
    ns.fdb.clear();
  }
  a.outers.delete(peerOf(inner));
  dropDevRoutes(a.hostRoutes, peerOf(inner));
}

export function cloneActual(a: ActualL3): ActualL3 {
  return {
    namespaces: new Map(
      [...a.namespaces].map(([k, v]) => [
        k,
        {
          links: new Map([...v.links].map(([n, l]) => [n, { ...l, addrs: [...l.addrs] }])),
          routes: new Set(v.routes),
          nftKey: v.nftKey,
          dnat: new Set(v.dnat),
          rules: new Set(v.rules),
          neigh: new Set(v.neigh),
          fdb: new Set(v.fdb),
        },
      ]),
    ),
    outers: new Map([...a.outers].map(([k, v]) => [k, { ...v }])),
    hostRoutes: new Set(a.hostRoutes),
    proxies: new Set(a.proxies),
    bridgeNftKey: a.bridgeNftKey,
    uplink: a.uplink,
  };
}

/** The kernel after `ops`, from `before` (not changed). */
export function simulate(before: ActualL3, ops: readonly L3Op[]): ActualL3 {
  const a = cloneActual(before);
  for (const o of ops) {
    switch (o.op) {
      case 'ns-add':
        a.namespaces.set(o.netns, emptyNs());
        break;
      case 'veth-add':
        a.namespaces
          .get(o.netns)!
          .links.set(o.iface.inner, { mac: o.iface.mac, mtu: o.iface.mtu, up: false, addrs: [] });
        a.outers.set(o.iface.outer, { master: null, up: false });
        break;
      case 'transit-add':
        a.namespaces
          .get(o.netns)!
          .links.set(o.transit.dev, { mac: o.transit.mac, mtu: o.transit.mtu, up: false, addrs: [] });
        break;
      case 'neigh-replace':
        a.namespaces.get(o.netns)!.neigh.add(`${o.ip} ${o.mac}`);
        break;
      case 'neigh-del':
        a.namespaces.get(o.netns)?.neigh.delete(`${o.ip} ${o.mac}`);
        break;
      case 'fdb-replace':
        a.namespaces.get(o.netns)!.fdb.add(`${o.mac} ${o.dst}`);
        break;
      case 'fdb-del':
        a.namespaces.get(o.netns)?.fdb.delete(`${o.mac} ${o.dst}`);
        break;
      case 'rule-add':
        a.namespaces.get(o.netns)!.rules.add(o.rule);
        break;
      case 'rule-del':
        a.namespaces.get(o.netns)?.rules.delete(o.rule);
        break;
      case 'outer-set':
        a.outers.set(o.outer, { master: o.bridge, up: true });
        break;
      case 'inner-set': {
        const ns = a.namespaces.get(o.netns)!;
        ns.links.set(o.inner, { ...ns.links.get(o.inner)!, mac: o.mac, mtu: o.mtu, up: o.up });
        if (!o.up) dropDevRoutes(ns.routes, o.inner);
        if (!o.up && o.inner.startsWith(TRANSIT_PREFIX)) ns.neigh.clear();
        break;
      }
      case 'addr-add': {
        const l = a.namespaces.get(o.netns)!.links.get(o.dev)!;
        if (!l.addrs.includes(o.addr)) l.addrs.push(o.addr);
        break;
      }
      case 'addr-del': {
        const l = a.namespaces.get(o.netns)!.links.get(o.dev)!;
        l.addrs = l.addrs.filter((x) => x !== o.addr);
        break;
      }
      case 'route-replace':
        a.namespaces.get(o.netns)!.routes.add(o.route);
        break;
      case 'route-del':
        a.namespaces.get(o.netns)?.routes.delete(o.route);
        break;
      case 'nft-replace': {
        const ns = a.namespaces.get(o.netns)!;
        ns.nftKey = keyOf(o.text);
        ns.dnat = new Set(dnatPairs(o.text));
        break;
      }
      case 'ct-flush':
        // Connections are not part of the state compared: nothing to model.
        break;
      case 'host-route-replace':
        a.hostRoutes.add(o.route);
        break;
      case 'host-route-del':
        a.hostRoutes.delete(o.route);
        break;
      case 'proxy-add':
        a.proxies.add(o.ip);
        break;
      case 'proxy-del':
        a.proxies.delete(o.ip);
        break;
      case 'bridge-nft':
        a.bridgeNftKey = o.text ? keyOf(o.text) : null;
        break;
      case 'inner-del':
        dropInner(a, o.netns, o.inner);
        break;
      case 'veth-del':
        for (const [netns, ns] of a.namespaces)
          for (const name of [...ns.links.keys()]) if (peerOf(name) === o.outer) dropInner(a, netns, name);
        a.outers.delete(o.outer);
        dropDevRoutes(a.hostRoutes, o.outer);
        break;
      case 'ns-del': {
        const ns = a.namespaces.get(o.netns);
        for (const name of ns?.links.keys() ?? []) {
          a.outers.delete(peerOf(name));
          dropDevRoutes(a.hostRoutes, peerOf(name));
        }
        a.namespaces.delete(o.netns);
        break;
      }
    }
  }
  return a;
}

/** Sorted plain data, for deepEqual between two simulated kernels. */
export function plain(a: ActualL3): unknown {
  return {
    namespaces: [...a.namespaces]
      .sort(([x], [y]) => (x < y ? -1 : 1))
      .map(([k, v]) => [
        k,
        [...v.links].sort(([x], [y]) => (x < y ? -1 : 1)).map(([n, l]) => [n, { ...l, addrs: [...l.addrs].sort() }]),
        [...v.routes].sort(),
        v.nftKey,
        [...v.dnat].sort(),
        [...v.rules].sort(),
        [...v.neigh].sort(),
        [...v.fdb].sort(),
      ]),
    outers: [...a.outers].sort(([x], [y]) => (x < y ? -1 : 1)),
    hostRoutes: [...a.hostRoutes].sort(),
    proxies: [...a.proxies].sort(),
    bridgeNftKey: a.bridgeNftKey,
  };
}
