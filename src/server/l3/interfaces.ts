/**
 * `PUT /routers/{id}/add_router_interface` and `remove_router_interface`, Neutron's way: by subnet
 * (a new `network:router_interface` port holding the subnet's gateway_ip) or by an unattached port
 * of the caller's. Removing refuses while floating IPs or extra routes go through the interface;
 * removing by subnet drops only that subnet's address when the port holds several.
 */
import { OWNER_ROUTER_INTERFACE } from '../../model/device-owners.js';
import type { Port, Router, Subnet } from '../../model/types.js';
import type { WriteTx } from '../store/store.js';
import { faults } from '../errors.js';
import { cidrContains, parseCidr } from '../ipam/cidr.js';
import { mustGet, type Ctx } from '../resource.js';
import { deletePortInTx, ports } from '../resources/ports.js';
import { subnets } from '../resources/subnets.js';
import { gatewayPorts, interfacePorts, routerPortStatus } from './router-ports.js';
import { createServicePort, updateServicePort } from './service-ports.js';
import { badRouter, checkRouterSubnets } from './subnet-overlap.js';

export interface InterfaceRequest {
  subnet_id?: string;
  port_id?: string;
}

/** Neutron's answer to add/remove_router_interface. */
export interface InterfaceInfo {
  id: string;
  tenant_id: string;
  project_id: string;
  port_id: string;
  network_id: string;
  subnet_id: string;
  subnet_ids: string[];
}

function infoOf(router: Router, port: Port, subnetIds: string[]): InterfaceInfo {
  return {
    id: router.id,
    tenant_id: port.project_id,
    project_id: port.project_id,
    port_id: port.id,
    network_id: port.network_id,
    subnet_id: subnetIds[subnetIds.length - 1] ?? '',
    subnet_ids: subnetIds,
  };
}

/** What oslo's is_uuid_like accepts: 32 hex digits, dashes optional. */
const UUID_LIKE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

function checkRequest(req: InterfaceRequest, removing: boolean): void {
  if (req.subnet_id === undefined && req.port_id === undefined)
    throw badRouter('Either subnet_id or port_id must be specified');
  // Neutron checks the ids' form first, so a malformed one is 400 rather than 404.
  for (const id of [req.port_id, req.subnet_id]) {
    if (id !== undefined && !UUID_LIKE.test(id)) throw badRouter(`'${id}' is not a valid UUID`);
  }
  if (!removing && req.subnet_id !== undefined && req.port_id !== undefined)
    throw badRouter('Cannot specify both subnet-id and port-id');
}

async function subnetsOf(tx: WriteTx, port: Port): Promise<Subnet[]> {
  const out: Subnet[] = [];
  for (const f of port.fixed_ips) {
    const s = await tx.get('subnet', f.subnet_id);
    if (s && !out.some((o) => o.id === s.id)) out.push(s);
  }
  return out;
}

