/**
 * Per-project quotas as Neutron keeps them: a limit per resource (network, subnet, port,
 * security_group, security_group_rule), the configured default unless an admin set one for the
 * project (stored, so it survives restarts), -1 meaning unlimited. A create is checked inside its
 * own store transaction, counting every object of a bulk, so two racing requests cannot both slip
 * under the limit.
 */
import type { Kind } from '../model/types.js';
import type { ReadTx, WriteTx } from './store/store.js';
import { owningProject } from './auth.js';
import { QUOTA_RESOURCES, type QuotaLimits, type QuotaResource, type ServerConfig } from './config.js';
import { faults } from './errors.js';
import type { Body, Ctx } from './resource.js';

export function isQuotaResource(kind: string): kind is QuotaResource {
  return (QUOTA_RESOURCES as readonly string[]).includes(kind);
}

/** A project's limits: the defaults overlaid with what an admin set. */
export async function limitsOf(tx: ReadTx, config: ServerConfig, projectId: string): Promise<QuotaLimits> {
  const limits = { ...config.quotaDefaults };
  for (const o of await tx.quotaOverrides(projectId)) if (isQuotaResource(o.resource)) limits[o.resource] = o.limit;
  return limits;
}

/** Every project an admin set limits for, with its full set of limits (GET /v2.0/quotas). */
export async function projectsWithLimits(tx: ReadTx, config: ServerConfig): Promise<Map<string, QuotaLimits>> {
  const out = new Map<string, QuotaLimits>();
  for (const o of await tx.quotaOverrides()) {
    const limits = out.get(o.project_id) ?? { ...config.quotaDefaults };
    if (isQuotaResource(o.resource)) limits[o.resource] = o.limit;
    out.set(o.project_id, limits);
  }
  return out;
}

/** What a project uses now, per resource. */
export async function usageOf(tx: ReadTx, projectId: string): Promise<QuotaLimits> {
  const used = {} as QuotaLimits;
  for (const r of QUOTA_RESOURCES) used[r] = await tx.countOwned(r, projectId);
  return used;
}

/** The project a new object will belong to: a rule belongs to its group's project, the rest as newBase says. */
async function projectOf(ctx: Ctx, tx: ReadTx, kind: QuotaResource, body: Body): Promise<string> {
  if (kind === 'security_group_rule' && typeof body.security_group_id === 'string') {
    const sg = await tx.get('security_group', body.security_group_id);
    if (sg) return sg.project_id;
  }
  return owningProject(ctx.caller, body as { project_id?: string; tenant_id?: string });
}

/**
 * Refuses (409 OverQuota) a create of `bodies` when a project would pass its limit. Runs inside the
 * create's transaction, before any object is made; each body counts for the project it will belong to.
 */
export async function enforceQuota(ctx: Ctx, tx: WriteTx, kind: Kind, bodies: readonly Body[]): Promise<void> {
  if (!isQuotaResource(kind)) return;
  const wanted = new Map<string, number>();
  for (const b of bodies) {
    const project = await projectOf(ctx, tx, kind, b);
    wanted.set(project, (wanted.get(project) ?? 0) + 1);
  }
  for (const [project, count] of wanted) {
    const limit = (await limitsOf(tx, ctx.config, project))[kind];
    if (limit < 0) continue;
    if ((await tx.countOwned(kind, project)) + count > limit) throw faults.overQuota([kind]);
  }
}
