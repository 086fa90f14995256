/**
 * The hypernet agentless extensions on the wire, in Neutron's conventions (reusing the generic layer's
 * envelope, validation, sorting, pagination and `fields=`):
 *   /v2.0/agentlessports[/{id}]   POST 201 · GET list/show · DELETE 204 · PUT {"cloud"[, "flavor"]}: move
 *                                 the port to another cloud (200, the new user_data); other updates 400
 *   /v2.0/hyperswitches[/{id}]    POST 201 · GET list/show · DELETE 204 (no update: PUT is 405)
 *   /v2.0/hyperswitches/{id}/vpn  GET, admin only: the VPN configuration the hyperswitch's agent polls;
 *                                 PUT {"vpn": {"serving": [port ids]}}, admin only: what its agent serves
 * List filters of the agentless design go down to the provider (agentless ports: name/id, port_id,
 * device_id, private_ip, tenant_id/project_id, index; hyperswitches: name/id, tenant_id/project_id,
 * device_id); any other attribute filters as usual, unknown ones are a 400.
 * Tenancy: a non-admin lists, shows, moves and deletes only its project's entities (others' are 404),
 * and names only devices of its own project (./devices.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { FLAVORS, type Flavor } from '../../model/agentless-config.js';
import { VPN_TYPES } from '../../model/agentless.js';
import { faults } from '../errors.js';
import { applyFields, applyFilters, applyPagination, applySort, type Query } from '../query.js';
import { zId } from '../resource.js';
import { contextOf, envelope, hrefBase, queryOf, validate, type RouteDeps } from '../routes.js';
import type { AgentlessService } from './service.js';

export const AGENTLESS_EXTENSIONS = [
  {
    alias: 'agentlessport',
    name: 'Agentless ports',
    description: 'Hyper ports reached by a stock OpenVPN client from a provider VM (hypernet agentless).',
  },
  {
    alias: 'hyperswitch',
    name: 'Hyperswitches',
    description: 'Provider VMs running the hypernet agent and the OpenVPN servers of agentless ports.',
  },
] as const;

export const AGENTLESS_RESOURCES = [
  { singular: 'agentlessport', plural: 'agentlessports', path: 'agentlessports' },
  { singular: 'hyperswitch', plural: 'hyperswitches', path: 'hyperswitches' },
] as const;

const PORT_ATTRS = new Set([
  'id',
  'port_id',
  'flavor',
  'device_id',
  'index',
  'user_data',
  'project_id',
  'tenant_id',
  'private_ip',
  'hyperswitch_id',
  'cloud',
  'vpn_type',
]);
const HS_ATTRS = new Set([
  'id',
  'flavor',
  'device_id',
  'tenant_id',
  'project_id',
  'instance_id',
  'instance_type',
  'private_ip',
  'mgnt_ip',
  'data_ip',
  'vms_ip_0',
  'vms_ip_1',
  'vms_ip_2',
  'status',
  'cloud',
]);

const zProjectIds = { project_id: zId.optional(), tenant_id: zId.optional() };
const portCreate = z.strictObject({
  port_id: zId,
  flavor: z.enum(FLAVORS).optional(),
  device_id: zId.optional(),
  index: z.number().int().min(0).max(2).optional(),
  cloud: zId.optional(),
  vpn_type: z.enum(VPN_TYPES).optional(),
  ...zProjectIds,
});
const portMove = z.strictObject({ cloud: zId, flavor: z.enum(FLAVORS).optional() });
const hsCreate = z.strictObject({
  flavor: z.enum(FLAVORS).optional(),
  device_id: zId.optional(),
  cloud: zId.optional(),
  ...zProjectIds,
});

/** Takes the pushed-down filters out of the query: key → provider filter name. */
function pushDown(
  q: Query,
  map: Record<string, string>,
  numeric: readonly string[] = [],
): { filter: Record<string, (string | number)[]>; rest: Query } {
  const filter: Record<string, (string | number)[]> = Object.create(null);
  const rest: Query = Object.create(null);
  for (const [k, vs] of Object.entries(q)) {
    const to = Object.hasOwn(map, k) ? map[k] : undefined;
    if (!to) {
      rest[k] = vs;
      continue;
    }
    const values = vs.flatMap((v) => v.split(',')).filter((v) => v !== '');
    for (const v of values) {
      if (numeric.includes(k) && !/^\d+$/.test(v))
        throw faults.badRequest(`${v} is not a valid value for ${k}`, 'HTTPBadRequest');
    }
    const parsed = numeric.includes(k) ? values.map(Number) : values;
    // Two query keys for one provider filter (id and name) must both hold: intersect.
    filter[to] = filter[to] ? filter[to].filter((x) => parsed.includes(x as never)) : parsed;
  }
  return { filter, rest };
}