export async function addInterface(
  ctx: Ctx,
  tx: WriteTx,
  router: Router,
  req: InterfaceRequest,
): Promise<InterfaceInfo> {
  checkRequest(req, false);
  const routerPorts = [...(await interfacePorts(tx, router.id)), ...(await gatewayPorts(tx, router))];
  if (req.port_id !== undefined) {
    const port = await mustGet(tx, 'port', req.port_id, await ports.visibility(ctx, tx));
    if (!ctx.caller.isAdmin && port.project_id !== ctx.caller.projectId) throw faults.notFound('port', req.port_id);
    if (port.device_id !== '') {
      throw faults.conflict(
        'PortInUse',
        `Unable to complete operation on port ${port.id} for network ${port.network_id}. Port already has an ` +
          `attached device ${port.device_id}.`,
      );
    }
    if (port.fixed_ips.length === 0) throw badRouter('Router port must have at least one fixed IP');
    const held = await subnetsOf(tx, port);
    if (held.filter((s) => s.ip_version === 4).length > 1)
      throw badRouter('Cannot have multiple IPv4 subnets on router port');
    await checkRouterSubnets(tx, routerPorts, held);
    const updated = await updateServicePort(ctx, tx, port, {
      device_id: router.id,
      device_owner: OWNER_ROUTER_INTERFACE,
      status: routerPortStatus(router),
    });
    return infoOf(
      router,
      updated,
      held.map((s) => s.id),
    );
  }
  const subnet = await mustGet(tx, 'subnet', req.subnet_id!, await subnets.visibility(ctx, tx));
  if (!subnet.gateway_ip) throw badRouter('Subnet for router interface must have a gateway IP');
  if (!ctx.caller.isAdmin && subnet.project_id !== ctx.caller.projectId) {
    throw badRouter(
      `Cannot add interface to router because subnet ${subnet.id} is not owned by project making the request`,
    );
  }
  await checkRouterSubnets(tx, routerPorts, [subnet]);
  const port = await createServicePort(ctx, tx, {
    networkId: subnet.network_id,
    projectId: router.project_id,
    deviceOwner: OWNER_ROUTER_INTERFACE,
    deviceId: router.id,
    fixedIps: [{ subnet_id: subnet.id, ip_address: subnet.gateway_ip }],
    status: routerPortStatus(router),
  });
  return infoOf(router, port, [subnet.id]);
}

/** Refuses to cut a subnet off a router while floating IPs or extra routes need it. */
async function checkNotInUse(tx: WriteTx, router: Router, subnet: Subnet): Promise<void> {
  const c = parseCidr(subnet.cidr);
  const fips = (await tx.list('floatingip')).filter((f) => f.router_id === router.id);
  if (fips.some((f) => f.fixed_ip_address !== null && cidrContains(c, f.fixed_ip_address))) {
    throw faults.conflict(
      'RouterInterfaceInUseByFloatingIP',
      `Router interface for subnet ${subnet.id} on router ${router.id} cannot be deleted, as it is required by ` +
        'one or more floating IPs.',
    );
  }
  if (router.routes.some((r) => cidrContains(c, r.nexthop))) {
    throw faults.conflict(
      'RouterInterfaceInUseByRoute',
      `Router interface for subnet ${subnet.id} on router ${router.id} cannot be deleted, as it is required by ` +
        'one or more routes.',
    );
  }
}

export async function removeInterface(
  ctx: Ctx,
  tx: WriteTx,
  router: Router,
  req: InterfaceRequest,
): Promise<InterfaceInfo> {
  checkRequest(req, true);
  const mine = await interfacePorts(tx, router.id);
  if (req.port_id !== undefined) {
    const port = mine.find((p) => p.id === req.port_id);
    if (!port) {
      throw faults.missing(
        'RouterInterfaceNotFound',
        `Router ${router.id} does not have an interface with id ${req.port_id}`,
      );
    }
    const held = await subnetsOf(tx, port);
    if (req.subnet_id !== undefined && !held.some((s) => s.id === req.subnet_id)) {
      throw faults.badRequest(
        `Subnet on port ${port.id} does not match the requested subnet ${req.subnet_id}.`,
        'SubnetMismatchForPort',
      );
    }
    for (const s of held) await checkNotInUse(tx, router, s);
    await deletePortInTx(tx, port);
    return infoOf(
      router,
      port,
      held.map((s) => s.id),
    );
  }
  const subnetId = req.subnet_id!;
  const port = mine.find((p) => p.fixed_ips.some((f) => f.subnet_id === subnetId));
  const subnet = await tx.get('subnet', subnetId);
  if (!port || !subnet) {
    throw faults.missing(
      'RouterInterfaceNotFoundForSubnet',
      `Router ${router.id} has no interface on subnet ${subnetId}`,
    );
  }
  await checkNotInUse(tx, router, subnet);
  const rest = port.fixed_ips.filter((f) => f.subnet_id !== subnetId);
  if (rest.length === 0) await deletePortInTx(tx, port);
  else await updateServicePort(ctx, tx, port, { fixed_ips: rest });
  return infoOf(router, port, [subnetId]);
}
