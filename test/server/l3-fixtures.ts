/**
 * Shared steps of the router and floating-IP tests, over the real HTTP API: an external network of
 * a cloud with one subnet, a tenant network with a subnet, router actions.
 */
import type { ApiClient } from '../../src/client/api.js';
import type { Network, Port, Router, Subnet } from '../../src/model/types.js';

/** An admin and two tenants (token auth). */
export const L3_TOKENS = {
  ADMIN: { project_id: 'ops', roles: ['admin'] },
  ALICE: { project_id: 'pa', roles: ['member'] },
  BOB: { project_id: 'pb', roles: ['member'] },
};

export interface Net {
  net: Network;
  subnet: Subnet;
}

/** An external network (admin call) in `cloud` with one subnet of documentation addresses. */
export async function externalNet(
  admin: ApiClient,
  name: string,
  cidr: string,
  cloud = '',
  pool?: { start: string; end: string },
): Promise<Net> {
  const net = await admin.create<Network>('networks', 'network', {
    name,
    'router:external': true,
    'hypernet:cloud': cloud,
  });
  const subnet = await admin.create<Subnet>('subnets', 'subnet', {
    network_id: net.id,
    cidr,
    enable_dhcp: false,
    ...(pool ? { allocation_pools: [pool] } : {}),
  });
  return { net, subnet };
}

export async function tenantNet(c: ApiClient, name: string, cidr: string, extra: Record<string, unknown> = {}) {
  const net = await c.create<Network>('networks', 'network', { name });
  const subnet = await c.create<Subnet>('subnets', 'subnet', { network_id: net.id, cidr, ...extra });
  return { net, subnet };
}

export interface InterfaceInfo {
  id: string;
  port_id: string;
  subnet_id: string;
  subnet_ids: string[];
  network_id: string;
  project_id: string;
}

export function addInterface(c: ApiClient, routerId: string, body: Record<string, string>) {
  return c.call<InterfaceInfo>('PUT', `/v2.0/routers/${routerId}/add_router_interface`, body);
}

export function removeInterface(c: ApiClient, routerId: string, body: Record<string, string>) {
  return c.call<InterfaceInfo>('PUT', `/v2.0/routers/${routerId}/remove_router_interface`, body);
}

export async function routerAction(c: ApiClient, routerId: string, action: string, router: Record<string, unknown>) {
  return (await c.call<{ router: Router }>('PUT', `/v2.0/routers/${routerId}/${action}`, { router })).router;
}

/** The router's ports with one device_owner. */
export async function routerPorts(admin: ApiClient, routerId: string, owner: string): Promise<Port[]> {
  return admin.list<Port>('ports', { device_id: routerId, device_owner: owner });
}