function listReply<T extends { id: string }>(
  req: FastifyRequest,
  items: T[],
  rest: Query,
  attrs: ReadonlySet<string>,
  plural: string,
  path: string,
) {
  const filtered = applyFilters(items, rest, attrs);
  const sorted = applySort(filtered, rest, attrs);
  const page = applyPagination(sorted, rest, `${hrefBase(req)}/v2.0/${path}`);
  const body: Record<string, unknown> = {
    [plural]: rest.fields ? page.items.map((o) => applyFields(o, rest)) : page.items,
  };
  if (page.links.length) body[`${plural}_links`] = page.links;
  return body;
}

export function registerAgentless(app: FastifyInstance, deps: RouteDeps, svc: AgentlessService): void {
  const ctxOf = (req: FastifyRequest) => contextOf(deps, req);
  type Id = { Params: { id: string } };

  // ---- agentless ports
  app.post('/v2.0/agentlessports', async (req, reply) => {
    const ctx = ctxOf(req);
    const body = validate(portCreate, envelope(req.body, 'agentlessport'), 'agentlessport') as z.infer<
      typeof portCreate
    >;
    return reply.code(201).send({ agentlessport: await svc.ports.create(ctx, body) });
  });
  app.get('/v2.0/agentlessports', async (req) => {
    const ctx = ctxOf(req);
    const { filter, rest } = pushDown(
      queryOf(req),
      {
        id: 'names',
        name: 'names',
        port_id: 'port_ids',
        device_id: 'device_ids',
        private_ip: 'private_ips',
        tenant_id: 'tenant_ids',
        project_id: 'tenant_ids',
        index: 'indexes',
      },
      ['index'],
    );
    return listReply(req, await svc.ports.list(ctx, filter), rest, PORT_ATTRS, 'agentlessports', 'agentlessports');
  });
  app.get<Id>('/v2.0/agentlessports/:id', async (req) => ({
    agentlessport: applyFields(await svc.ports.show(ctxOf(req), req.params.id), queryOf(req)),
  }));
  app.put<Id>('/v2.0/agentlessports/:id', async (req) => {
    const ctx = ctxOf(req);
    const body = validate(portMove, envelope(req.body, 'agentlessport'), 'agentlessport') as z.infer<typeof portMove>;
    return { agentlessport: await svc.ports.move(ctx, req.params.id, body) };
  });
  app.delete<Id>('/v2.0/agentlessports/:id', async (req, reply) => {
    await svc.ports.delete(ctxOf(req), req.params.id);
    return reply.code(204).send();
  });

  // ---- hyperswitches
  app.post('/v2.0/hyperswitches', async (req, reply) => {
    const ctx = ctxOf(req);
    const body = validate(hsCreate, envelope(req.body, 'hyperswitch'), 'hyperswitch') as {
      flavor?: Flavor;
      device_id?: string;
      tenant_id?: string;
      project_id?: string;
      cloud?: string;
    };
    return reply.code(201).send({ hyperswitch: await svc.hyperswitches.create(ctx, body) });
  });
  app.get('/v2.0/hyperswitches', async (req) => {
    const ctx = ctxOf(req);
    const { filter, rest } = pushDown(queryOf(req), {
      id: 'hyperswitch_ids',
      name: 'names',
      tenant_id: 'tenant_ids',
      project_id: 'tenant_ids',
      device_id: 'device_ids',
    });
    return listReply(req, await svc.hyperswitches.list(ctx, filter), rest, HS_ATTRS, 'hyperswitches', 'hyperswitches');
  });
  app.get<Id>('/v2.0/hyperswitches/:id', async (req) => ({
    hyperswitch: applyFields(await svc.hyperswitches.show(ctxOf(req), req.params.id), queryOf(req)),
  }));
  app.delete<Id>('/v2.0/hyperswitches/:id', async (req, reply) => {
    await svc.hyperswitches.delete(ctxOf(req), req.params.id);
    return reply.code(204).send();
  });
  app.get<Id>('/v2.0/hyperswitches/:id/vpn', async (req) => {
    const ctx = ctxOf(req);
    if (!ctx.caller.isAdmin) throw faults.forbidden('(rule:get_hyperswitch_vpn) is disallowed by policy: admin only');
    return { vpn: await svc.vpn.forHyperswitch(req.params.id) };
  });
  // The hyperswitch's agent reports the ports whose OpenVPN server runs (a move waits for it).
  app.put<Id>('/v2.0/hyperswitches/:id/vpn', async (req) => {
    const ctx = ctxOf(req);
    if (!ctx.caller.isAdmin)
      throw faults.forbidden('(rule:update_hyperswitch_vpn) is disallowed by policy: admin only');
    const serving = (req.body as { vpn?: { serving?: unknown } } | undefined)?.vpn?.serving;
    if (!Array.isArray(serving) || !serving.every((x) => typeof x === 'string'))
      throw faults.invalidInput('vpn.serving must be a list of port ids');
    svc.vpn.serving.report(req.params.id, serving as string[]);
    return { vpn: { serving } };
  });

  // A hyperswitch cannot be changed in place.
  app.put('/v2.0/hyperswitches/:id', async (req) => {
    ctxOf(req);
    throw faults.methodNotAllowed();
  });
}
