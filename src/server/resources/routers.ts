/**
 * Routers (Neutron's `router` with `ext-gw-mode`, `extraroute` and `external-gateway-multihoming`):
 * gateways in l3/gateways.ts, interfaces (the action routes) in l3/interfaces.ts, routes checked by
 * l3/extra-routes.ts. `external_gateway_info` is the first of `external_gateways`; setting it
 * replaces the first gateway, clearing it (null or {}) removes every gateway. Delete refuses while
 * interfaces remain (RouterInUse) and takes the gateways with it.
 */
import { z } from 'zod';
import type { ExternalGateway, Router } from '../../model/types.js';
import { faults } from '../errors.js';
import {
  assignPresent,
  BASE_ATTRIBUTES,
  newBase,
  ownedOrAdmin,
  zCommon,
  zDescription,
  zId,
  zIp,
  zName,
  zTags,
  type Ctx,
  type ResourceDef,
} from '../resource.js';
import type { WriteTx } from '../store/store.js';
import { canonicalRoutes, checkRoutes } from '../l3/extra-routes.js';
import { applyGateways, checkGatewayPolicy, removeGateways, type GatewayRequest } from '../l3/gateways.js';
import { gatewayPorts, interfacePorts, routerPortStatus } from '../l3/router-ports.js';
import { updateServicePort } from '../l3/service-ports.js';

const zFixedIp = z.strictObject({ subnet_id: zId.optional(), ip_address: zIp.optional() });
export const zGateway = z.strictObject({
  network_id: zId,
  enable_snat: z.boolean().optional(),
  external_fixed_ips: z.array(zFixedIp).max(5).optional(),
});
/** `{}` (what `openstack router unset --external-gateway` sends) or null clears the gateway. */
const zGatewayInfo = z.union([zGateway, z.strictObject({}), z.null()]);
export const zRoutes = z.array(z.strictObject({ destination: z.string().max(64), nexthop: z.string().max(64) }));

const createSchema = z.strictObject({
  ...zCommon,
  admin_state_up: z.boolean().optional(),
  external_gateway_info: zGatewayInfo.optional(),
});

const updateSchema = z.strictObject({
  name: zName.optional(),
  description: zDescription.optional(),
  tags: zTags.optional(),
  admin_state_up: z.boolean().optional(),
  external_gateway_info: zGatewayInfo.optional(),
  routes: zRoutes.nullable().optional(),
});

type GatewayInfoBody = z.output<typeof zGatewayInfo>;

function requested(info: GatewayInfoBody): GatewayRequest | null {
  return info !== null && 'network_id' in info ? (info as GatewayRequest) : null;
}

/** Stores the gateways on the router, `external_gateway_info` mirroring the first. */
export function withGateways(router: Router, gateways: ExternalGateway[]): Router {
  return { ...router, external_gateways: gateways, external_gateway_info: gateways[0] ?? null };
}

/** The gateways as requests (what keeping them unchanged asks for). */
export function asRequests(gateways: readonly ExternalGateway[]): GatewayRequest[] {
  return gateways.map((g) => ({ ...g }));
}

/** Brings the router's interface and gateway ports to the status its admin state gives them. */
async function syncPortStatus(ctx: Ctx, tx: WriteTx, router: Router): Promise<void> {
  const status = routerPortStatus(router);
  for (const p of [...(await interfacePorts(tx, router.id)), ...(await gatewayPorts(tx, router))]) {
    if (p.status !== status) await updateServicePort(ctx, tx, p, { status });
  }
}

/** Re-checks the routes after a change of ports (a gateway change may cut a next hop off). */
export async function checkRouterRoutes(tx: WriteTx, router: Router): Promise<void> {
  if (router.routes.length === 0) return;
  const ports = [...(await interfacePorts(tx, router.id)), ...(await gatewayPorts(tx, router))];
  await checkRoutes(tx, router.id, ports, router.routes);
}

export const routers: ResourceDef<'router', typeof createSchema, typeof updateSchema> = {
  kind: 'router',
  singular: 'router',
  plural: 'routers',
  path: 'routers',
  taggable: true,
  attributes: new Set([
    ...BASE_ATTRIBUTES,
    'admin_state_up',
    'status',
    'external_gateway_info',
    'external_gateways',
    'routes',
  ]),
  createSchema,
  updateSchema,

  async create(ctx, tx, body) {
    const gw = body.external_gateway_info === undefined ? null : requested(body.external_gateway_info);
    if (gw) checkGatewayPolicy(ctx, [gw], 'create_router');
    let router: Router = {
      ...newBase(ctx, body),
      admin_state_up: body.admin_state_up ?? true,
      status: 'ACTIVE',
      external_gateway_info: null,
      external_gateways: [],
      routes: [],
    };
    if (gw) router = withGateways(router, await applyGateways(ctx, tx, router, [gw]));
    await tx.put('router', router, 'create');
    return router;
  },

  async update(ctx, tx, current, body) {
    let next = assignPresent({ ...current }, body, ['name', 'description', 'tags', 'admin_state_up']);
    if (body.external_gateway_info !== undefined) {
      const gw = requested(body.external_gateway_info);
      if (gw) checkGatewayPolicy(ctx, [gw], 'update_router');
      const wanted = gw ? [gw, ...asRequests(current.external_gateways.slice(1))] : [];
      // A new first gateway replaces one of the others when it is on the same network.
      const unique = wanted.filter((w, i) => i === 0 || w.network_id !== wanted[0].network_id);
      next = withGateways(next, await applyGateways(ctx, tx, current, unique));
    }
    if (body.routes !== undefined) next.routes = canonicalRoutes(body.routes ?? []);
    if (body.routes !== undefined || body.external_gateway_info !== undefined) await checkRouterRoutes(tx, next);
    if (next.admin_state_up !== current.admin_state_up) await syncPortStatus(ctx, tx, next);
    return next;
  },

  async remove(_ctx, tx, current) {
    if ((await interfacePorts(tx, current.id)).length > 0) {
      throw faults.conflict('RouterInUse', `Router ${current.id} still has ports`);
    }
    await removeGateways(tx, current);
    await tx.remove('router', current);
  },

  async visibility(ctx: Ctx) {
    return (r) => ownedOrAdmin(ctx, r);
  },
};
