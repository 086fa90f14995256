/**
 * Idempotency keys on creates (a hypernet extension of the Neutron API): a client that sends
 * `Idempotency-Key: <its own unique string>` with a POST and retries it after a lost reply (the server
 * died, the connection broke, a load balancer answered 502) gets the first request's objects back
 * instead of creating them twice. The result is stored in the same transaction as the objects, so
 * either both exist or neither does, and the lookup runs under the writers' lock, so two copies of one
 * request in flight at once still create once. Keys are scoped to the caller's project and the
 * collection, and kept for `IDEMPOTENCY_KEEP_MS`.
 */
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { WriteTx } from './store/store.js';
import { faults } from './errors.js';
import type { Ctx } from './resource.js';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
/** How long a result is kept: far longer than any client retries. */
export const IDEMPOTENCY_KEEP_MS = 24 * 3600 * 1000;

/** What a create remembers: a digest of the request body (a reused key with another body is refused). */
interface Remembered {
  body: string;
  objects: unknown[];
}

/** The request's key scoped to caller and collection, or undefined when it sent none. */
export function idempotencyKeyOf(req: FastifyRequest, ctx: Ctx, collection: string): string | undefined {
  const h = req.headers[IDEMPOTENCY_HEADER];
  const key = Array.isArray(h) ? h[0] : h;
  if (key === undefined) return undefined;
  if (key.length === 0 || key.length > 255 || !/^[\x21-\x7e]+$/.test(key))
    throw faults.badRequest('Idempotency-Key must be 1 to 255 visible ASCII characters', 'HTTPBadRequest');
  return JSON.stringify([ctx.caller.projectId ?? '', collection, key]);
}

export function bodyDigest(body: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(body ?? null))
    .digest('base64');
}

/** The objects the first request with this key created, or undefined when there was none. */
export async function replayOf(tx: WriteTx, key: string, digest: string): Promise<unknown[] | undefined> {
  const stored = await tx.rememberedResult(key);
  if (stored === undefined) return undefined;
  const r = JSON.parse(stored) as Remembered;
  if (r.body !== digest)
    throw faults.conflict('IdempotencyKeyReused', 'This Idempotency-Key was used with a different request body.');
  return r.objects;
}

export async function rememberCreate(
  tx: WriteTx,
  key: string,
  digest: string,
  objects: unknown[],
  nowMs: number,
): Promise<void> {
  const r: Remembered = { body: digest, objects };
  await tx.rememberResult(key, JSON.stringify(r), nowMs, IDEMPOTENCY_KEEP_MS);
}
