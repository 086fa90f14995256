/**
 * Test helpers: a real server (SQLite file in a temp dir, HTTP on port 0) and a client for it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { ApiClient } from '../../src/client/api.js';
import { silentLogger } from '../../src/common/log.js';
import type { AuthConfig, TokenInfo } from '../../src/server/auth.js';
import { defaultConfig, type ServerConfig } from '../../src/server/config.js';
import { serve, type RunningServer } from '../../src/server/serve.js';

export interface TestServer extends RunningServer {
  dir: string;
  client(token?: string): ApiClient;
  stop(): Promise<void>;
}

export async function startTestServer(
  opts: {
    config?: Partial<ServerConfig>;
    tokens?: Record<string, TokenInfo>;
    unixSocket?: boolean;
    /** Overrides what `tokens` chooses (keystone mode). */
    auth?: AuthConfig;
  } = {},
): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'hn-server-'));
  const config = { ...defaultConfig(), ...opts.config };
  const auth: AuthConfig = opts.auth
    ? opts.auth
    : opts.tokens
      ? { mode: 'token', tokens: opts.tokens }
      : { mode: 'noauth', defaultProjectId: config.defaultProjectId };
  if (opts.tokens) writeFileSync(join(dir, 'tokens.json'), JSON.stringify(opts.tokens));
  const server = await serve({
    host: '127.0.0.1',
    port: 0,
    dataDir: join(dir, 'data'),
    unixSocket: opts.unixSocket ? join(dir, 'server.sock') : undefined,
    config,
    auth,
    logger: silentLogger(),
  });
  return {
    ...server,
    dir,
    client: (token?: string) => new ApiClient({ url: server.url, token }),
    async stop() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Token auth with an admin (project `ops`) and two members (projects `pa` and `pb`). */
export const TENANT_TOKENS: Record<string, TokenInfo> = {
  ADMIN: { project_id: 'ops', roles: ['admin'] },
  ALICE: { project_id: 'pa', roles: ['member'] },
  BOB: { project_id: 'pb', roles: ['member'] },
};

/** Everything the API shows an admin, to compare before/after a failed request. */
export async function fullState(c: ApiClient): Promise<unknown> {
  const out: Record<string, unknown> = {};
  const paths = ['networks', 'subnets', 'ports', 'security-groups', 'security-group-rules', 'routers', 'floatingips'];
  for (const p of [...paths, 'subnetpools', 'hypervms']) out[p] = await c.list(p);
  return out;
}

/** Asserts that `fn` fails with the given HTTP status and NeutronError type. */
export async function expectFault(fn: () => Promise<unknown>, status: number, type: string): Promise<void> {
  try {
    await fn();
  } catch (err) {
    const e = err as { status?: number; type?: string; message: string };
    if (e.status === undefined) throw err;
    if (e.status !== status || e.type !== type)
      throw new Error(`expected ${status} ${type}, got ${e.status} ${e.type}: ${e.message}`);
    return;
  }
  throw new Error(`expected ${status} ${type}, but the request succeeded`);
}

/** Asserts the request fails as given AND leaves the store untouched (same revision, same listing). */
export async function expectRejectedUnchanged(
  s: TestServer,
  fn: () => Promise<unknown>,
  status: number,
  type: string,
): Promise<void> {
  const c = s.client(Object.keys(adminTokenHolder).length ? adminTokenHolder.token : undefined);
  const before = { state: await fullState(c), revision: await s.store.read((tx) => tx.revision()) };
  await expectFault(fn, status, type);
  const after = { state: await fullState(c), revision: await s.store.read((tx) => tx.revision()) };
  assert.deepEqual(after, before);
}

/** Token for the admin listing in expectRejectedUnchanged when the server runs token auth. */
export const adminTokenHolder: { token?: string } = {};

/** Sends raw text (e.g. malformed JSON); throws {status, type} like ApiClient on an error answer. */
export async function postText(s: TestServer, path: string, text: string): Promise<unknown> {
  const res = await fetch(s.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: text,
  });
  const body = (await res.json()) as { NeutronError?: { type: string; message: string } };
  if (res.ok) return body;
  throw Object.assign(new Error(body.NeutronError?.message ?? 'failed'), {
    status: res.status,
    type: body.NeutronError?.type,
  });
}
