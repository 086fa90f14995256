/**
 * Neutron's quota API: `GET /v2.0/quotas` (admin: projects with limits of their own),
 * `GET|PUT|DELETE /v2.0/quotas/{project_id}`, `…/default`, `…/details` (limit, used, reserved) and
 * `GET /v2.0/quotas/tenant`. Admins read and change any project's limits; a member reads its own.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { QUOTA_RESOURCES, type QuotaLimits } from './config.js';
import { faults } from './errors.js';
import { limitsOf, projectsWithLimits, usageOf } from './quotas.js';
import { zIntLike, type Ctx } from './resource.js';
import { contextOf, envelope, validate, type RouteDeps } from './routes.js';

/** Neutron's range for a limit: -1 (unlimited) up to the database's largest integer. */
const limit = zIntLike.pipe(
  z
    .number()
    .int()
    .min(-1)
    .max(2 ** 31 - 1),
);
const updateSchema = z.strictObject({
  ...Object.fromEntries(QUOTA_RESOURCES.map((r) => [r, limit.optional()])),
  // Sent by `openstack quota set --force / --check-limit`.
  force: z.boolean().optional(),
  check_limit: z.boolean().optional(),
});

type P = { Params: { project: string } };

function mayRead(ctx: Ctx, project: string): void {
  if (!ctx.caller.isAdmin && ctx.caller.projectId !== project)
    throw faults.forbidden('(rule:get_quota) is disallowed by policy');
}

function mustBeAdmin(ctx: Ctx, action: string): void {
  if (!ctx.caller.isAdmin) throw faults.forbidden(`(rule:${action}) is disallowed by policy`);
}

export function registerQuotas(app: FastifyInstance, deps: RouteDeps): void {
  const { store, config } = deps;
  const base = '/v2.0/quotas';

  app.get(base, async (req) => {
    const ctx = contextOf(deps, req);
    mustBeAdmin(ctx, 'get_quota');
    const all = await store.read((tx) => projectsWithLimits(tx, config));
    return { quotas: [...all].map(([p, limits]) => ({ ...limits, project_id: p, tenant_id: p })) };
  });

  app.get(`${base}/tenant`, async (req) => ({ tenant: { tenant_id: contextOf(deps, req).caller.projectId } }));

  app.get<P>(`${base}/:project`, async (req) => {
    const ctx = contextOf(deps, req);
    mayRead(ctx, req.params.project);
    return { quota: await store.read((tx) => limitsOf(tx, config, req.params.project)) };
  });

  app.get<P>(`${base}/:project/default`, async (req) => {
    mayRead(contextOf(deps, req), req.params.project);
    return { quota: { ...config.quotaDefaults } };
  });

  app.get<P>(`${base}/:project/details`, async (req) => {
    const ctx = contextOf(deps, req);
    const { project } = req.params;
    mayRead(ctx, project);
    const [limits, used] = await store.read(async (tx) => [
      await limitsOf(tx, config, project),
      await usageOf(tx, project),
    ]);
    const quota = Object.fromEntries(QUOTA_RESOURCES.map((r) => [r, { limit: limits[r], used: used[r], reserved: 0 }]));
    return { quota };
  });

  app.put<P>(`${base}/:project`, async (req) => {
    const ctx = contextOf(deps, req);
    mustBeAdmin(ctx, 'update_quota');
    const { project } = req.params;
    const body = validate(updateSchema, envelope(req.body, 'quota'), 'quota') as Partial<QuotaLimits> & {
      check_limit?: boolean;
    };
    const quota = await store.write(async (tx) => {
      const used = body.check_limit ? await usageOf(tx, project) : undefined;
      for (const r of QUOTA_RESOURCES) {
        const v = body[r];
        if (v === undefined) continue;
        if (used && v >= 0 && v < used[r]) {
          throw faults.badRequest(
            `Quota limit ${v} for ${r} must be greater than or equal to already used and reserved ${used[r]}.`,
            'InvalidQuotaValue',
          );
        }
        await tx.setQuota(project, r, v);
      }
      return limitsOf(tx, config, project);
    });
    return { quota };
  });

  app.delete<P>(`${base}/:project`, async (req, reply) => {
    mustBeAdmin(contextOf(deps, req), 'delete_quota');
    await store.write((tx) => tx.clearQuotas(req.params.project));
    return reply.code(204).send();
  });
}
