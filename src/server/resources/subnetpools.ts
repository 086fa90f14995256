/**
 * Subnet pools (`subnet_allocation`, `default-subnetpools`), as Neutron keeps them: prefixes of one IP
 * version, merged; prefix-length bounds (min 8 / 64 and max 32 / 128 by default, default = min);
 * prefixes may only grow; one default pool per IP version; only admins make a pool shared or default
 * (shared is fixed at creation); a pool with subnets cannot be deleted. Subnets take their CIDR from a
 * pool in subnet-allocation.ts.
 */
import { z } from 'zod';
import type { SubnetPool } from '../../model/types.js';
import type { ReadTx } from '../store/store.js';
import { parseCidr, type Cidr } from '../ipam/cidr.js';
import { covers, rangeOf, toBlocks } from '../ipam/prefixes.js';
import { faults } from '../errors.js';
import {
  assignPresent,
  newBase,
  ownedOrAdmin,
  requireAdminFor,
  standardAttributes,
  zCommon,
  zDescription,
  zName,
  zTags,
  type Ctx,
  type ResourceDef,
} from '../resource.js';

/** Neutron converts prefix lengths with int(): a number or a decimal string. */
export const zPrefixLen = z
  .union([z.number().int(), z.string().regex(/^[0-9]{1,3}$/, 'must be a non-negative integer')])
  .transform(Number)
  .pipe(z.number().int().min(0).max(128));
const zQuota = z.union([z.number().int(), z.string().regex(/^[0-9]{1,10}$/)]).transform(Number);

const mutable = {
  name: zName.optional(),
  description: zDescription.optional(),
  tags: zTags.optional(),
  prefixes: z.array(z.string()).max(1000).optional(),
  default_prefixlen: zPrefixLen.optional(),
  min_prefixlen: zPrefixLen.optional(),
  max_prefixlen: zPrefixLen.optional(),
  is_default: z.boolean().optional(),
  default_quota: zQuota.pipe(z.number().int().min(0)).nullable().optional(),
  address_scope_id: z.null().optional(),
};
const createSchema = z.strictObject({
  ...zCommon,
  ...mutable,
  prefixes: z.array(z.string()).max(1000),
  shared: z.boolean().optional(),
});
const updateSchema = z.strictObject(mutable);

function bad(type: string, message: string) {
  return faults.badRequest(message, type);
}

/** Parses, checks one IP version and merges the prefixes (host bits allowed, as netaddr takes them). */
function readPrefixes(texts: readonly string[]): { version: 4 | 6; prefixes: Cidr[] } {
  if (texts.length === 0) throw bad('EmptySubnetPoolPrefixList', 'Empty subnet pool prefix list.');
  const cidrs = texts.map((t) => parseCidr(t, false));
  const version = cidrs[0].version;
  if (cidrs.some((c) => c.version !== version))
    throw bad('PrefixVersionMismatch', 'Cannot mix IPv4 and IPv6 prefixes in a subnet pool.');
  return { version, prefixes: toBlocks(cidrs.map(rangeOf), version) };
}

/** Neutron's checks of the three bounds against each other and the IP version. */
function checkBounds(version: 4 | 6, min: number, max: number, dflt: number): void {
  const illegal = (type: string, len: number, baseType: string, base: number) =>
    bad('IllegalSubnetPoolPrefixBounds', `Illegal prefix bounds: ${type}=${len}, ${baseType}=${base}.`);
  const bits = version === 4 ? 32 : 128;
  if (min > max) throw illegal('min_prefixlen', min, 'max_prefixlen', max);
  if (max > bits) throw illegal('max_prefixlen', max, 'ip_version_max', bits);
  if (dflt < min) throw illegal('default_prefixlen', dflt, 'min_prefixlen', min);
  if (dflt > max) throw illegal('default_prefixlen', dflt, 'max_prefixlen', max);
}

