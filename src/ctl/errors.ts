/**
 * Exit codes of the `hypernet` resource commands and the one-line error text, in one place:
 * 0 ok, 1 the API answered with an error (NeutronError), 2 usage error, 3 cannot reach the server.
 */
import { ApiError } from '../client/api.js';

export const EXIT = { OK: 0, API: 1, USAGE: 2, CONNECT: 3 } as const;

/** A mistake in the command line (bad flag value, missing config file …): exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The exit code a script sees for this failure. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return EXIT.USAGE;
  if (err instanceof ApiError) return err.status === 0 ? EXIT.CONNECT : EXIT.API;
  return EXIT.API;
}

/** The failure as one line (the server's NeutronError message for API errors). */
export function errorLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return `Error: ${msg.replace(/\s*\n\s*/g, ' ').trim()}`;
}
