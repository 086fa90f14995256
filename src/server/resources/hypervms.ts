/**
 * hypernet extension `hypervms`: plays Nova for container workloads. Create takes an image of the
 * catalog, a port (or a network to make one on), a cloud and a flavor; it schedules the workload on a
 * live HyperVM node of that cloud (an agent with the `hypervm` capability) and binds the port there as
 * `compute:hypervm`, all in one transaction, so a refused create leaves nothing behind; in a cloud
 * whose provider launches HyperVMs the node is the HyperVM's own provider VM instead. The node's
 * agent then pulls, starts and reports status (BUILD → PULLING → STARTING → ACTIVE | ERROR); only
 * admins (agents) write `status`. Tenant-scoped like every resource, and watched by the agents.
 */
import { z } from 'zod';
import type { Agent, HyperVm, HyperVmStatus, Port } from '../../model/types.js';
import { HYPERVM_CAPABILITY, HYPERVM_OWNER } from '../../model/hypervm.js';
import { faults } from '../errors.js';
import {
  assignPresent,
  BASE_ATTRIBUTES,
  type Ctx,
  mustGet,
  newBase,
  ownedOrAdmin,
  requireAdminFor,
  type ResourceDef,
  zCommon,
  zDescription,
  zHost,
  zId,
  zName,
  zTags,
  zWord,
} from '../resource.js';
import type { ReadTx, WriteTx } from '../store/store.js';
import { storeKindUpdate } from '../store-update.js';
import { isAlive } from './agents.js';
import { providerHyperVmCloud, providerHyperVmHost } from '../hypervm-provider-clouds.js';
import { ports } from './ports.js';

const STATUSES: readonly HyperVmStatus[] = ['BUILD', 'PULLING', 'STARTING', 'ACTIVE', 'ERROR'];

const createSchema = z.strictObject({
  ...zCommon,
  image_id: zId,
  port_id: zId.optional(),
  network_id: zId.optional(),
  cloud: zWord.pipe(z.string().min(1).max(64)),
  flavor: zWord.pipe(z.string().min(1).max(64)).optional(),
  host: zHost.optional(),
});
const updateSchema = z.strictObject({
  name: zName.optional(),
  description: zDescription.optional(),
  tags: zTags.optional(),
  status: z.enum(STATUSES).optional(),
  status_reason: z.string().max(1024).optional(),
  task_state: z.string().max(1024).optional(),
});

const hasCapability = (a: Agent): boolean =>
  Array.isArray(a.configurations?.capabilities) && a.configurations.capabilities.includes(HYPERVM_CAPABILITY);

/**
 * The node a new HyperVM runs on: the admin's `host`, else the live node of `cloud` holding the fewest
 * HyperVMs (ties by host name, so the choice is repeatable).
 */
export async function schedule(
  ctx: Ctx,
  tx: ReadTx,
  cloud: string,
  host: string | undefined,
  exclude = '',
): Promise<string> {
  const all = (await tx.list('agent')).filter((a) => hasCapability(a) && a.configurations.cloud === cloud);
  if (all.length === 0)
    throw faults.badRequest(`Cloud ${cloud} has no HyperVM support (no agent there runs HyperVMs).`, 'HyperVmNoCloud');
  const nodes = all.filter((a) => a.host !== exclude);
  if (nodes.length === 0)
    throw faults.conflict('HyperVmNoHost', `Cloud ${cloud} has no HyperVM node but ${exclude}, where it runs now.`);
  if (host !== undefined) {
    if (!nodes.some((a) => a.host === host))
      throw faults.badRequest(`Host ${host} is no HyperVM node of cloud ${cloud}.`, 'HyperVmNoHost');
    return host;
  }
  const alive = nodes.filter((a) => isAlive(ctx, a));
  if (alive.length === 0) throw faults.conflict('HyperVmNoHost', `No HyperVM node of cloud ${cloud} is alive.`);
  const load = new Map<string, number>();
  for (const v of await tx.list('hypervm')) load.set(v.host, (load.get(v.host) ?? 0) + 1);
  alive.sort((a, b) => (load.get(a.host) ?? 0) - (load.get(b.host) ?? 0) || (a.host < b.host ? -1 : 1));
  return alive[0].host;
}

/** The image must be one the caller sees, active, and an OCI layout (container_format docker). */
function checkImage(ctx: Ctx, imageId: string): void {
  if (!ctx.images) throw faults.badRequest('This server has no image catalog: HyperVMs are off.', 'HyperVmNoImages');
  const img = ctx.images.find(ctx.caller, imageId);
  if (!img) throw faults.missing('ImageNotFound', `Image ${imageId} could not be found.`);
  if (img.container_format !== 'docker')
    throw faults.badRequest(`Image ${imageId} is no OCI image (container_format docker).`, 'HyperVmBadImage');
  if (img.status !== 'active')
    throw faults.conflict('ImageNotActive', `Image ${imageId} is ${img.status}, not active: nothing to launch.`);
}

/** The caller's free port, or 409 when something already holds it (a device, a host). */
async function freePort(ctx: Ctx, tx: ReadTx, portId: string, projectId: string): Promise<Port> {
  const port = await mustGet(tx, 'port', portId, (p) => ownedOrAdmin(ctx, p));
  if (port.project_id !== projectId)
    throw faults.conflict('PortInUse', `Port ${portId} belongs to another project than the HyperVM.`);
  if (port.device_id !== '' || port.device_owner !== '' || port['binding:host_id'] !== '')
    throw faults.conflict(
      'PortInUse',
      `Port ${portId} is already bound (device_id '${port.device_id}', host '${port['binding:host_id']}').`,
    );
  return port;
}

