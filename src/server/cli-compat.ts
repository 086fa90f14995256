/**
 * The two answers the stock `openstack quota show|set PROJECT` needs from a cloud that is only a
 * network service: the client first resolves the project through Identity (`GET /projects/{id}`,
 * then `GET /projects?name=…`), and `quota show` also reads compute and volume quotas
 * (`GET /os-quota-sets/{id}`), which hypernet answers with an empty set (it has neither). A project
 * here is just an id: a member resolves its own, an admin any.
 */
import type { FastifyInstance } from 'fastify';
import { faults } from './errors.js';
import type { Ctx } from './resource.js';
import { contextOf, queryOf, type RouteDeps } from './routes.js';

function project(id: string) {
  return { id, name: id, domain_id: 'default', enabled: true, description: '', is_domain: false, links: {} };
}

const canSee = (ctx: Ctx, id: string) => ctx.caller.isAdmin || ctx.caller.projectId === id;

export function registerCliCompat(app: FastifyInstance, deps: RouteDeps): void {
  app.get<{ Params: { id: string } }>('/projects/:id', async (req) => {
    const ctx = contextOf(deps, req);
    if (!canSee(ctx, req.params.id)) throw faults.notFound('Project', req.params.id);
    return { project: project(req.params.id) };
  });
  app.get('/projects', async (req) => {
    const ctx = contextOf(deps, req);
    const name = queryOf(req).name?.[0] ?? ctx.caller.projectId;
    return { projects: canSee(ctx, name) ? [project(name)] : [] };
  });
  app.get<{ Params: { id: string } }>('/os-quota-sets/:id', async (req) => {
    const ctx = contextOf(deps, req);
    if (!canSee(ctx, req.params.id)) throw faults.forbidden('(rule:get_quota) is disallowed by policy');
    return { quota_set: { id: req.params.id } };
  });
}
