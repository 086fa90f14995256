/**
 * Pure: (this node, its cloud, the watched model) → the frozen desired L3 state of the node.
 *
 * A router lives on every node with a workload port on one of its subnets (distributed, as DVR and
 * OVN route): a namespace of its own (no VRF in this kernel; two tenants' overlapping CIDRs stay
 * apart), one veth per interface port with the port's MAC and the subnet gateway addresses, the same
 * on every node, its node end on the subnet's bridge. When the router has a gateway on this node's
 * cloud, a gateway veth (node end routed, not bridged) carries its gateway address and the floating
 * IPs served here, the router namespace SNATs what leaves through it and DNATs its floating IPs.
 * A floating IP is served on the node of its port when its external network is that node's cloud.
 * Addresses and CIDRs go through the shared grammar: what does not parse is left out, not rendered.
 */
import { createHash } from 'node:crypto';
import { deepFreeze } from '../../common/freeze.js';
import { wiredOn } from '../../model/bindings.js';
import { canonicalIp, cidrContains, isIp, parseCidr, type Cidr } from '../../model/grammar/addresses.js';
import { isMac } from '../../model/grammar/mac.js';
import { bridgeName, VXLAN_OVERHEAD } from '../../model/kernel-names.js';
import { buildL3Index, type L3Index } from '../../model/l3-index.js';
import type { ModelView } from '../../model/model-cache.js';
import type { Port, Router } from '../../model/types.js';
import { isVni } from '../../model/vxlan.js';
import type { NodeInfo } from '../datapath/types.js';
import {
  FIP_TABLE,
  gwInner,
  gwOuter,
  IFACE_INNER_PREFIX,
  ifaceInner,
  ifaceOuter,
  L3_NEXT_HOP,
  L3_TABLE,
  RULE_FIP_PREF,
  RULE_MAIN_PREF,
  routerNetns,
  transitHop,
  transitTable,
} from './names.js';
import {
  agentClouds,
  cloudOfNetwork,
  egressOf,
  gatewayNodes,
  isWorkload,
  transitOf,
  type GatewayNode,
} from './transit.js';
import { remoteMacs, renderBypass, type RoutedPort } from './overlay-bypass.js';
import type { DesiredIface, DesiredL3, DesiredRouter, DesiredTransit, ServedFip } from './types.js';

export { gatewayNode } from './transit.js';

export interface L3Node extends NodeInfo {
  /** The node's cloud (the agent's `configurations.cloud`): which external networks are local. */
  cloud: string;
  /** Prefix of the namespaces the agent makes (router namespaces are `<prefix>qr-<id>`). */
  netnsPrefix: string;
}

const byId = <T extends { id: string }>(a: T, b: T): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const shortKey = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 16);

function cidrOf(text: string | undefined): Cidr | null {
  try {
    return text ? parseCidr(text, false) : null;
  } catch {
    return null;
  }
}

/** Subnets with a workload port of this node: where routers must be present here. */
function localSubnets(host: string, model: ModelView): Set<string> {
  const out = new Set<string>();
  for (const p of model.ports.values())
    if (isWorkload(p) && wiredOn(p, host)) for (const f of p.fixed_ips) out.add(f.subnet_id);
  return out;
}

/** Routers present on this node: those with an interface on a subnet of a local workload port. */
export function hostedRouters(host: string, model: ModelView, idx: L3Index = buildL3Index(model)): Router[] {
  const ids = new Set<string>();
  for (const s of localSubnets(host, model)) for (const r of idx.routersBySubnet.get(s) ?? []) ids.add(r);
  return [...ids]
    .map((id) => model.routers.get(id))
    .filter((r): r is Router => !!r)
    .sort(byId);
}

/** Networks the hosted routers' interfaces are on: the datapath makes their bridges here too. */
export function routedNetworkIds(host: string, model: ModelView): string[] {
  if (model.routers.size === 0) return [];
  const idx = buildL3Index(model);
  const out = new Set<string>();
  for (const r of hostedRouters(host, model, idx))
    for (const p of idx.interfacesByRouter.get(r.id) ?? []) out.add(p.network_id);
  return [...out].sort();
}

