/**
 * Indexes over the L3 part of the model that the agent's router, SNAT and floating-IP compilers look
 * things up by: a router's interface and gateway ports, the routers on a subnet, the floating IPs of
 * a port, the external networks of a cloud. Pure, built from the tables in one pass.
 */
import { OWNER_ROUTER_GATEWAY, OWNER_ROUTER_INTERFACE } from './device-owners.js';
import type { FloatingIp, Network, Port } from './types.js';

export interface L3Input {
  readonly networks: ReadonlyMap<string, Network>;
  readonly ports: ReadonlyMap<string, Port>;
  readonly floatingips: ReadonlyMap<string, FloatingIp>;
}

export interface L3Index {
  /** Router id → its interface ports (`network:router_interface`). */
  readonly interfacesByRouter: ReadonlyMap<string, readonly Port[]>;
  /** Router id → its gateway ports (`network:router_gateway`), one per cloud. */
  readonly gatewaysByRouter: ReadonlyMap<string, readonly Port[]>;
  /** Subnet id → ids of the routers with an interface on it. */
  readonly routersBySubnet: ReadonlyMap<string, readonly string[]>;
  /** Port id → the floating IPs associated with it. */
  readonly floatingipsByPort: ReadonlyMap<string, readonly FloatingIp[]>;
  /** Cloud ('' = none) → its external networks. */
  readonly externalNetworksByCloud: ReadonlyMap<string, readonly Network[]>;
}

function push<V>(m: Map<string, V[]>, k: string, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

export function buildL3Index(m: L3Input): L3Index {
  const interfacesByRouter = new Map<string, Port[]>();
  const gatewaysByRouter = new Map<string, Port[]>();
  const routersBySubnet = new Map<string, string[]>();
  for (const p of m.ports.values()) {
    if (p.device_owner === OWNER_ROUTER_INTERFACE && p.device_id) {
      push(interfacesByRouter, p.device_id, p);
      for (const f of p.fixed_ips) {
        const routers = routersBySubnet.get(f.subnet_id);
        if (!routers?.includes(p.device_id)) push(routersBySubnet, f.subnet_id, p.device_id);
      }
    } else if (p.device_owner === OWNER_ROUTER_GATEWAY && p.device_id) push(gatewaysByRouter, p.device_id, p);
  }
  const floatingipsByPort = new Map<string, FloatingIp[]>();
  for (const f of m.floatingips.values()) if (f.port_id) push(floatingipsByPort, f.port_id, f);
  const externalNetworksByCloud = new Map<string, Network[]>();
  for (const n of m.networks.values())
    if (n['router:external']) push(externalNetworksByCloud, n['hypernet:cloud'] ?? '', n);
  return { interfacesByRouter, gatewaysByRouter, routersBySubnet, floatingipsByPort, externalNetworksByCloud };
}
