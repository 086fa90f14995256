/**
 * Shared plumbing of every resource command: the connection and output flags, the API client
 * from them, and the action wrapper that prints failures on one line and sets the exit code.
 */
import { type Command, Option, type CommanderError } from 'commander';
import { ApiClient } from '../client/api.js';
import { resolveConnection } from './config.js';
import { EXIT, errorLine, exitCodeFor } from './errors.js';
import { FORMATS, parseFormat, type Format } from './format.js';

export function withConnection(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'server endpoint(s), http://HOST:PORT or unix:/PATH, comma-separated (env HYPERNET_URL)')
    .option('--token <token>', 'auth token, sent as X-Auth-Token (env HYPERNET_TOKEN)')
    .option('--config <file>', 'config file (default ~/.config/hypernet/config.yaml)');
}

export function withOutput(cmd: Command): Command {
  return cmd.addOption(new Option('-o, --output <format>', 'output format').choices([...FORMATS]).default('table'));
}

export function clientFrom(opts: Record<string, unknown>): ApiClient {
  const conn = resolveConnection({
    url: opts.url as string | undefined,
    token: opts.token as string | undefined,
    config: opts.config as string | undefined,
  });
  return new ApiClient({ url: conn.url, token: conn.token, timeoutMs: 30_000 });
}

export function formatFrom(opts: Record<string, unknown>): Format {
  return parseFormat(opts.output as string | undefined);
}

export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** Wraps an action: any failure becomes one line on stderr and the matching exit code. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      process.stderr.write(`${errorLine(e)}\n`);
      process.exitCode = exitCodeFor(e);
    }
  };
}

/** Commander's own parse errors (unknown flag, missing argument) exit 2; help and version exit 0. */
export function usageExits(cmd: Command): Command {
  return cmd.exitOverride((err: CommanderError) => {
    process.exit(err.exitCode === 0 ? EXIT.OK : EXIT.USAGE);
  });
}