/** The IPv4 `ip/len` addresses of an interface port, each with its subnet's prefix length. */
function interfaceAddrs(p: Port, model: ModelView): { addr: string; cidr: Cidr }[] {
  const out: { addr: string; cidr: Cidr }[] = [];
  for (const f of p.fixed_ips) {
    const cidr = cidrOf(model.subnets.get(f.subnet_id)?.cidr);
    if (!cidr || cidr.version !== 4 || !isIp(f.ip_address, 4) || !cidrContains(cidr, f.ip_address)) continue;
    out.push({ addr: `${canonicalIp(f.ip_address)}/${cidr.prefix}`, cidr });
  }
  return out;
}

/**
 * The 1:1 NATs (`FLOATING FIXED`, sorted) of a router namespace's table, from the script rendered
 * below or from what `nft list table` prints of it (the same rule text).
 */
export function dnatPairs(nftText: string): string[] {
  return [...nftText.matchAll(/ip daddr (\S+) dnat (?:ip )?to (\S+)/g)].map((m) => `${m[1]} ${m[2]}`).sort();
}

/**
 * The nftables script of a router namespace: floating IPs 1:1, then SNAT of the rest to the gateway.
 * East-west (from an interface to one of the router's subnets) needs no NAT and is not tracked,
 * except from a fixed address with a floating IP: a reply to a flow DNATed here must be un-DNATed.
 */
export function renderRouterNft(
  gw: { dev: string; ip: string; snat: boolean } | null,
  fips: ServedFip[],
  fixedOf: (f: ServedFip) => string,
  eastWest: { subnets: readonly string[]; natted: readonly string[] } = { subnets: [], natted: [] },
): { text: string; key: string } {
  const raw: string[] = [];
  if (eastWest.subnets.length) {
    const from = eastWest.natted.length ? ` ip saddr != { ${eastWest.natted.join(', ')} }` : '';
    raw.push(`iifname "${IFACE_INNER_PREFIX}*" ip daddr { ${eastWest.subnets.join(', ')} }${from} notrack`);
  }
  const pre: string[] = [];
  const post: string[] = [];
  if (gw) {
    for (const f of fips) {
      pre.push(`ip daddr ${f.ip} dnat to ${fixedOf(f)}`);
      post.push(`oifname "${gw.dev}" ip saddr ${fixedOf(f)} snat to ${f.ip}`);
    }
    if (gw.snat) post.push(`oifname "${gw.dev}" snat to ${gw.ip}`);
  }
  const body = [
    ...(raw.length
      ? [
          '\tchain raw {',
          '\t\ttype filter hook prerouting priority raw; policy accept;',
          ...raw.map((r) => `\t\t${r}`),
          '\t}',
        ]
      : []),
    '\tchain prerouting {',
    '\t\ttype nat hook prerouting priority dstnat; policy accept;',
    ...pre.map((r) => `\t\t${r}`),
    '\t}',
    '\tchain postrouting {',
    '\t\ttype nat hook postrouting priority srcnat; policy accept;',
    ...post.map((r) => `\t\t${r}`),
    '\t}',
  ].join('\n');
  const key = shortKey(body);
  return { key, text: `table ip ${L3_TABLE} {\n\tcomment "${key}"\n${body}\n}\n` };
}

/**
 * The node's tables (one key, in the bridge table's comment). The bridge table: frames from the
 * overlay never reach a local router end. Each node routes for its own ports, so a frame to the router
 * MAC flooded by another node is not routed a second time here. The ip table: what the node only
 * routes between its uplink and the gateway veths (to the gateway and floating addresses served here,
 * and from the routers) is not tracked: the router namespace tracks and NATs it, and a second
 * conntrack entry in the node (there whenever the firewall uses conntrack) was pure cost. The netdev
 * table (`bypass`, overlay-bypass.ts) sends routed frames to remote ports past the bridge.
 */
