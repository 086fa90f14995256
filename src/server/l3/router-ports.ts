/**
 * Finding a router's ports. Interfaces and gateways are plain ports whose `device_id` is the router,
 * told apart by `device_owner`; gateway ports are looked up on the router's external networks only,
 * interfaces over every port (a store index by device would make this cheaper; noted in routers.md).
 */
import { OWNER_ROUTER_GATEWAY, OWNER_ROUTER_INTERFACE } from '../../model/device-owners.js';
import type { Port, Router } from '../../model/types.js';
import type { ReadTx } from '../store/store.js';

export async function interfacePorts(tx: ReadTx, routerId: string): Promise<Port[]> {
  return (await tx.list('port')).filter((p) => p.device_id === routerId && p.device_owner === OWNER_ROUTER_INTERFACE);
}

/** The gateway port of a router on one external network, if any. */
export async function gatewayPort(tx: ReadTx, routerId: string, networkId: string): Promise<Port | undefined> {
  return (await tx.list('port', networkId)).find(
    (p) => p.device_id === routerId && p.device_owner === OWNER_ROUTER_GATEWAY,
  );
}

export async function gatewayPorts(tx: ReadTx, router: Router): Promise<Port[]> {
  const out: Port[] = [];
  for (const g of router.external_gateways) {
    const p = await gatewayPort(tx, router.id, g.network_id);
    if (p) out.push(p);
  }
  return out;
}

/**
 * The status of a router's interface and gateway ports. A router is distributed (every node with a
 * port on its subnets answers for it, as OVN's router ports), so no single node reports its ports up:
 * they are ACTIVE while the router is administratively up, as OVN marks router-type ports up.
 */
export function routerPortStatus(router: Pick<Router, 'admin_state_up'>): 'ACTIVE' | 'DOWN' {
  return router.admin_state_up ? 'ACTIVE' : 'DOWN';
}

/** Routers with an interface on `subnetId` (looked up on the subnet's network). */
export async function routersOnSubnet(tx: ReadTx, networkId: string, subnetId: string): Promise<string[]> {
  const ids = (await tx.list('port', networkId))
    .filter((p) => p.device_owner === OWNER_ROUTER_INTERFACE && p.fixed_ips.some((f) => f.subnet_id === subnetId))
    .map((p) => p.device_id);
  return [...new Set(ids)];
}
