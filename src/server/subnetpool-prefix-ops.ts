/**
 * Neutron's `subnetpool-prefix-ops` extension: prefixes added to or removed from a pool without
 * restating them all.
 *   PUT /v2.0/subnetpools/{id}/add_prefixes    {"prefixes": [...]} → 200 {"prefixes": [...]}
 *   PUT /v2.0/subnetpools/{id}/remove_prefixes {"prefixes": [...]} → 200 {"prefixes": [...]}
 * Adding is a pool update with the union (merged as every pool's prefixes are); removing refuses
 * space a subnet of the pool holds, and a pool left without prefixes. Each is one pool update.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { faults } from './errors.js';
import { parseCidr } from './ipam/cidr.js';
import { rangeOf, subtract, toBlocks } from './ipam/prefixes.js';
import { subnetpools } from './resources/subnetpools.js';
import { contextOf, loadForWrite, validate, type RouteDeps } from './routes.js';
import { storeUpdate } from './store-update.js';

const bodySchema = z.strictObject({ prefixes: z.array(z.string()).min(1).max(1000) });

export function registerSubnetpoolPrefixOps(app: FastifyInstance, deps: RouteDeps): void {
  type P = { Params: { id: string } };
  const op = (remove: boolean) => async (req: FastifyRequest<P>) => {
    const ctx = contextOf(deps, req);
    const { prefixes } = validate(bodySchema, req.body, 'prefixes');
    const given = prefixes.map((p) => rangeOf(parseCidr(p, false)));
    return deps.store.write(async (tx) => {
      const pool = await loadForWrite(subnetpools, ctx, tx, req.params.id, 'update');
      const held = pool.prefixes.map((p) => rangeOf(parseCidr(p)));
      let next = pool;
      if (!remove) {
        const merged = [...pool.prefixes, ...prefixes];
        next = (await subnetpools.update(ctx, tx, pool, { prefixes: merged })) ?? pool;
      } else {
        if (prefixes.some((p) => parseCidr(p, false).version !== pool.ip_version))
          throw faults.badRequest('Cannot mix IPv4 and IPv6 prefixes in a subnet pool.', 'PrefixVersionMismatch');
        const used = (await tx.list('subnet')).filter((s) => s.subnetpool_id === pool.id);
        const usedRanges = used.map((s) => rangeOf(parseCidr(s.cidr)));
        if (inUse(usedRanges, given))
          throw faults.badRequest(
            'Illegal subnetpool update : Prefixes to remove are in use by subnets of the pool.',
            'IllegalSubnetPoolUpdate',
          );
        const left = toBlocks(subtract(held, given), pool.ip_version);
        if (left.length === 0) throw faults.badRequest('Empty subnet pool prefix list.', 'EmptySubnetPoolPrefixList');
        next = { ...pool, prefixes: left.map((c) => c.text) };
      }
      const stored = await storeUpdate(subnetpools, ctx, tx, next);
      return { prefixes: stored.prefixes };
    });
  };
  app.put<P>('/v2.0/subnetpools/:id/add_prefixes', op(false));
  app.put<P>('/v2.0/subnetpools/:id/remove_prefixes', op(true));
}

/** Whether any used range meets any of the ranges to remove. */
function inUse(used: readonly { start: bigint; end: bigint }[], removed: readonly { start: bigint; end: bigint }[]) {
  return used.some((u) => removed.some((r) => u.start <= r.end && r.start <= u.end));
}