export function renderNodeNft(addrs: readonly string[], bypass: readonly string[] = []): { text: string; key: string } {
  const bridge = [
    '\tchain forward {',
    '\t\ttype filter hook forward priority -5; policy accept;',
    '\t\tiifname "hnv-*" oifname "hrp*" drop',
    '\t}',
  ].join('\n');
  const ip = [
    '\tchain raw_prerouting {',
    '\t\ttype filter hook prerouting priority raw; policy accept;',
    '\t\tiifname "hrg*" notrack',
    ...(addrs.length ? [`\t\tip daddr { ${addrs.join(', ')} } notrack`] : []),
    '\t}',
  ].join('\n');
  const netdev = bypass.length ? `table netdev ${L3_TABLE} {\n${bypass.join('\n')}\n}\n` : '';
  const key = shortKey(`${bridge}\n${ip}\n${netdev}`);
  return {
    key,
    text: `table bridge ${L3_TABLE} {\n\tcomment "${key}"\n${bridge}\n}\ntable ip ${L3_TABLE} {\n${ip}\n}\n${netdev}`,
  };
}

/** A fixed address with a floating IP, and where its traffic must leave: its own gateway veth or a gateway node. */
interface FipSource {
  fixed: string;
  via: 'local' | GatewayNode;
}

/**
 * The routes and rules of a router namespace: connected to the gateway veth, the default (`egress`),
 * extra routes, and for each floating IP's fixed address whose way out is not the default, a table
 * of its own behind a rule (the main table, without its default, still routes east-west first).
 */
function routingOf(
  r: Router,
  gwDev: string | null,
  transit: DesiredTransit | null,
  egress: 'local' | GatewayNode | null,
  sources: FipSource[],
  subnets: { cidr: Cidr; inner: string }[],
): { routes: string[]; rules: string[] } {
  const routes: string[] = [];
  const rules: string[] = [];
  if (!r.admin_state_up) return { routes, rules };
  const defaultOf = (via: 'local' | GatewayNode): string | null =>
    via === 'local'
      ? gwDev && `default via ${L3_NEXT_HOP} dev ${gwDev}`
      : transit && `default via ${transitHop(via.index)} dev ${transit.dev}`;
  if (gwDev) routes.push(`${L3_NEXT_HOP} dev ${gwDev}`);
  const main = egress ? defaultOf(egress) : null;
  if (main) routes.push(main);
  const tables = new Map<number, string>();
  const seen = new Set<string>();
  for (const s of [...sources].sort((x, y) => (x.fixed < y.fixed ? -1 : x.fixed > y.fixed ? 1 : 0))) {
    const route = defaultOf(s.via);
    if (seen.has(s.fixed) || !route || route === main) continue;
    seen.add(s.fixed);
    const table = s.via === 'local' ? FIP_TABLE : transitTable(s.via.index);
    tables.set(table, `${route} table ${table}`);
    rules.push(`pref ${RULE_FIP_PREF} from ${s.fixed} lookup ${table}`);
  }
  if (rules.length) rules.unshift(`pref ${RULE_MAIN_PREF} lookup main suppress_prefixlength 0`);
  routes.push(...[...tables].sort(([x], [y]) => x - y).map(([, route]) => route));
  for (const x of r.routes) {
    const dst = cidrOf(x.destination);
    const via = subnets.find((s) => cidrContains(s.cidr, x.nexthop));
    if (!dst || dst.version !== 4 || !via || !isIp(x.nexthop, 4)) continue;
    const d = dst.prefix === 32 ? dst.text.slice(0, -3) : dst.text;
    routes.push(`${d} via ${canonicalIp(x.nexthop)} dev ${via.inner}`);
  }
  return { routes, rules };
}

