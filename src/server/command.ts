/** `hypernet server`: runs the Neutron v2.0 API server (flags as in docs/CONVENTIONS.md). */
import type { Command } from 'commander';
import { createLogger } from '../common/log.js';
import { loadTokens, type AuthConfig } from './auth.js';
import { loadConfig } from './config.js';
import { KeystoneTokens } from './keystone-auth.js';
import { realClock } from '../common/clock.js';
import { serve } from './serve.js';
import { checkDatabaseUrl } from './store/database-url.js';
import type { ProviderFactories } from '../model/provider.js';

interface Flags {
  host: string;
  port: string;
  unixSocket?: string;
  dataDir?: string;
  database?: string;
  auth: string;
  tokensFile?: string;
  config?: string;
  insecureNoauth?: boolean;
}

/** Loopback only: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * In noauth mode every caller is an admin, so it is only safe where nobody else reaches the
 * socket: a TCP address other than loopback needs token auth, or the operator's explicit
 * `--insecure-noauth`.
 */
export function authProblem(flags: Pick<Flags, 'auth' | 'host' | 'insecureNoauth'>): string | undefined {
  if (flags.auth !== 'noauth' || flags.insecureNoauth || isLoopbackHost(flags.host)) return undefined;
  return (
    `--auth noauth makes every caller on ${flags.host} an admin: use --auth token --tokens-file FILE, ` +
    'or --insecure-noauth if only trusted hosts reach that address'
  );
}

export const DEFAULT_DATA_DIR = '/var/lib/hypernet';

/**
 * Where the store lives: `--database URL` (PostgreSQL) or `--data-dir DIR` (SQLite, the default), never
 * both (one of them would be silently ignored). Throws an Error naming the problem.
 */
export function storeFlags(flags: Pick<Flags, 'dataDir' | 'database'>): { dataDir?: string; database?: string } {
  if (flags.database !== undefined && flags.dataDir !== undefined)
    throw new Error('give either --database (PostgreSQL) or --data-dir (SQLite), not both');
  if (flags.database !== undefined) {
    checkDatabaseUrl(flags.database);
    return { database: flags.database };
  }
  return { dataDir: flags.dataDir ?? DEFAULT_DATA_DIR };
}

/** `providers`: the provider drivers the agentless plugin may use (src/providers.ts). */
export function register(program: Command, opts: { providers?: ProviderFactories } = {}): void {
  program
    .command('server')
    .description('run the hypernet API server (Neutron v2.0 API, watch stream)')
    .option('--host <host>', 'TCP address to listen on', '127.0.0.1')
    .option('--port <port>', 'TCP port (0 = any free port)', '9696')
    .option('--unix-socket <path>', 'also serve the API on this Unix socket')
    .option('--data-dir <dir>', `directory of the SQLite database (default: ${DEFAULT_DATA_DIR})`)
    .option('--database <url>', 'PostgreSQL database instead of SQLite: postgresql://user:password@host:5432/db')
    .option('--auth <mode>', 'noauth | token | keystone (keystone_authtoken: section of --config)', 'noauth')
    .option('--tokens-file <file>', 'tokens file for --auth token (with keystone: static tokens for agents)')
    .option('--insecure-noauth', 'allow --auth noauth on an address other than loopback')
    .option('--config <file>', 'YAML/JSON settings (global_physnet_mtu, agent_down_time, base_mac, vni_ranges, …)')
    .action(async (flags: Flags) => {
      try {
        await runServer(flags, opts.providers);
      } catch (e) {
        // A refused start is an operator's problem to fix: say what, without a stack trace.
        process.stderr.write(`hypernet server: ${(e as Error).message}\n`);
        process.exit(1);
      }
    });
}

async function runServer(flags: Flags, providers: ProviderFactories | undefined): Promise<void> {
  const logger = createLogger('hypernet-server', process.env.HYPERNET_LOG_LEVEL ?? 'warn');
  const problem = authProblem(flags);
  if (problem) throw new Error(problem);
  const where = storeFlags(flags);
  const config = loadConfig(flags.config);
  let auth: AuthConfig;
  if (flags.auth === 'noauth') auth = { mode: 'noauth', defaultProjectId: config.defaultProjectId };
  else if (flags.auth === 'token') {
    if (!flags.tokensFile) throw new Error('--auth token needs --tokens-file');
    auth = { mode: 'token', tokens: loadTokens(flags.tokensFile) };
  } else if (flags.auth === 'keystone') {
    if (!config.keystoneAuthtoken) throw new Error('--auth keystone needs a keystone_authtoken: section in --config');
    const keystone = new KeystoneTokens(config.keystoneAuthtoken, realClock, logger.child({ part: 'keystone' }));
    auth = { mode: 'keystone', keystone, tokens: flags.tokensFile ? loadTokens(flags.tokensFile) : undefined };
  } else throw new Error(`unknown --auth ${flags.auth}`);
  const server = await serve({
    host: flags.host,
    port: Number(flags.port),
    unixSocket: flags.unixSocket,
    ...where,
    config,
    auth,
    logger,
    providers,
  });
  process.stdout.write(
    `hypernet server listening on ${server.url}${flags.unixSocket ? ` and unix:${flags.unixSocket}` : ''}\n`,
  );
  if (config.images.repositoryListen) process.stdout.write(`image repository on ${server.repositoryUrl}\n`);
  const stop = () => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
