/**
 * Neutron's port bindings extension (`binding-extended`), admin only like Neutron's policy:
 *   GET    /v2.0/ports/{id}/bindings                 → {"bindings": [...]}
 *                                                       (filters: host, status, vif_type, vnic_type)
 *   GET    /v2.0/ports/{id}/bindings/{host}          → {"binding": {...}}
 *   POST   /v2.0/ports/{id}/bindings                 {"binding": {"host", "vnic_type"?, "profile"?}} → 201
 *   PUT    /v2.0/ports/{id}/bindings/{host}/activate → 200 {"binding": {...}} (status ACTIVE)
 *   DELETE /v2.0/ports/{id}/bindings/{host}          → 204 (inactive bindings only)
 * A new binding is INACTIVE when the port already has an active host (a migration target the host's
 * agent prepares), ACTIVE otherwise. Activation makes the target the port's `binding:*` and the
 * previous active binding INACTIVE (the caller deletes it once the move is done), in one update of
 * the port, so the watch stream carries it as one port event. The changes themselves are pure
 * functions in bindings/port-binding.ts; this file is their HTTP face.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { inactiveBindings, portBindings } from '../model/bindings.js';
import type { Port } from '../model/types.js';
import type { WriteTx } from './store/store.js';
import { faults } from './errors.js';
import { mustGet, type Ctx } from './resource.js';
import { ports } from './resources/ports.js';
import { contextOf, envelope, queryOf, validate, type RouteDeps } from './routes.js';
import { storeUpdate } from './store-update.js';
import { checkCustomRouteProfile, withCustomRouteUserData } from './bindings/custom-route.js';
import { activateBinding, addBinding, bindingFaults, dropInactive, newBinding } from './bindings/port-binding.js';

const createSchema = z.strictObject({
  host: z.string().min(1).max(255),
  vnic_type: z
    .enum([
      'normal',
      'direct',
      'macvtap',
      'baremetal',
      'direct-physical',
      'virtio-forwarder',
      'smart-nic',
      'remote-managed',
    ])
    .optional(),
  profile: z.record(z.string(), z.unknown()).nullable().optional(),
});

const FILTERS = ['host', 'status', 'vif_type', 'vnic_type'] as const;

export function registerPortBindings(app: FastifyInstance, deps: RouteDeps): void {
  const base = '/v2.0/ports/:id/bindings';
  type P = { Params: { id: string; host?: string } };
  const adminCtx = (req: Parameters<typeof contextOf>[1]): Ctx => {
    const ctx = contextOf(deps, req);
    if (!ctx.caller.isAdmin) throw faults.forbidden('(rule:port_binding) is disallowed by policy: admin only');
    return ctx;
  };
  /** One write on the port: `fn` returns the changed port (stored as an update) and the answer. */
  const change = <T>(ctx: Ctx, id: string, fn: (tx: WriteTx, p: Port) => Promise<{ port: Port; out: T }>): Promise<T> =>
    deps.store.write(async (tx) => {
      const { port, out } = await fn(tx, await mustGet(tx, 'port', id));
      await withCustomRouteUserData(tx, port);
      await storeUpdate(ports, ctx, tx, port);
      return out;
    });

  app.get<P>(base, async (req) => {
    adminCtx(req);
    const port = await deps.store.read((tx) => mustGet(tx, 'port', req.params.id));
    const q = queryOf(req);
    for (const k of Object.keys(q)) {
      if (k !== 'fields' && !(FILTERS as readonly string[]).includes(k))
        throw faults.badRequest(`${k} is invalid attribute for filtering`, 'HTTPBadRequest');
    }
    const bindings = portBindings(port).filter((b) =>
      FILTERS.every((k) => q[k] === undefined || q[k]!.includes(String(b[k]))),
    );
    return { bindings };
  });

  app.get<P>(`${base}/:host`, async (req) => {
    adminCtx(req);
    const port = await deps.store.read((tx) => mustGet(tx, 'port', req.params.id));
    const b = portBindings(port).find((x) => x.host === req.params.host);
    if (!b) throw bindingFaults.notFound(port.id, req.params.host!);
    return { binding: b };
  });

  app.post<P>(base, async (req, reply) => {
    const ctx = adminCtx(req);
    const body = validate(createSchema, envelope(req.body, 'binding'), 'binding');
    checkCustomRouteProfile(body.profile);
    const binding = await change(ctx, req.params.id, async (tx, port) => {
      if (portBindings(port).some((b) => b.host === body.host)) throw bindingFaults.exists(port.id, body.host);
      const b = await newBinding(tx, port, body.host, body);
      return { port: addBinding(port, b), out: b };
    });
    return reply.code(201).send({ binding });
  });

  app.put<P>(`${base}/:host/activate`, async (req) => {
    const ctx = adminCtx(req);
    const host = req.params.host!;
    const binding = await change(ctx, req.params.id, async (_tx, port) => {
      const r = activateBinding(port, host);
      return { port: r.port, out: r.active };
    });
    return { binding };
  });

  app.delete<P>(`${base}/:host`, async (req, reply) => {
    const ctx = adminCtx(req);
    const host = req.params.host!;
    await change(ctx, req.params.id, async (_tx, port) => {
      if (!inactiveBindings(port).some((b) => b.host === host)) throw bindingFaults.notFound(port.id, host);
      return { port: dropInactive(port, host), out: undefined };
    });
    return reply.code(204).send();
  });
}