function compileRouter(
  node: L3Node,
  model: ModelView,
  idx: L3Index,
  r: Router,
  local: Set<string>,
  clouds: Map<string, string>,
): {
  router: DesiredRouter;
  fips: ServedFip[];
  gwAddrs: string[];
  gwIp: string | null;
  gwOut: string | null;
  gwNode: boolean;
  routed: RoutedPort[];
} {
  const mtu = node.underlayMtu - VXLAN_OVERHEAD;
  const ifaces: DesiredIface[] = [];
  const routed: RoutedPort[] = [];
  const subnets: { cidr: Cidr; inner: string }[] = [];
  for (const p of [...(idx.interfacesByRouter.get(r.id) ?? [])].sort(byId)) {
    const vni = model.networks.get(p.network_id)?.['provider:segmentation_id'];
    const mac = p.mac_address.toLowerCase();
    const addrs = interfaceAddrs(p, model);
    if (!isVni(vni) || !isMac(mac) || addrs.length === 0) continue;
    const inner = ifaceInner(p.id);
    for (const a of addrs) subnets.push({ cidr: a.cidr, inner });
    routed.push({ outer: ifaceOuter(p.id), networkId: p.network_id, vni });
    ifaces.push({
      portId: p.id,
      kind: 'interface',
      inner,
      outer: ifaceOuter(p.id),
      bridge: bridgeName(vni),
      mac,
      addrs: addrs.map((a) => a.addr),
      mtu,
    });
  }
  const gwPort = node.cloud
    ? [...(idx.gatewaysByRouter.get(r.id) ?? [])]
        .sort(byId)
        .find((p) => cloudOfNetwork(model.networks.get(p.network_id)) === node.cloud)
    : undefined;
  const gwIp = gwPort?.fixed_ips.map((f) => f.ip_address).find((ip) => isIp(ip, 4));
  const gws = gatewayNodes(r, model, idx, clouds);
  const gwNode = gws.some((g) => g.cloud === node.cloud && g.host === node.host);
  const transit = transitOf(r, node, mtu, gws);
  const fips: ServedFip[] = [];
  const sources: FipSource[] = [];
  const fixed = new Map<string, string>();
  let gw: { dev: string; ip: string; snat: boolean } | null = null;
  const gwAddrs: string[] = [];
  if (gwPort && gwIp && isMac(gwPort.mac_address.toLowerCase())) {
    const dev = gwInner(gwPort.id);
    const snat = r.external_gateways.find((g) => g.network_id === gwPort.network_id)?.enable_snat ?? true;
    gw = { dev, ip: canonicalIp(gwIp), snat };
  }
  // Floating IPs of this router: served here when on this cloud's external network and their port
  // lives here, or (on the cloud's gateway node) lives in another cloud; a local port's floating IP
  // of another cloud is served by that cloud's gateway node, where its fixed address's traffic goes.
  for (const f of [...model.floatingips.values()].sort(byId)) {
    const p = f.port_id ? model.ports.get(f.port_id) : undefined;
    const fixedIp = f.fixed_ip_address;
    if (!p || f.router_id !== r.id || !isIp(f.floating_ip_address, 4) || !isIp(fixedIp, 4)) continue;
    if (!p.fixed_ips.some((x) => x.ip_address === fixedIp)) continue;
    const host = p['binding:host_id'];
    const here = local.has(p.id);
    const fipCloud = cloudOfNetwork(model.networks.get(f.floating_network_id));
    if (gw && gwPort && f.floating_network_id === gwPort.network_id) {
      const remote = gwNode && isWorkload(p) && !!host && clouds.get(host) !== node.cloud;
      if (!here && !remote) continue;
      fips.push({ fipId: f.id, ip: canonicalIp(f.floating_ip_address), routerId: r.id });
      fixed.set(f.id, canonicalIp(fixedIp));
      if (here) sources.push({ fixed: canonicalIp(fixedIp), via: 'local' });
    } else if (here && fipCloud !== node.cloud) {
      const g = gws.find((x) => x.cloud === fipCloud);
      if (g) sources.push({ fixed: canonicalIp(fixedIp), via: g });
    }
  }
  if (gw && gwPort) {
    fips.sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
    gwAddrs.push(gw.ip, ...fips.map((f) => f.ip));
    ifaces.push({
      portId: gwPort.id,
      kind: 'gateway',
      inner: gw.dev,
      outer: gwOuter(gwPort.id),
      bridge: null,
      mac: gwPort.mac_address.toLowerCase(),
      addrs: [...new Set(gwAddrs)].map((ip) => `${ip}/32`),
      mtu: node.underlayMtu,
    });
  }
  const egress = egressOf(node.host, node.cloud, !!gw, gws);
  const { routes, rules } = routingOf(r, gw?.dev ?? null, transit, egress, sources, subnets);
  const natted = [...new Set([...fixed.values(), ...sources.map((x) => x.fixed)])].sort();
  const internal = [...new Set(subnets.map((x) => x.cidr.text))].sort();
  const nft = renderRouterNft(gw, fips, (f) => fixed.get(f.fipId)!, { subnets: internal, natted });
  return {
    router: {
      routerId: r.id,
      netns: routerNetns(node.netnsPrefix, r.id),
      up: r.admin_state_up,
      ifaces,
      routes,
      rules,
      transit,
      nft: nft.text,
      nftKey: nft.key,
    },
    fips,
    gwAddrs: r.admin_state_up ? [...new Set(gwAddrs)] : [],
    gwIp: gw?.ip ?? null,
    gwOut: gwPort ? gwOuter(gwPort.id) : null,
    gwNode,
    routed,
  };
}

