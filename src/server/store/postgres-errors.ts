/**
 * How the PostgreSQL store reads a driver error: a serialization conflict (retry the transaction), a
 * lost or refused connection (the database is unavailable: 503, and the pool reconnects by itself),
 * or anything else (a bug or a constraint, passed on unchanged).
 */

/** SQLSTATEs a transaction may simply be run again after: serialization failure, deadlock. */
const RETRYABLE = new Set(['40001', '40P01']);

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
 * True when `e` says the database is out of reach: class 08 (connection exception), 57P01–57P03
 * (shut down, crashed, starting up), 53300 (no connection slot), a socket error or a dropped connection.
 */
export function isConnectionError(e: unknown): boolean {
  const code = String((e as DbError)?.code ?? '');
  if (code.startsWith('08') || ['57P01', '57P02', '57P03', '53300'].includes(code) || SOCKET_CODES.has(code))
    return true;
  if (e instanceof AggregateError) return e.errors.some(isConnectionError);
  return DRIVER_MESSAGES.test(String((e as DbError)?.message ?? ''));
}