async function checkOneDefault(tx: ReadTx, version: 4 | 6, self?: string): Promise<void> {
  const other = (await tx.list('subnetpool')).find((p) => p.is_default && p.ip_version === version && p.id !== self);
  if (other)
    throw faults.invalidInput(
      'A default subnetpool for this IP family has already been set. Only one default may exist per IP family',
    );
}

/** Pools the caller may see: its own, shared ones, all for an admin. */
export function poolVisible(ctx: Ctx, p: SubnetPool): boolean {
  return ownedOrAdmin(ctx, p) || p.shared;
}

export const subnetpools: ResourceDef<'subnetpool', typeof createSchema, typeof updateSchema> = {
  kind: 'subnetpool',
  singular: 'subnetpool',
  plural: 'subnetpools',
  path: 'subnetpools',
  taggable: true,
  attributes: standardAttributes(
    'ip_version',
    'prefixes',
    'default_prefixlen',
    'min_prefixlen',
    'max_prefixlen',
    'shared',
    'is_default',
    'default_quota',
    'address_scope_id',
  ),
  createSchema,
  updateSchema,

  async create(ctx, tx, body) {
    requireAdminFor(ctx, body, ['shared', 'is_default'], 'create_subnetpool', { shared: false, is_default: false });
    const { version, prefixes } = readPrefixes(body.prefixes);
    const min = body.min_prefixlen ?? (version === 4 ? 8 : 64);
    const max = body.max_prefixlen ?? (version === 4 ? 32 : 128);
    const dflt = body.default_prefixlen ?? min;
    checkBounds(version, min, max, dflt);
    if (body.is_default) await checkOneDefault(tx, version);
    const pool: SubnetPool = {
      ...newBase(ctx, body),
      ip_version: version,
      prefixes: prefixes.map((p) => p.text),
      default_prefixlen: String(dflt),
      min_prefixlen: String(min),
      max_prefixlen: String(max),
      shared: body.shared ?? false,
      is_default: body.is_default ?? false,
      default_quota: body.default_quota ?? null,
      address_scope_id: null,
    };
    await tx.put('subnetpool', pool, 'create');
    return pool;
  },

  async update(ctx, tx, current, body) {
    requireAdminFor(ctx, body, ['is_default'], 'update_subnetpool');
    const next = assignPresent({ ...current }, body, ['name', 'description', 'tags', 'is_default', 'default_quota']);
    if (body.prefixes !== undefined) {
      const { version, prefixes } = readPrefixes(body.prefixes);
      if (version !== current.ip_version)
        throw bad('PrefixVersionMismatch', 'Cannot mix IPv4 and IPv6 prefixes in a subnet pool.');
      const old = current.prefixes.map((p) => rangeOf(parseCidr(p)));
      if (!covers(prefixes.map(rangeOf), old))
        throw bad(
          'IllegalSubnetPoolPrefixUpdate',
          'Illegal update to prefixes: Existing prefixes must be a subset of the new prefixes.',
        );
      next.prefixes = prefixes.map((p) => p.text);
    }
    const min = body.min_prefixlen ?? Number(current.min_prefixlen);
    const max = body.max_prefixlen ?? Number(current.max_prefixlen);
    const dflt = body.default_prefixlen ?? Number(current.default_prefixlen);
    checkBounds(current.ip_version, min, max, dflt);
    next.min_prefixlen = String(min);
    next.max_prefixlen = String(max);
    next.default_prefixlen = String(dflt);
    if (body.is_default) await checkOneDefault(tx, current.ip_version, current.id);
    return next;
  },

  async remove(_ctx, tx, current) {
    if ((await tx.list('subnet')).some((s) => s.subnetpool_id === current.id))
      throw bad('SubnetPoolDeleteError', 'Unable to delete subnet pool: Subnet pool has existing allocations.');
    await tx.remove('subnetpool', current);
  },

  async visibility(ctx) {
    return (p) => poolVisible(ctx, p);
  },
};