export function compileL3(node: L3Node, model: ModelView): DesiredL3 {
  const idx = buildL3Index(model);
  const local = new Set<string>();
  for (const p of model.ports.values()) if (isWorkload(p) && wiredOn(p, node.host)) local.add(p.id);
  const routers: DesiredRouter[] = [];
  const hostRoutes: string[] = [];
  const proxies = new Set<string>();
  const fips: ServedFip[] = [];
  const routed: RoutedPort[] = [];
  const clouds = agentClouds(model);
  for (const r of hostedRouters(node.host, model, idx)) {
    const c = compileRouter(node, model, idx, r, local, clouds);
    routers.push(c.router);
    if (r.admin_state_up) routed.push(...c.routed);
    if (r.admin_state_up) fips.push(...c.fips);
    // The gateway address is the same on every node of the cloud hosting the router: one of them
    // (the gateway node) answers ARP for it and announces it, so replies to SNATed flows come back
    // to one node, not to whichever answered last. Floating IPs live on one node each.
    const gwNode = c.gwNode;
    for (const ip of c.gwAddrs) {
      hostRoutes.push(`${ip} dev ${c.gwOut}`);
      if (ip !== c.gwIp || gwNode) proxies.add(ip);
    }
    if (gwNode && c.gwIp && r.admin_state_up) fips.push({ fipId: `gateway:${r.id}`, ip: c.gwIp, routerId: r.id });
  }
  const externalCidrs: string[] = [];
  for (const s of model.subnets.values())
    if (model.networks.get(s.network_id)?.['router:external'] && cidrOf(s.cidr)?.version === 4)
      externalCidrs.push(cidrOf(s.cidr)!.text);
  const served = [...new Set(hostRoutes.map((r) => r.split(' ')[0]!))].sort();
  const remote = remoteMacs(node.host, model, new Set(routed.map((p) => p.networkId)));
  const bridge = routers.length ? renderNodeNft(served, renderBypass(routed, remote)) : { text: '', key: '' };
  return deepFreeze({
    routers,
    hostRoutes,
    proxies: [...proxies].sort(),
    fips,
    bridgeNft: bridge.text,
    bridgeNftKey: bridge.key,
    externalCidrs: externalCidrs.sort(),
  });
}
