/**
 * Snapshot and migration of a HyperVM: the server's half. Only the node running the container has its
 * files, so the server records the task on the HyperVM (the node sees it on the watch stream), makes the
 * queued image the export goes to, and hands the node a single-use upload token bound to its provider
 * address. The node ends the task; for a migration that switches the HyperVM (and its port's binding)
 * to the target node in one transaction, so the old node removes its container and the new one
 * launches the export with the same port: hyper IP, MAC and security groups.
 *
 *   POST /v2.0/hypervms/{id}/snapshot  {"snapshot": {"name": N}}       owner or admin → 202 {image_id}
 *   POST /v2.0/hypervms/{id}/migrate   {"migrate": {"cloud": C}}       owner or admin → 202 {image_id, host}
 *   POST /v2.0/hypervms/{id}/upload_token                              admin (the node) → 201, once
 *   POST /v2.0/hypervms/{id}/task_end  {"task_end": {"error"?: E}}     admin (the node)
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { HyperVm } from '../model/types.js';
import { faults } from './errors.js';
import { nodeAddress } from './hypervm-actions.js';
import { type Ctx, mustGet, ownedOrAdmin, zName, zWord } from './resource.js';
import { hypervms, NO_TASK, schedule } from './resources/hypervms.js';
import type { HyperVmImages } from './resources/hypervm-images.js';
import { contextOf, type RouteDeps } from './routes.js';
import { storeKindUpdate, storeUpdate } from './store-update.js';
import type { WriteTx } from './store/store.js';

type P = { Params: { id: string } };

const snapshotBody = z.strictObject({ snapshot: z.strictObject({ name: zName }) });
const migrateBody = z.strictObject({ migrate: z.strictObject({ cloud: zWord.pipe(z.string().min(1).max(64)) }) });
const endBody = z.strictObject({ task_end: z.strictObject({ error: z.string().max(1000).optional() }) });

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) throw faults.badRequest(`Invalid request body: ${r.error.issues[0]?.message ?? 'malformed'}`);
  return r.data;
}

const imagesOf = (ctx: Ctx): HyperVmImages => {
  if (!ctx.images) throw faults.badRequest('This server has no image catalog: HyperVMs are off.', 'HyperVmNoImages');
  return ctx.images;
};

/** A HyperVM that can start a task: the caller's (or an admin's), ACTIVE, and idle. */
function checkIdle(hv: HyperVm): void {
  if (hv.task !== '') throw faults.conflict('HyperVmBusy', `HyperVM ${hv.id} is busy with a ${hv.task} already.`);
  if (hv.status !== 'ACTIVE')
    throw faults.conflict('HyperVmNotActive', `HyperVM ${hv.id} is ${hv.status}, not ACTIVE: nothing to export.`);
}

