/**
 * Single-use repository tokens. A token is 32 random bytes (base64url) handed out once; the
 * catalog keeps only its sha256, the image, the provider address it is bound to, the expiry and
 * the pull's progress. One pull is: `index.json` (allowed once: it starts the pull), then each
 * blob of the image at most once; when the last blob has been served the token is consumed.
 * Any other use — a second pull, another image, another source address, an unknown or expired
 * token, a blob served already or not part of the image — is refused with the reason and logged
 * (with the hash's first 12 hex digits, never the token). A refused attempt does not burn the
 * token: someone replaying it from elsewhere cannot stop the rightful pull.
 */
import { createHash, randomBytes } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import type { Logger } from '../../common/log.js';
import type { ImageCatalog, TokenRecord } from './catalog.js';

export type RefusalReason =
  | 'missing_token'
  | 'unknown_token'
  | 'expired'
  | 'wrong_image'
  | 'wrong_address'
  | 'already_used'
  | 'pull_not_started'
  | 'not_in_image'
  | 'blob_already_served'
  | 'wrong_purpose';

const STATUS: Record<RefusalReason, number> = {
  missing_token: 401,
  unknown_token: 401,
  expired: 401,
  wrong_image: 403,
  wrong_address: 403,
  already_used: 403,
  pull_not_started: 403,
  not_in_image: 403,
  blob_already_served: 403,
  wrong_purpose: 403,
};

export class TokenRefused extends Error {
  readonly status: number;
  constructor(
    readonly reason: RefusalReason,
    message: string,
  ) {
    super(message);
    this.name = 'TokenRefused';
    this.status = STATUS[reason];
  }
}

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

export const newToken = (): string => randomBytes(32).toString('base64url');

/** An address in one canonical text (IPv4-mapped IPv6 as IPv4), or undefined when it is none. */
export function canonicalAddress(a: string | undefined): string | undefined {
  if (a === undefined || !ipaddr.isValid(a)) return undefined;
  return ipaddr.process(a).toString();
}

/** The checks every use of a token shares: known, this image, this address, not expired. */
function checkToken(catalog: ImageCatalog, r: { token: string; imageId: string; address?: string; nowMs: number }) {
  const t = catalog.token(hashToken(r.token));
  if (!t) throw new TokenRefused('unknown_token', 'unknown repository token');
  if (t.image_id !== r.imageId) throw new TokenRefused('wrong_image', 'this token was issued for another image');
  if (canonicalAddress(r.address) !== t.address)
    throw new TokenRefused('wrong_address', `this token is bound to another address than ${r.address ?? 'this'}`);
  if (r.nowMs >= t.expires_at_ms) throw new TokenRefused('expired', 'this repository token has expired');
  return t;
}

/**
 * Checks an upload token (a HyperVM node sending its export) and consumes it in the same catalog step:
 * one token, one upload attempt; a failed upload needs a new task. Throws TokenRefused.
 */
export function authorizeUpload(
  catalog: ImageCatalog,
  r: { token: string | undefined; imageId: string; address?: string; nowMs: number },
): TokenRecord {
  const { token } = r;
  if (!token) throw new TokenRefused('missing_token', 'an upload token is required (Authorization: Bearer …)');
  return catalog.atomically(() => {
    const t = checkToken(catalog, { ...r, token });
    if (t.purpose !== 'upload') throw new TokenRefused('wrong_purpose', 'this token is for a pull, not an upload');
    if (t.state !== 'issued') throw new TokenRefused('already_used', 'this upload token was used already');
    const next: TokenRecord = { ...t, state: 'consumed' };
    catalog.putToken(next);
    return next;
  });
}

/** What a request of the pull asks for. */
export type PullStep = { kind: 'index' } | { kind: 'blob'; digest: string };

export interface PullRequest {
  token: string | undefined;
  imageId: string;
  /** The TCP peer's address. */
  address: string | undefined;
  step: PullStep;
  nowMs: number;
}

/**
 * Checks one request of a pull against its token and records it, in one catalog step (so two
 * racing requests cannot both pass a once-only check). Throws TokenRefused.
 */
export function authorizePull(catalog: ImageCatalog, imageBlobs: readonly string[], r: PullRequest): TokenRecord {
  if (!r.token) throw new TokenRefused('missing_token', 'a repository token is required (Authorization: Bearer …)');
  const { token } = r;
  return catalog.atomically(() => {
    const t = checkToken(catalog, { ...r, token });
    if (t.purpose === 'upload') throw new TokenRefused('wrong_purpose', 'this token is for an upload, not a pull');
    if (t.state === 'consumed') throw new TokenRefused('already_used', 'this token was used by a completed pull');
    const next: TokenRecord = { ...t, served: [...t.served] };
    if (r.step.kind === 'index') {
      if (t.state !== 'issued') throw new TokenRefused('already_used', 'this token has already started a pull');
      next.state = 'pulling';
    } else {
      const { digest } = r.step;
      if (t.state !== 'pulling') throw new TokenRefused('pull_not_started', 'fetch index.json first');
      if (!imageBlobs.includes(digest)) throw new TokenRefused('not_in_image', `${digest} is not part of this image`);
      if (t.served.includes(digest))
        throw new TokenRefused('blob_already_served', `${digest} was already served to this token`);
      next.served.push(digest);
      if (imageBlobs.every((d) => next.served.includes(d))) next.state = 'consumed';
    }
    catalog.putToken(next);
    return next;
  });
}

/** Logs a refusal: enough to investigate (image, address, reason, hash prefix), never the token. */
export function logRefusal(log: Logger, r: Omit<PullRequest, 'step'> & { step?: PullStep }, e: TokenRefused): void {
  log.warn(
    {
      image: r.imageId,
      address: r.address,
      reason: e.reason,
      token: r.token ? hashToken(r.token).slice(0, 12) : undefined,
      step: r.step === undefined ? 'upload' : r.step.kind === 'blob' ? r.step.digest : 'index.json',
    },
    `repository ${r.step === undefined ? 'upload' : 'pull'} refused: ${e.message}`,
  );
}
