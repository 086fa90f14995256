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
import type { Network, Port, Router } from '../../model/types.js';
import { isVni } from '../../model/vxlan.js';
import type { NodeInfo } from '../datapath/types.js';
import { gwInner, gwOuter, ifaceInner, ifaceOuter, L3_NEXT_HOP, L3_TABLE, routerNetns } from './names.js';
import type { DesiredIface, DesiredL3, DesiredRouter, ServedFip } from './types.js';

export interface L3Node extends NodeInfo {
  /** The node's cloud (the agent's `configurations.cloud`): which external networks are local. */
  cloud: string;
  /** Prefix of the namespaces the agent makes (router namespaces are `<prefix>qr-<id>`). */
  netnsPrefix: string;
}

const byId = <T extends { id: string }>(a: T, b: T): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const isWorkload = (p: Port): boolean => !p.device_owner.startsWith('network:');
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

/**
 * The node of `cloud` that answers for a router's gateway address there: the first (by host id) of
 * the cloud's agents that host the router.
 */
export function gatewayNode(routerId: string, cloud: string, model: ModelView, idx: L3Index): string | null {
  const subnets = new Set<string>();
  for (const p of idx.interfacesByRouter.get(routerId) ?? []) for (const f of p.fixed_ips) subnets.add(f.subnet_id);
  const clouds = new Map<string, string>();
  for (const a of model.agents.values()) clouds.set(a.host, String(a.configurations?.cloud ?? ''));
  let best: string | null = null;
  for (const p of model.ports.values()) {
    const host = p['binding:host_id'];
    if (!host || !isWorkload(p) || clouds.get(host) !== cloud || (best !== null && host >= best)) continue;
    if (p.fixed_ips.some((f) => subnets.has(f.subnet_id))) best = host;
  }
  return best;
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

const cloudOf = (n: Network | undefined): string => (n?.['router:external'] ? (n['hypernet:cloud'] ?? '') : '');

/** The nftables script of a router namespace: floating IPs 1:1, then SNAT of the rest to the gateway. */
export function renderRouterNft(
  gw: { dev: string; ip: string; snat: boolean } | null,
  fips: ServedFip[],
  fixedOf: (f: ServedFip) => string,
): { text: string; key: string } {
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
 * The node's bridge-family table: frames from the overlay never reach a local router end. Each node
 * routes for its own ports, so a frame to the router MAC flooded by another node (its bridge forgot
 * where the router is) is not routed a second time here.
 */
export function renderBridgeNft(): { text: string; key: string } {
  const body = [
    '\tchain forward {',
    '\t\ttype filter hook forward priority -5; policy accept;',
    '\t\tiifname "hnv-*" oifname "hrp*" drop',
    '\t}',
  ].join('\n');
  const key = shortKey(body);
  return { key, text: `table bridge ${L3_TABLE} {\n\tcomment "${key}"\n${body}\n}\n` };
}

function compileRouter(
  node: L3Node,
  model: ModelView,
  idx: L3Index,
  r: Router,
  local: Set<string>,
): { router: DesiredRouter; fips: ServedFip[]; gwAddrs: string[]; gwIp: string | null; gwOut: string | null } {
  const mtu = node.underlayMtu - VXLAN_OVERHEAD;
  const ifaces: DesiredIface[] = [];
  const subnets: { cidr: Cidr; inner: string }[] = [];
  for (const p of [...(idx.interfacesByRouter.get(r.id) ?? [])].sort(byId)) {
    const vni = model.networks.get(p.network_id)?.['provider:segmentation_id'];
    const mac = p.mac_address.toLowerCase();
    const addrs = interfaceAddrs(p, model);
    if (!isVni(vni) || !isMac(mac) || addrs.length === 0) continue;
    const inner = ifaceInner(p.id);
    for (const a of addrs) subnets.push({ cidr: a.cidr, inner });
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
        .find((p) => cloudOf(model.networks.get(p.network_id)) === node.cloud)
    : undefined;
  const gwIp = gwPort?.fixed_ips.map((f) => f.ip_address).find((ip) => isIp(ip, 4));
  const fips: ServedFip[] = [];
  const fixed = new Map<string, string>();
  let gw: { dev: string; ip: string; snat: boolean } | null = null;
  const gwAddrs: string[] = [];
  if (gwPort && gwIp && isMac(gwPort.mac_address.toLowerCase())) {
    const dev = gwInner(gwPort.id);
    const snat = r.external_gateways.find((g) => g.network_id === gwPort.network_id)?.enable_snat ?? true;
    gw = { dev, ip: canonicalIp(gwIp), snat };
    // Floating IPs of this router on its local gateway's network, whose port lives on this node.
    for (const p of [...model.ports.values()].filter((q) => local.has(q.id)).sort(byId)) {
      for (const f of idx.floatingipsByPort.get(p.id) ?? []) {
        const fixedIp = f.fixed_ip_address;
        if (f.router_id !== r.id || f.floating_network_id !== gwPort.network_id) continue;
        if (!isIp(f.floating_ip_address, 4) || !isIp(fixedIp, 4)) continue;
        if (!p.fixed_ips.some((x) => x.ip_address === fixedIp)) continue;
        const sf = { fipId: f.id, ip: canonicalIp(f.floating_ip_address), routerId: r.id };
        fixed.set(f.id, canonicalIp(fixedIp));
        fips.push(sf);
      }
    }
    fips.sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
    gwAddrs.push(gw.ip, ...fips.map((f) => f.ip));
    ifaces.push({
      portId: gwPort.id,
      kind: 'gateway',
      inner: dev,
      outer: gwOuter(gwPort.id),
      bridge: null,
      mac: gwPort.mac_address.toLowerCase(),
      addrs: [...new Set(gwAddrs)].map((ip) => `${ip}/32`),
      mtu: node.underlayMtu,
    });
  }
  const routes: string[] = [];
  if (r.admin_state_up) {
    if (gw) routes.push(`${L3_NEXT_HOP} dev ${gw.dev}`, `default via ${L3_NEXT_HOP} dev ${gw.dev}`);
    for (const x of r.routes) {
      const dst = cidrOf(x.destination);
      const via = subnets.find((s) => cidrContains(s.cidr, x.nexthop));
      if (!dst || dst.version !== 4 || !via || !isIp(x.nexthop, 4)) continue;
      const d = dst.prefix === 32 ? dst.text.slice(0, -3) : dst.text;
      routes.push(`${d} via ${canonicalIp(x.nexthop)} dev ${via.inner}`);
    }
  }
  const nft = renderRouterNft(gw, fips, (f) => fixed.get(f.fipId)!);
  return {
    router: {
      routerId: r.id,
      netns: routerNetns(node.netnsPrefix, r.id),
      up: r.admin_state_up,
      ifaces,
      routes,
      nft: nft.text,
      nftKey: nft.key,
    },
    fips,
    gwAddrs: r.admin_state_up ? [...new Set(gwAddrs)] : [],
    gwIp: gw?.ip ?? null,
    gwOut: gwPort ? gwOuter(gwPort.id) : null,
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
  for (const r of hostedRouters(node.host, model, idx)) {
    const c = compileRouter(node, model, idx, r, local);
    routers.push(c.router);
    if (r.admin_state_up) fips.push(...c.fips);
    // The gateway address is the same on every node of the cloud hosting the router: one of them
    // (the gateway node) answers ARP for it and announces it, so replies to SNATed flows come back
    // to one node, not to whichever answered last. Floating IPs live on one node each.
    const gwNode = gatewayNode(r.id, node.cloud, model, idx) === node.host;
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
  const bridge = routers.length ? renderBridgeNft() : { text: '', key: '' };
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