export function registerHyperVmTasks(app: FastifyInstance, deps: RouteDeps): void {
  /** Starts a task: the export image is made first and dropped again when the store refuses. */
  const begin = async (
    req: FastifyRequest<P>,
    imageName: (hv: HyperVm) => string,
    apply: (ctx: Ctx, tx: WriteTx, hv: HyperVm, imageId: string) => Promise<HyperVm>,
  ) => {
    const ctx = contextOf(deps, req);
    const images = imagesOf(ctx);
    const hv0 = await deps.store.read((tx) => mustGet(tx, 'hypervm', req.params.id, (v) => ownedOrAdmin(ctx, v)));
    checkIdle(hv0);
    const imageId = images.createExport(ctx.caller, hv0.project_id, imageName(hv0));
    try {
      return await deps.store.write(async (tx) => {
        const hv = await mustGet(tx, 'hypervm', req.params.id, (v) => ownedOrAdmin(ctx, v));
        checkIdle(hv);
        return storeUpdate(hypervms, ctx, tx, await apply(ctx, tx, hv, imageId));
      });
    } catch (e) {
      await images.dropUnfinished(ctx.caller, imageId);
      throw e;
    }
  };

  app.post<P>('/v2.0/hypervms/:id/snapshot', async (req, reply) => {
    const { snapshot } = parse(snapshotBody, req.body);
    const hv = await begin(
      req,
      () => snapshot.name,
      async (_ctx, _tx, v, imageId) => ({
        ...v,
        ...NO_TASK,
        task: 'snapshot',
        task_image_id: imageId,
        task_state: 'requested',
      }),
    );
    return reply.code(202).send({ snapshot: { hypervm_id: hv.id, image_id: hv.task_image_id } });
  });

  app.post<P>('/v2.0/hypervms/:id/migrate', async (req, reply) => {
    const { migrate } = parse(migrateBody, req.body);
    const hv = await begin(
      req,
      (v) => `${v.name || v.id}-migrated`,
      async (ctx, tx, v, imageId) => {
        const target = await schedule(ctx, tx, migrate.cloud, undefined, v.host);
        return {
          ...v,
          ...NO_TASK,
          task: 'migrate',
          task_image_id: imageId,
          target_host: target,
          task_state: 'requested',
        };
      },
    );
    return reply.code(202).send({ migrate: { hypervm_id: hv.id, image_id: hv.task_image_id, host: hv.target_host } });
  });

  app.post<P>('/v2.0/hypervms/:id/upload_token', async (req, reply) => {
    const ctx = contextOf(deps, req);
    if (!ctx.caller.isAdmin) throw faults.forbidden('(rule:upload_token_hypervm) is disallowed by policy: admin only');
    const images = imagesOf(ctx);
    const issued = await deps.store.write(async (tx) => {
      const hv = await mustGet(tx, 'hypervm', req.params.id);
      if (hv.task === '') throw faults.conflict('HyperVmNoTask', `HyperVM ${hv.id} has no snapshot or migration.`);
      if (hv.task_token_issued)
        throw faults.conflict('UploadTokenUsed', `HyperVM ${hv.id} already took the upload token of its ${hv.task}.`);
      const address = await nodeAddress(tx, hv);
      await storeUpdate(hypervms, ctx, tx, { ...hv, task_token_issued: true });
      return images.issueUploadToken(ctx.caller, hv.task_image_id, address);
    });
    return reply.code(201).send({ upload_token: issued });
  });

  app.post<P>('/v2.0/hypervms/:id/task_end', async (req, reply) => {
    const ctx = contextOf(deps, req);
    if (!ctx.caller.isAdmin) throw faults.forbidden('(rule:task_end_hypervm) is disallowed by policy: admin only');
    const images = imagesOf(ctx);
    const { task_end } = parse(endBody, req.body);
    const failed = async (hv: HyperVm, error: string) => {
      await images.dropUnfinished(ctx.caller, hv.task_image_id);
      return { ...hv, ...NO_TASK, task_state: `${hv.task} failed: ${error}` };
    };
    const hv = await deps.store.write(async (tx) => {
      const cur = await mustGet(tx, 'hypervm', req.params.id);
      if (cur.task === '') throw faults.conflict('HyperVmNoTask', `HyperVM ${cur.id} has no snapshot or migration.`);
      const active = images.find(ctx.caller, cur.task_image_id)?.status === 'active';
      let next: HyperVm;
      if (task_end.error !== undefined) next = await failed(cur, task_end.error);
      else if (!active) next = await failed(cur, 'the export never arrived');
      else if (cur.task === 'snapshot') next = { ...cur, ...NO_TASK, task_state: `snapshot ${cur.task_image_id} done` };
      else next = await switchNode(ctx, tx, cur);
      return storeUpdate(hypervms, ctx, tx, next);
    });
    return reply.send({ hypervm: hv });
  });
}

/**
 * The migration's switch: the port is bound to the target node and the HyperVM runs the export there
 * as a new launch (a fresh token), so the source node's reconciler removes its container and the
 * target's launches it.
 */
async function switchNode(ctx: Ctx, tx: WriteTx, hv: HyperVm): Promise<HyperVm> {
  const port = await mustGet(tx, 'port', hv.port_id);
  await storeKindUpdate('port', ctx, tx, { ...port, 'binding:host_id': hv.target_host }, port.network_id);
  const target = (await tx.list('agent')).find((a) => a.host === hv.target_host);
  const cloud = target?.configurations?.cloud;
  return {
    ...hv,
    cloud: typeof cloud === 'string' ? cloud : hv.cloud,
    host: hv.target_host,
    image_id: hv.task_image_id,
    launch_token_issued: false,
    status: 'BUILD',
    status_reason: '',
    task_state: `starting on ${hv.target_host}`,
  };
}
