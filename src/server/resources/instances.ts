/**
 * hypernet extension `instances`: what Nova would hold for a workload (name, hostname, user_data,
 * public keys, metadata), keyed by the `device_id` its ports carry, unique within a project. The
 * metadata service answers a port's requests from the instance of its project and device_id.
 * Tenant-scoped like every resource; kept in the store but never sent on the watch stream.
 */
import { z } from 'zod';
import type { Instance } from '../../model/types.js';
import { isDeviceId, DEVICE_ID_RULE } from '../../model/grammar/device-id.js';
import { isSshPublicKey, SSH_KEY_RULE } from '../../model/grammar/ssh-key.js';
import { isHostName, isWord } from '../../model/grammar/words.js';
import { faults } from '../errors.js';
import {
  assignPresent,
  BASE_ATTRIBUTES,
  newBase,
  ownedOrAdmin,
  zCommon,
  zDescription,
  zName,
  zTags,
  type ResourceDef,
} from '../resource.js';
import type { ReadTx } from '../store/store.js';

/** Nova's limits: 64 KiB of user data, 255-character metadata keys and values, 128 items. */
const MAX_USER_DATA = 65535;
const MAX_META_ITEMS = 128;

const zDevice = z.string().refine(isDeviceId, { error: `device_id must be ${DEVICE_ID_RULE}` });
const zHostname = z.string().refine(isHostName, { error: 'hostname must be a host name' });
/** Keys that would not survive as own properties of a plain object are refused. */
const notProto = (k: string) => !['__proto__', 'constructor', 'prototype'].includes(k);
const zKeyName = z
  .string()
  .max(255)
  .refine((k) => isWord(k) && notProto(k), { error: 'a key name must be a plain word' });
const zPublicKeys = z
  .record(zKeyName, z.string().refine(isSshPublicKey, { error: `a public key must be ${SSH_KEY_RULE}` }))
  .refine((r) => Object.keys(r).length <= 16, { error: 'at most 16 public keys' });
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const printable = (v: string) => !/[\u0000-\u001f\u007f]/.test(v);
const zMeta = z
  .record(
    z
      .string()
      .min(1)
      .max(255)
      .refine((k) => printable(k) && notProto(k), { error: 'metadata keys are printable text' }),
    z.string().max(255).refine(printable, { error: 'metadata values are printable text' }),
  )
  .refine((r) => Object.keys(r).length <= MAX_META_ITEMS, { error: `at most ${MAX_META_ITEMS} metadata items` });

const mutable = {
  hostname: zHostname.optional(),
  user_data: z.string().max(MAX_USER_DATA).optional(),
  public_keys: zPublicKeys.optional(),
  meta: zMeta.optional(),
};
const createSchema = z.strictObject({ ...zCommon, device_id: zDevice, ...mutable });
const updateSchema = z.strictObject({
  name: zName.optional(),
  description: zDescription.optional(),
  tags: zTags.optional(),
  ...mutable,
});

/** The instance of a project's device, if one was stored (what the metadata service looks up). */
export async function instanceOf(tx: ReadTx, projectId: string, deviceId: string): Promise<Instance | undefined> {
  return (await tx.list('instance')).find((i) => i.project_id === projectId && i.device_id === deviceId);
}

/** A host name from the instance name when it fits the grammar, else from the device id. */
function defaultHostname(name: string, deviceId: string): string {
  const fromName = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63);
  return isHostName(fromName) ? fromName : deviceId.toLowerCase();
}

export const instances: ResourceDef<'instance', typeof createSchema, typeof updateSchema> = {
  kind: 'instance',
  singular: 'instance',
  plural: 'instances',
  path: 'instances',
  taggable: true,
  attributes: new Set([...BASE_ATTRIBUTES, 'device_id', 'hostname', 'user_data', 'public_keys', 'meta']),
  createSchema,
  updateSchema,

  async create(ctx, tx, body) {
    const base = newBase(ctx, body);
    if (await instanceOf(tx, base.project_id, body.device_id)) {
      throw faults.conflict(
        'InstanceExists',
        `An instance with device_id ${body.device_id} already exists in project ${base.project_id}.`,
      );
    }
    const inst: Instance = {
      ...base,
      device_id: body.device_id,
      hostname: body.hostname ?? defaultHostname(base.name, body.device_id),
      user_data: body.user_data ?? '',
      public_keys: body.public_keys ?? {},
      meta: body.meta ?? {},
    };
    await tx.put('instance', inst, 'create');
    return inst;
  },

  async update(_ctx, _tx, current, body) {
    return assignPresent({ ...current }, body, [
      'name',
      'description',
      'tags',
      'hostname',
      'user_data',
      'public_keys',
      'meta',
    ]);
  },

  async remove(_ctx, tx, current) {
    await tx.remove('instance', current);
  },

  async visibility(ctx) {
    return (i) => ownedOrAdmin(ctx, i);
  },
};
