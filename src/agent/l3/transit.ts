/**
 * Pure: where a router's traffic leaves when it cannot leave on this node. Each cloud with a gateway
 * of the router has one gateway node (it answers ARP for the gateway address, so only its conntrack
 * sees the replies); every other node sends its egress there over the router's transit VXLAN: its own
 * cloud's gateway node first, else the first other cloud's (by cloud name). A floating IP whose
 * external network is another cloud's is served by that cloud's gateway node, and its port's node
 * sends the fixed address's traffic back there, so the one conntrack entry sees both directions.
 */
import type { L3Index } from '../../model/l3-index.js';
import type { ModelView } from '../../model/model-cache.js';
import type { Network, Port, Router } from '../../model/types.js';
import { L3_TRANSIT_ADDR, transitHop, transitMac, transitName, transitVni } from './names.js';
import type { DesiredTransit } from './types.js';

/** A router's gateway node in one cloud; `index` numbers its transit next hop and routing table. */
export interface GatewayNode {
  cloud: string;
  host: string;
  /** Its underlay IP (the agent's `tunneling_ip`): the transit's VTEP. */
  ip: string;
  index: number;
}

export const isWorkload = (p: Port): boolean => !p.device_owner.startsWith('network:');

export const cloudOfNetwork = (n: Network | undefined): string =>
  n?.['router:external'] ? (n['hypernet:cloud'] ?? '') : '';

/** Host → cloud, from the agents. */
export function agentClouds(model: ModelView): Map<string, string> {
  const out = new Map<string, string>();
  for (const a of model.agents.values()) out.set(a.host, String(a.configurations?.cloud ?? ''));
  return out;
}

/**
 * The node of `cloud` that answers for a router's gateway address there: the first (by host id) of
 * the cloud's agents that host the router.
 */
export function gatewayNode(
  routerId: string,
  cloud: string,
  model: ModelView,
  idx: L3Index,
  clouds: Map<string, string> = agentClouds(model),
): string | null {
  const subnets = new Set<string>();
  for (const p of idx.interfacesByRouter.get(routerId) ?? []) for (const f of p.fixed_ips) subnets.add(f.subnet_id);
  let best: string | null = null;
  for (const p of model.ports.values()) {
    const host = p['binding:host_id'];
    if (!host || !isWorkload(p) || clouds.get(host) !== cloud || (best !== null && host >= best)) continue;
    if (p.fixed_ips.some((f) => subnets.has(f.subnet_id))) best = host;
  }
  return best;
}

/** The router's gateway nodes, one per cloud it has a gateway in (and a node hosting it), by cloud. */
export function gatewayNodes(r: Router, model: ModelView, idx: L3Index, clouds: Map<string, string>): GatewayNode[] {
  const gwClouds = new Set<string>();
  for (const p of idx.gatewaysByRouter.get(r.id) ?? []) {
    const c = cloudOfNetwork(model.networks.get(p.network_id));
    if (c) gwClouds.add(c);
  }
  const ips = new Map<string, string>();
  for (const a of model.agents.values()) ips.set(a.host, String(a.configurations?.tunneling_ip ?? ''));
  const out: GatewayNode[] = [];
  for (const cloud of [...gwClouds].sort()) {
    const host = gatewayNode(r.id, cloud, model, idx, clouds);
    const ip = host ? ips.get(host) : undefined;
    if (host && ip) out.push({ cloud, host, ip, index: out.length });
  }
  return out;
}

/**
 * Where this node's egress of the router goes: `local` (its own gateway veth: it is its cloud's
 * gateway node, or its cloud's gateway node is unknown), a gateway node over the transit, or nowhere.
 */
export function egressOf(
  host: string,
  cloud: string,
  hasLocalGateway: boolean,
  gws: readonly GatewayNode[],
): 'local' | GatewayNode | null {
  const own = gws.find((g) => g.cloud === cloud);
  if (hasLocalGateway && (!own || own.host === host)) return 'local';
  return own ?? gws.find((g) => g.host !== host) ?? null;
}

/** The transit of a router on this node: present wherever the router has a gateway node to reach or be. */
export function transitOf(
  r: Router,
  node: { host: string; underlayIp: string },
  mtu: number,
  gws: readonly GatewayNode[],
): DesiredTransit | null {
  if (gws.length === 0) return null;
  return {
    dev: transitName(r.id),
    vni: transitVni(r.id),
    mac: transitMac(r.id, node.host),
    mtu,
    local: node.underlayIp,
    addr: L3_TRANSIT_ADDR,
    peers: gws
      .filter((g) => g.host !== node.host)
      .map((g) => ({ hop: transitHop(g.index), mac: transitMac(r.id, g.host), dst: g.ip })),
  };
}
