/**
 * Where a new subnet's CIDR comes from, as Neutron decides it: the `cidr` given, or a block of the
 * subnet pool named by `subnetpool_id` (or the default pool of the IP version, with
 * `use_default_subnetpool`): of `prefixlen` bits (else the pool's default length), inside the pool's
 * prefixes and clear of the pool's other subnets, within the pool's bounds and per-project quota.
 * All subnets of one IP version on a network come from the same pool (or none).
 */
import type { Network, SubnetPool } from '../../model/types.js';
import type { WriteTx } from '../store/store.js';
import { parseCidr, type Cidr } from '../ipam/cidr.js';
import { pickBlock, rangeOf, subtract, toBlocks } from '../ipam/prefixes.js';
import { faults } from '../errors.js';
import { mustGet, type Ctx } from '../resource.js';
import { poolVisible } from './subnetpools.js';

/** What of a subnet create body concerns its CIDR. */
export interface CidrRequest {
  cidr?: string;
  ip_version?: 4 | 6;
  prefixlen?: number;
  subnetpool_id?: string | null;
  use_default_subnetpool?: boolean;
  allocation_pools?: unknown[];
}

function badSubnets(msg: string) {
  return faults.badRequest(`Bad subnets request: ${msg}.`);
}

async function poolOf(ctx: Ctx, tx: WriteTx, req: CidrRequest): Promise<SubnetPool | undefined> {
  const id = req.subnetpool_id ?? undefined;
  if (req.use_default_subnetpool && id !== undefined)
    throw badSubnets('subnetpool_id and use_default_subnetpool cannot both be specified');
  if (id !== undefined) return mustGet(tx, 'subnetpool', id, (p) => poolVisible(ctx, p));
  if (!req.use_default_subnetpool) return undefined;
  const version = req.cidr !== undefined ? parseCidr(req.cidr, false).version : req.ip_version;
  if (version === undefined) throw badSubnets('ip_version must be specified in the absence of cidr and subnetpool_id');
  const pool = (await tx.list('subnetpool')).find(
    (p) => p.is_default && p.ip_version === version && poolVisible(ctx, p),
  );
  if (!pool) throw badSubnets(`No default subnetpool found for IPv${version}`);
  return pool;
}

/** Units of a pool quota one subnet takes: addresses for IPv4, /64 networks for IPv6. */
function quotaUnits(version: 4 | 6, prefix: number): number {
  return 2 ** ((version === 4 ? 32 : 64) - prefix);
}

async function allocateFromPool(tx: WriteTx, pool: SubnetPool, req: CidrRequest, project: string): Promise<Cidr> {
  const wanted = req.cidr === undefined ? undefined : parseCidr(req.cidr);
  if (wanted && wanted.version !== pool.ip_version)
    throw badSubnets(`Cannot allocate IPv${wanted.version} subnet from IPv${pool.ip_version} subnet pool`);
  if (req.ip_version !== undefined && req.ip_version !== pool.ip_version)
    throw badSubnets(`Cannot allocate IPv${req.ip_version} subnet from IPv${pool.ip_version} subnet pool`);
  if (!wanted && req.allocation_pools !== undefined)
    throw badSubnets('allocation_pools allowed only for specific subnet requests.');
  const prefix = wanted?.prefix ?? req.prefixlen ?? Number(pool.default_prefixlen);
  if (prefix > Number(pool.max_prefixlen))
    throw faults.badRequest(
      `Unable to allocate subnet with prefix length ${prefix}, maximum allowed prefix is ${pool.max_prefixlen}.`,
      'MaxPrefixSubnetAllocationError',
    );
  if (prefix < Number(pool.min_prefixlen))
    throw faults.badRequest(
      `Unable to allocate subnet with prefix length ${prefix}, minimum allowed prefix is ${pool.min_prefixlen}.`,
      'MinPrefixSubnetAllocationError',
    );
  const taken = (await tx.list('subnet')).filter((s) => s.subnetpool_id === pool.id);
  if (pool.default_quota !== null) {
    const used = taken
      .filter((s) => s.project_id === project)
      .reduce((sum, s) => sum + quotaUnits(pool.ip_version, parseCidr(s.cidr).prefix), 0);
    if (used + quotaUnits(pool.ip_version, prefix) > pool.default_quota)
      throw faults.conflict('SubnetPoolQuotaExceeded', 'Per-tenant subnet pool prefix quota exceeded.');
  }
  const free = toBlocks(
    subtract(
      pool.prefixes.map((p) => rangeOf(parseCidr(p))),
      taken.map((s) => rangeOf(parseCidr(s.cidr))),
    ),
    pool.ip_version,
  );
  if (wanted) {
    if (free.some((f) => f.prefix <= wanted.prefix && f.network <= wanted.network && wanted.last <= f.last))
      return wanted;
    throw faults.conflict(
      'SubnetAllocationError',
      'Failed to allocate subnet: Cannot allocate requested subnet from the available set of prefixes.',
    );
  }
  const got = pickBlock(free, prefix);
  if (!got)
    throw faults.conflict(
      'SubnetAllocationError',
      `Failed to allocate subnet: Insufficient prefix space to allocate subnet size /${prefix}.`,
    );
  return got;
}

/** The CIDR of a new subnet of `project` on `net`, and the pool it came from (null: none). */
export async function subnetCidr(
  ctx: Ctx,
  tx: WriteTx,
  net: Network,
  req: CidrRequest,
  project: string,
): Promise<{ cidr: Cidr; poolId: string | null }> {
  if (req.cidr !== undefined && req.prefixlen !== undefined)
    throw badSubnets('cidr and prefixlen must not be supplied together');
  const pool = await poolOf(ctx, tx, req);
  if (!pool && req.cidr === undefined) throw badSubnets('a subnetpool must be specified in the absence of a cidr');
  const cidr = pool ? await allocateFromPool(tx, pool, req, project) : parseCidr(req.cidr!);
  const poolId = pool?.id ?? null;
  for (const other of await tx.list('subnet', net.id)) {
    if (other.ip_version === cidr.version && other.subnetpool_id !== poolId)
      throw faults.badRequest(
        'Subnets hosted on the same network must be allocated from the same subnet pool.',
        'NetworkSubnetPoolAffinityError',
      );
  }
  return { cidr, poolId };
}
