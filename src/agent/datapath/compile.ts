/**
 * Pure: (this node, the watched model) → the frozen desired datapath. Per network with a port bound
 * here: bridge + VXLAN, the local taps, head-end replication toward every remote VTEP of the
 * network, and static FDB + permanent neighbour entries for every remote port.
 *
 * Live migration (port bindings): a port with an INACTIVE binding for this node is *prepared* here —
 * its network and tap are wired like a local port's (marked `prepared`, so it is neither reported nor
 * announced) and its MAC gets no static FDB entry toward its active host: unknown unicast floods to
 * every VTEP, so traffic finds the port on either side of the move without waiting for an agent.
 * Hosts holding an inactive binding count as VTEPs of the port's network (they get the flood).
 */
import { inactiveBindings, preparedOn, wiredOn } from '../../model/bindings.js';
import type { Agent, Port } from '../../model/types.js';
import type { ModelView } from '../../model/model-cache.js';
import { deepFreeze } from '../../common/freeze.js';
import { canonicalIp, isIp } from '../../model/grammar/addresses.js';
import { isMac } from '../../model/grammar/mac.js';
import { isVni } from '../../model/vxlan.js';
import { isDhcpPort } from '../dhcp/dhcp-port.js';
import { routedNetworkIds } from '../l3/compile.js';
import { bridgeMac, bridgeName, tapName, VXLAN_OVERHEAD, vxlanName, ZERO_MAC } from '../../model/kernel-names.js';
import type { DesiredNetwork, DesiredPort, DesiredState, FdbEntry, NeighEntry, NodeInfo } from './types.js';

/** Service ports (`network:*`, e.g. DHCP) are wired by their own drivers, not as taps. */
const isWorkloadPort = (p: Port): boolean => !p.device_owner.startsWith('network:');

const byId = <T extends { id: string }>(a: T, b: T): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const byKey = (a: readonly [string, unknown], b: readonly [string, unknown]): number =>
  a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;

/**
 * Underlay IP of every host that has an agent. A tunneling_ip outside the shared address grammar
 * (from an older server: it would be copied into `bridge -batch` lines) makes that host no VTEP.
 */
export function vtepsByHost(model: ModelView): Map<string, string> {
  const out = new Map<string, string>();
  for (const a of [...model.agents.values()].sort(byId)) {
    const ip = vtepOf(a);
    if (ip !== null && !out.has(a.host)) out.set(a.host, ip);
  }
  return out;
}

/**
 * An agent's canonical tunneling IP (null: none valid), memoised per agent object like the ports
 * below: every compile reads every agent, and parsing each address again made this most of a compile
 * at a thousand nodes (bench:scale's profile).
 */
const vteps = new WeakMap<Agent, string | null>();
function vtepOf(a: Agent): string | null {
  let ip = vteps.get(a);
  if (ip === undefined) {
    const t = a.configurations?.tunneling_ip;
    ip = isIp(t) ? canonicalIp(t) : null;
    vteps.set(a, ip);
  }
  return ip;
}

/**
 * Addresses a port answers for: fixed IPs and single-address allowed pairs (CIDRs other than a host
 * prefix skipped). Entries outside the shared grammar (addresses, MACs) are dropped, not rendered.
 */
function portAddresses(p: Port): { ip: string; mac: string }[] {
  const mac = p.mac_address.toLowerCase();
  const out = p.fixed_ips.map((f) => ({ ip: f.ip_address, mac }));
  for (const pair of p.allowed_address_pairs ?? []) {
    const [ip, len] = pair.ip_address.split('/');
    if (len !== undefined && len !== '32' && len !== '128') continue;
    out.push({ ip, mac: (pair.mac_address || mac).toLowerCase() });
  }
  return out.filter((a) => isIp(a.ip) && isMac(a.mac));
}

/**
 * What compile reads of one port, memoised per port object: the model cache keeps the object of a
 * port that did not change, so at 1,000 remote ports a compile no longer re-validates every address
 * and re-creates (and re-freezes) every entry on each model change. The entries a port yields are
 * kept too (by their fields), so unchanged ones come back as the same frozen objects.
 */
interface PortFacts {
  dhcp: boolean;
  addresses: { ip: string; mac: string }[];
  inactiveHosts: string[];
  fdb: FdbEntry[];
  neigh: NeighEntry[];
}
const portFacts = new WeakMap<Port, PortFacts>();

function factsOf(p: Port): PortFacts {
  let f = portFacts.get(p);
  if (!f) {
    const dhcp = isDhcpPort(p);
    f = {
      dhcp,
      addresses: dhcp ? [] : portAddresses(p),
      inactiveHosts: dhcp ? [] : inactiveBindings(p).map((b) => b.host),
      fdb: [],
      neigh: [],
    };
    portFacts.set(p, f);
  }
  return f;
}