/** A new port on `networkId` for the HyperVM, as Nova makes one when given a network. */
async function newPort(ctx: Ctx, tx: WriteTx, networkId: string, hv: { id: string; project_id: string }) {
  const body = ports.createSchema.parse({ network_id: networkId, project_id: hv.project_id });
  return ports.create(ctx, tx, body);
}

/** The task fields of a HyperVM with no task under way. */
export const NO_TASK = {
  task: '',
  task_image_id: '',
  target_host: '',
  task_token_issued: false,
  stopped_at: '',
} as const satisfies Partial<HyperVm>;

/**
 * A migration's clock, kept by the server: the source node says 'stopped' (downtime starts); the
 * target node's ACTIVE ends it (downtime recorded, task over); its ERROR ends the task as failed.
 */
function migrationStep(hv: HyperVm, nowMs: number): HyperVm {
  if (hv.task !== 'migrate') return hv;
  if (hv.task_state === 'stopped' && hv.stopped_at === '') return { ...hv, stopped_at: new Date(nowMs).toISOString() };
  if (hv.host !== hv.target_host || hv.task_image_id !== hv.image_id) return hv;
  if (hv.status === 'ACTIVE') {
    const downtime = hv.stopped_at === '' ? null : nowMs - Date.parse(hv.stopped_at);
    return { ...hv, ...NO_TASK, downtime_ms: downtime, task_state: `migrated to ${hv.host} (downtime ${downtime} ms)` };
  }
  if (hv.status === 'ERROR') return { ...hv, ...NO_TASK, task_state: `migrate failed: ${hv.status_reason}` };
  return hv;
}

export const hypervms: ResourceDef<'hypervm', typeof createSchema, typeof updateSchema> = {
  kind: 'hypervm',
  singular: 'hypervm',
  plural: 'hypervms',
  path: 'hypervms',
  taggable: true,
  attributes: new Set([
    ...BASE_ATTRIBUTES,
    'image_id',
    'port_id',
    'network_id',
    'cloud',
    'flavor',
    'host',
    'status',
    'status_reason',
    'port_created',
    'launch_token_issued',
    'task',
    'task_image_id',
    'task_state',
    'target_host',
    'task_token_issued',
    'stopped_at',
    'downtime_ms',
    'console_session',
  ]),
  createSchema,
  updateSchema,

  async create(ctx, tx, body) {
    requireAdminFor(ctx, body, ['host'], 'create_hypervm');
    if ((body.port_id === undefined) === (body.network_id === undefined))
      throw faults.badRequest('A HyperVM needs exactly one of port_id and network_id.', 'HTTPBadRequest');
    const base = newBase(ctx, body);
    checkImage(ctx, body.image_id);
    // A cloud whose provider launches HyperVMs gets one provider VM per HyperVM (hypervm-launcher.ts),
    // its agent named after the HyperVM; other clouds run it on one of their --hypervm agents.
    const viaProvider = providerHyperVmCloud(ctx.config, body.cloud) !== undefined;
    if (viaProvider && body.host !== undefined)
      throw faults.badRequest(`Cloud ${body.cloud} launches HyperVMs through its provider: no host.`, 'HyperVmNoHost');
    const host = viaProvider ? providerHyperVmHost(base.id) : await schedule(ctx, tx, body.cloud, body.host);
    const created = body.port_id === undefined;
    const port = created
      ? await newPort(ctx, tx, body.network_id as string, base)
      : await freePort(ctx, tx, body.port_id as string, base.project_id);
    await storeKindUpdate(
      'port',
      ctx,
      tx,
      { ...port, device_id: base.id, device_owner: HYPERVM_OWNER, 'binding:host_id': host },
      port.network_id,
    );
    const hv: HyperVm = {
      ...base,
      image_id: body.image_id,
      port_id: port.id,
      network_id: port.network_id,
      cloud: body.cloud,
      flavor: body.flavor ?? 'small',
      host,
      status: 'BUILD',
      status_reason: '',
      port_created: created,
      launch_token_issued: false,
      ...NO_TASK,
      task_state: '',
      downtime_ms: null,
      console_session: '',
    };
    await tx.put('hypervm', hv, 'create');
    return hv;
  },

  async update(ctx, _tx, current, body) {
    requireAdminFor(ctx, body, ['status', 'status_reason', 'task_state'], 'update_hypervm');
    const next = assignPresent({ ...current }, body, [
      'name',
      'description',
      'tags',
      'status',
      'status_reason',
      'task_state',
    ]);
    if (body.status !== undefined && body.status !== 'ERROR' && body.status_reason === undefined)
      next.status_reason = '';
    return migrationStep(next, ctx.nowMs);
  },

  async remove(ctx, tx, current) {
    // A snapshot or migration under way dies with the HyperVM: its export image never fills.
    if (current.task !== '') await ctx.images?.dropUnfinished(ctx.caller, current.task_image_id);
    const port = await tx.get('port', current.port_id);
    if (port && port.device_id === current.id) {
      if (current.port_created) await ports.remove(ctx, tx, port);
      else
        await storeKindUpdate(
          'port',
          ctx,
          tx,
          { ...port, device_id: '', device_owner: '', 'binding:host_id': '' },
          port.network_id,
        );
    }
    await tx.remove('hypervm', current);
  },

  async visibility(ctx) {
    return (v) => ownedOrAdmin(ctx, v);
  },
};
