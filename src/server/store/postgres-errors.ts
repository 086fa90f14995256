/**
 * How the PostgreSQL store reads a driver error: a serialization conflict (retry the transaction), a
 * lost or refused connection (the database is unavailable: 503, and the pool reconnects by itself),
 * or anything else (a bug or a constraint, passed on unchanged).
 */

/** SQLSTATEs a transaction may simply be run again after: serialization failure, deadlock. */
const RETRYABLE = new Set(['40001', '40P01']);

/** SQLSTATEs of a server going away: shut down, crashed, starting up. */
const GONE = new Set(['57P01', '57P02', '57P03']);
/** SQLSTATEs meaning "not now" on a working connection: no connection slot, the writers' lock not had in time. */
const BUSY = new Set(['53300', '55P03']);

/** Socket-level errors of Node and the driver's own messages for a dead connection. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
const DRIVER_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|is not queryable|not connected/i;

/** The error of a first connection that failed: where (password masked) and why. */
export function unreachable(where: string, e: unknown): Error {
  return new Error(`cannot reach PostgreSQL at ${where}: ${(e as Error)?.message}`, { cause: e });
}

type DbError = { code?: unknown; message?: unknown };

export function isRetryable(e: unknown): boolean {
  return RETRYABLE.has(String((e as DbError)?.code));
}

/**
 * True when the connection is gone: class 08 (connection exception), 57P01–57P03 (shut down, crashed,
 * starting up), a socket error, or the driver's own "connection terminated".
 */
export function isConnectionLost(e: unknown): boolean {
  const code = String((e as DbError)?.code ?? '');
  if (code.startsWith('08') || GONE.has(code) || SOCKET_CODES.has(code)) return true;
  if (e instanceof AggregateError) return e.errors.some(isConnectionLost);
  return DRIVER_MESSAGES.test(String((e as DbError)?.message ?? ''));
}

/**
 * True when the request cannot be served now but may be later (the API's 503): a lost connection, no
 * free connection slot (53300), or the writers' lock not had within the lock timeout (55P03: another
 * server holds it too long).
 */
export function isUnavailable(e: unknown): boolean {
  return isConnectionLost(e) || BUSY.has(String((e as DbError)?.code ?? ''));
}