/** Entry `e`, or the equal one this port yielded before (a port yields a few: a scan is cheapest). */
function fdbOf(p: Port, e: FdbEntry): FdbEntry {
  const seen = factsOf(p).fdb;
  const hit = seen.find((x) => x.mac === e.mac && x.dev === e.dev && x.dst === e.dst);
  if (hit) return hit;
  seen.push(e);
  return e;
}
function neighOf(p: Port, e: NeighEntry): NeighEntry {
  const seen = factsOf(p).neigh;
  const hit = seen.find((x) => x.ip === e.ip && x.mac === e.mac && x.dev === e.dev);
  if (hit) return hit;
  seen.push(e);
  return e;
}

/**
 * `vteps`: where the VXLAN of each remote host goes (default its underlay IP; the encrypted overlay,
 * src/agent/crypt/, gives an encrypted peer's inner address instead, and leaves out a pair it must cut).
 */
export function compileDatapath(
  node: NodeInfo,
  model: ModelView,
  vteps: ReadonlyMap<string, string> = vtepsByHost(model),
): DesiredState {
  const mtu = node.underlayMtu - VXLAN_OVERHEAD;
  // DHCP never crosses a tunnel: other nodes' DHCP ports get no FDB/neighbour entries here.
  const allPorts = [...model.ports.values()].filter((p) => !factsOf(p).dhcp).sort(byId);
  const local = allPorts.filter((p) => wiredOn(p, node.host) && isWorkloadPort(p));
  // A router hosted here (l3/) routes into each of its subnets: their networks get a bridge here too.
  const netIds = [...new Set([...local.map((p) => p.network_id), ...routedNetworkIds(node.host, model)])].filter((id) =>
    model.networks.has(id),
  );

  const networks: DesiredNetwork[] = [];
  const ports: DesiredPort[] = [];
  const fdb: FdbEntry[] = [];
  const neigh: NeighEntry[] = [];

  for (const netId of netIds) {
    const net = model.networks.get(netId)!;
    const vni = net['provider:segmentation_id'];
    if (!isVni(vni)) continue;
    const dn: DesiredNetwork = {
      networkId: netId,
      vni,
      bridge: bridgeName(vni),
      bridgeMac: bridgeMac(vni),
      vxlan: vxlanName(vni),
      mtu,
      local: node.underlayIp,
    };
    networks.push(dn);

    for (const p of local.filter((q) => q.network_id === netId)) {
      if (!isMac(p.mac_address.toLowerCase())) continue;
      const dp: DesiredPort = {
        portId: p.id,
        networkId: netId,
        tap: tapName(p.id),
        bridge: dn.bridge,
        mtu,
        mac: p.mac_address.toLowerCase(),
        up: p.admin_state_up,
      };
      ports.push(p['binding:host_id'] === node.host ? dp : { ...dp, prepared: true });
    }

    const flood = new Set<string>();
    const macs = new Map<string, { vtep: string; port: Port }>(); // mac → vtep (first port wins)
    const ips = new Map<string, { mac: string; port: Port }>(); // ip → mac (first port wins)
    const remoteVtep = (h: string): string | undefined => {
      const vtep = h && h !== node.host ? vteps.get(h) : undefined;
      return vtep === node.underlayIp ? undefined : vtep;
    };
    for (const p of allPorts) {
      if (p.network_id !== netId) continue;
      const f = factsOf(p);
      for (const h of f.inactiveHosts) {
        const v = remoteVtep(h);
        if (v) flood.add(v);
      }
      const vtep = remoteVtep(p['binding:host_id']);
      if (!vtep) continue;
      flood.add(vtep);
      const preparedHere = preparedOn(p, node.host);
      for (const a of f.addresses) {
        if (!macs.has(a.mac) && !preparedHere) macs.set(a.mac, { vtep, port: p });
        if (!ips.has(a.ip)) ips.set(a.ip, { mac: a.mac, port: p });
      }
    }
    for (const dst of [...flood].sort()) fdb.push({ mac: ZERO_MAC, dev: dn.vxlan, dst });
    // By key with a comparator (keys are unique): sort() without one stringifies each pair per comparison.
    const dev = dn.vxlan;
    for (const [mac, { vtep: dst, port }] of [...macs].sort(byKey)) {
      fdb.push(fdbOf(port, { mac, dev, dst }));
      fdb.push(fdbOf(port, { mac, dev, dst: null }));
    }
    const br = dn.bridge;
    for (const [ip, { mac, port }] of [...ips].sort(byKey)) neigh.push(neighOf(port, { ip, mac, dev: br }));
  }

  networks.sort((a, b) => a.vni - b.vni);
  return deepFreeze({ networks, ports, fdb, neigh });
}
