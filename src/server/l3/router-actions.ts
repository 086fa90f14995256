/**
 * The router member actions, each `PUT /v2.0/routers/{id}/<action>` in one store transaction:
 *   add_router_interface / remove_router_interface   {"subnet_id"} or {"port_id"} → the interface info
 *   add_external_gateways / remove_external_gateways / update_external_gateways
 *       {"router": {"external_gateways": [...]}} → {"router": ...}   (external-gateway-multihoming)
 *   add_extraroutes / remove_extraroutes   {"router": {"routes": [...]}} → {"router": ...}   (extraroute-atomic)
 * Only the router's project (or an admin) may act on it; every change bumps the router's revision,
 * so agents see a router event whenever its interfaces or gateways change.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { HostRoute, Router } from '../../model/types.js';
import { faults } from '../errors.js';
import { mustGet, zId, zIp, type Ctx } from '../resource.js';
import { contextOf, envelope, validate, type RouteDeps } from '../routes.js';
import { storeUpdate } from '../store-update.js';
import type { WriteTx } from '../store/store.js';
import { asRequests, checkRouterRoutes, routers, withGateways, zGateway, zRoutes } from '../resources/routers.js';
import { canonicalRoutes, checkRoutes } from './extra-routes.js';
import { applyGateways, checkGatewayPolicy, type GatewayRequest } from './gateways.js';
import { addInterface, removeInterface } from './interfaces.js';
import { gatewayPort, gatewayPorts, interfacePorts } from './router-ports.js';

const zInterface = z.strictObject({ subnet_id: zId.optional(), port_id: zId.optional() });
const zGateways = z.strictObject({ external_gateways: z.array(zGateway).max(16) });
const zGatewayMatch = z.strictObject({
  network_id: zId,
  external_fixed_ips: z.array(z.strictObject({ subnet_id: zId.optional(), ip_address: zIp.optional() })).optional(),
});
const zRemoveGateways = z.strictObject({ external_gateways: z.array(zGatewayMatch).max(16) });
const zRoutesBody = z.strictObject({ routes: zRoutes });

type P = { Params: { id: string } };

function unmatched(routerId: string) {
  return faults.badRequest(
    `Unable to match a requested gateway port to existing gateway ports for router ${routerId}`,
    'UnableToMatchGateways',
  );
}

/** Finds the router's gateway a request names (by network, and by addresses when it gives them). */
async function matchGateway(tx: WriteTx, router: Router, m: z.output<typeof zGatewayMatch>): Promise<number> {
  const i = router.external_gateways.findIndex((g) => g.network_id === m.network_id);
  if (i < 0) throw unmatched(router.id);
  if (m.external_fixed_ips !== undefined) {
    const port = await gatewayPort(tx, router.id, m.network_id);
    const ok = m.external_fixed_ips.every((w) =>
      port?.fixed_ips.some(
        (f) =>
          (w.subnet_id === undefined || w.subnet_id === f.subnet_id) &&
          (w.ip_address === undefined || w.ip_address === f.ip_address),
      ),
    );
    if (!ok) throw unmatched(router.id);
  }
  return i;
}

const routeKey = (r: HostRoute) => `${r.destination} ${r.nexthop}`;

export function registerRouterActions(app: FastifyInstance, deps: RouteDeps): void {
  /** Runs `fn` on the caller's router in one transaction, then stores the router as an update. */
  const act = async <T>(
    req: FastifyRequest<P>,
    fn: (ctx: Ctx, tx: WriteTx, router: Router) => Promise<{ router: Router; answer: (r: Router) => T }>,
  ): Promise<T> => {
    const ctx = contextOf(deps, req);
    return deps.store.write(async (tx) => {
      const router = await mustGet(tx, 'router', req.params.id, await routers.visibility(ctx, tx));
      const { router: next, answer } = await fn(ctx, tx, router);
      return answer(await storeUpdate(routers, ctx, tx, next));
    });
  };
  const base = '/v2.0/routers/:id';
  const routerBody = (req: FastifyRequest, schema: z.ZodType<Record<string, unknown>>) =>
    validate(schema, envelope(req.body, 'router'), 'router');

  for (const adding of [true, false]) {
    app.put<P>(`${base}/${adding ? 'add' : 'remove'}_router_interface`, async (req) => {
      const body = validate(zInterface, req.body, 'router interface');
      return act(req, async (ctx, tx, router) => {
        const info = adding ? await addInterface(ctx, tx, router, body) : await removeInterface(ctx, tx, router, body);
        return { router, answer: () => info };
      });
    });
  }

  app.put<P>(`${base}/add_external_gateways`, async (req) => {
    const body = routerBody(req, zGateways) as z.output<typeof zGateways>;
    return act(req, async (ctx, tx, router) => {
      checkGatewayPolicy(ctx, body.external_gateways, 'add_external_gateways');
      const wanted = [...asRequests(router.external_gateways), ...body.external_gateways];
      const next = withGateways(router, await applyGateways(ctx, tx, router, wanted));
      return { router: next, answer: (r) => ({ router: r }) };
    });
  });

  app.put<P>(`${base}/remove_external_gateways`, async (req) => {
    const body = routerBody(req, zRemoveGateways) as z.output<typeof zRemoveGateways>;
    return act(req, async (ctx, tx, router) => {
      const drop = new Set<number>();
      for (const m of body.external_gateways) drop.add(await matchGateway(tx, router, m));
      const wanted = asRequests(router.external_gateways).filter((_, i) => !drop.has(i));
      const next = withGateways(router, await applyGateways(ctx, tx, router, wanted));
      await checkRouterRoutes(tx, next);
      return { router: next, answer: (r) => ({ router: r }) };
    });
  });

  app.put<P>(`${base}/update_external_gateways`, async (req) => {
    const body = routerBody(req, zGateways) as z.output<typeof zGateways>;
    return act(req, async (ctx, tx, router) => {
      checkGatewayPolicy(ctx, body.external_gateways, 'update_external_gateways');
      const wanted: GatewayRequest[] = asRequests(router.external_gateways);
      for (const g of body.external_gateways) {
        const i = await matchGateway(tx, router, { network_id: g.network_id });
        wanted[i] = {
          network_id: g.network_id,
          enable_snat: g.enable_snat ?? wanted[i].enable_snat,
          external_fixed_ips: g.external_fixed_ips ?? wanted[i].external_fixed_ips,
        };
      }
      const next = withGateways(router, await applyGateways(ctx, tx, router, wanted));
      await checkRouterRoutes(tx, next);
      return { router: next, answer: (r) => ({ router: r }) };
    });
  });

  for (const adding of [true, false]) {
    app.put<P>(`${base}/${adding ? 'add' : 'remove'}_extraroutes`, async (req) => {
      const body = routerBody(req, zRoutesBody) as z.output<typeof zRoutesBody>;
      return act(req, async (_ctx, tx, router) => {
        const given = canonicalRoutes(body.routes);
        const keys = new Set(given.map(routeKey));
        const routes = adding
          ? [...router.routes, ...given.filter((r) => !router.routes.some((o) => routeKey(o) === routeKey(r)))]
          : router.routes.filter((r) => !keys.has(routeKey(r)));
        if (adding) {
          const ports = [...(await interfacePorts(tx, router.id)), ...(await gatewayPorts(tx, router))];
          await checkRoutes(tx, router.id, ports, routes);
        }
        return { router: { ...router, routes }, answer: (r) => ({ router: r }) };
      });
    });
  }
}
