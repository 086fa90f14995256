/**
 * A real hypernet server for the CLI and dashboard tests: the same assembly as `hypernet server`
 * (src/server/serve.ts: SQLite store in a temp data dir, fastify on a free TCP port, /ui included),
 * run in this process; plus a runner for the real `hypernet` executable as a child process.
 */
import { PROVIDERS } from '../../src/providers.js';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../src/common/log.js';
import { defaultConfig, type ServerConfig } from '../../src/server/config.js';
import { serve } from '../../src/server/serve.js';
import type { TokenInfo } from '../../src/server/auth.js';
import { ApiClient } from '../../src/client/api.js';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const HYPERNET = join(REPO, 'bin', 'hypernet.js');

export interface TestServer {
  url: string;
  /** Admin client (noauth, or the first admin token). */
  admin: ApiClient;
  close(): Promise<void>;
}

export interface StartOptions {
  tokens?: Record<string, TokenInfo>;
  config?: Partial<ServerConfig>;
  /** Data directory (default: a fresh temp dir); removed on close either way. */
  dataDir?: string;
  /** Also serve on this Unix socket (how agents in other namespaces reach the server). */
  unixSocket?: string;
}

export async function startServer(opts: StartOptions = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'hn-ctl-server-'));
  const config = { ...defaultConfig(), ...opts.config };
  const auth = opts.tokens
    ? { mode: 'token' as const, tokens: opts.tokens }
    : { mode: 'noauth' as const, defaultProjectId: config.defaultProjectId };
  const server = await serve({
    host: '127.0.0.1',
    port: 0,
    unixSocket: opts.unixSocket,
    dataDir,
    config,
    auth,
    logger: silentLogger(),
    providers: PROVIDERS,
  });
  const adminToken = opts.tokens
    ? Object.entries(opts.tokens).find(([, v]) => v.roles.includes('admin'))?.[0]
    : undefined;
  return {
    url: server.url,
    admin: new ApiClient({ url: server.url, token: adminToken }),
    async close() {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `hypernet ARGS` for real; HOME is a fresh temp dir so no user config leaks in. */
export function hypernet(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const home = mkdtempSync(join(tmpdir(), 'hn-ctl-home-'));
  const clean = { ...process.env };
  delete clean.HYPERNET_URL;
  delete clean.HYPERNET_TOKEN;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [HYPERNET, ...args],
      { env: { ...clean, HOME: home, XDG_CONFIG_HOME: '', ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        rmSync(home, { recursive: true, force: true });
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : -1
          : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Agent registration as the agent does it (CONVENTIONS.md). */
export async function registerAgent(
  admin: ApiClient,
  host: string,
  cloud: string,
  tunnelingIp: string,
): Promise<{ id: string }> {
  return admin.create('agents', 'agent', {
    host,
    agent_type: 'hypernet agent',
    binary: 'hypernet-agent',
    configurations: { tunneling_ip: tunnelingIp, cloud, underlay_mtu: 1500, capabilities: ['vxlan'] },
  }) as Promise<{ id: string }>;
}

/** `ok(args)`: stdout of a run that must exit 0; `json(args)`: the same with `-o json`, parsed. */
export function cliRunner(env: () => Record<string, string>) {
  const ok = async (args: string[]): Promise<string> => {
    const r = await hypernet(args, env());
    if (r.code !== 0) throw new Error(`hypernet ${args.join(' ')} → ${r.code}: ${r.stderr}`);
    return r.stdout;
  };
  const json = async <T = Record<string, unknown>>(args: string[]): Promise<T> =>
    JSON.parse(await ok([...args, '-o', 'json'])) as T;
  return { ok, json };
}
