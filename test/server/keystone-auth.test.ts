/**
 * `--auth keystone` against a REAL Keystone (testkit/keystone.ts) and a real server over HTTP: tokens
 * from password auth are accepted and scoped to their project; admin, member and reader map to
 * Neutron's default policy; unknown, revoked and expired tokens are 401 with `WWW-Authenticate`;
 * Keystone out of reach is 503; a static agent token still works beside Keystone; and the stock
 * `openstack` CLI works with a clouds.yaml, password auth and the catalog's `network` endpoint.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { realClock } from '../../src/common/clock.js';
import { realExec } from '../../src/common/exec.js';
import { issueToken, type IssuedToken, type PasswordCredentials } from '../../src/client/keystone.js';
import {
  cloudsYaml,
  projectUser,
  registerNetworkEndpoint,
  serviceUser,
  type KeystoneAuthtokenSection,
  type RunningKeystone,
} from '../../src/lab/keystone.js';
import type { AuthConfig } from '../../src/server/auth.js';
import { loadConfig } from '../../src/server/config.js';
import { KeystoneTokens } from '../../src/server/keystone-auth.js';
import { haveKeystone, startTestKeystone } from '../../testkit/keystone.js';
import { skipUnless } from '../../testkit/preconditions.js';
import { startTestServer, type TestServer } from './helpers.js';

const haveCli = (() => {
  try {
    execFileSync('openstack', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** Keystone's token lifetime here: short, so the expiry test waits seconds, and the service token renews. */
const TOKEN_LIFETIME_S = 20;

/** A server behind Keystone, configured through a real config file as `hypernet server --config` reads it. */
async function keystoneServer(dir: string, section: KeystoneAuthtokenSection): Promise<TestServer> {
  const file = join(dir, `server-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, stringifyYaml({ keystone_authtoken: section }));
  const config = loadConfig(file);
  const auth: AuthConfig = {
    mode: 'keystone',
    keystone: new KeystoneTokens(config.keystoneAuthtoken!, realClock),
    tokens: { 'agent-static-token': { project_id: 'ops', roles: ['admin'] } },
  };
  return startTestServer({ config, auth });
}

async function call(s: TestServer, method: string, path: string, token?: string, body?: unknown) {
  const res = await fetch(`${s.url}${path}`, {
    method,
    headers: { ...(token ? { 'x-auth-token': token } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, challenge: res.headers.get('www-authenticate'), body: (await res.json()) as never };
}

describe('--auth keystone', { skip: skipUnless(haveKeystone, 'python3-keystone not installed') }, () => {
  let ks: RunningKeystone;
  let s: TestServer;
  let section: KeystoneAuthtokenSection;
  const users: Record<string, PasswordCredentials> = {};
  const tokens: Record<string, IssuedToken> = {};

  before(async () => {
    ks = await startTestKeystone({ tokenExpiration: TOKEN_LIFETIME_S });
    section = { ...(await serviceUser(ks)), token_cache_time: 2, negative_cache_time: 1 };
    users.admin = ks.adminCredentials;
    users.alice = await projectUser(ks, 'alpha', 'alice', 'member');
    users.rita = await projectUser(ks, 'alpha', 'rita', 'reader');
    users.bob = await projectUser(ks, 'beta', 'bob', 'member');
    s = await keystoneServer(ks.dir, section);
    await registerNetworkEndpoint(ks, s.url);
    for (const [name, c] of Object.entries(users)) tokens[name] = await issueToken(c);
  });
  after(async () => {
    await s?.stop();
    await ks?.stop();
  });

  it('answers 401 with WWW-Authenticate naming Keystone without a token or with a made-up one', async () => {
    for (const token of [undefined, 'gAAAAAB-not-a-token']) {
      const r = await call(s, 'GET', '/v2.0/networks', token);
      assert.equal(r.status, 401);
      assert.equal(r.challenge, `Keystone uri="${ks.authUrl}"`);
      assert.equal((r.body as { NeutronError: { type: string } }).NeutronError.type, 'Unauthorized');
    }
  });

  it('scopes a member to its Keystone project; another project does not see it; admin sees all', async () => {
    const created = await call(s, 'POST', '/v2.0/networks', tokens.alice.token, { network: { name: 'alpha-net' } });
    assert.equal(created.status, 201);
    const net = (created.body as { network: { id: string; project_id: string } }).network;
    assert.equal(net.project_id, tokens.alice.body.project?.id);
    const bob = await call(s, 'GET', '/v2.0/networks', tokens.bob.token);
    assert.deepEqual((bob.body as { networks: unknown[] }).networks, []);
    assert.equal((await call(s, 'GET', `/v2.0/networks/${net.id}`, tokens.bob.token)).status, 404);
    const bobNet = await call(s, 'POST', '/v2.0/networks', tokens.bob.token, { network: { name: 'beta-net' } });
    assert.equal(bobNet.status, 201);
    const all = await call(s, 'GET', '/v2.0/networks', tokens.admin.token);
    const names = (all.body as { networks: { name: string }[] }).networks.map((n) => n.name).sort();
    assert.deepEqual(names, ['alpha-net', 'beta-net']);
    // A member may not act for another project; an admin may.
    const foreign = { network: { name: 'x', project_id: tokens.bob.body.project?.id } };
    assert.equal((await call(s, 'POST', '/v2.0/networks', tokens.alice.token, foreign)).status, 400);
    assert.equal((await call(s, 'POST', '/v2.0/networks', tokens.admin.token, foreign)).status, 201);
  });

  it('lets a reader read its project but not write (403)', async () => {
    const list = await call(s, 'GET', '/v2.0/networks', tokens.rita.token);
    assert.equal(list.status, 200);
    assert.deepEqual(
      (list.body as { networks: { name: string }[] }).networks.map((n) => n.name),
      ['alpha-net'],
    );
    const post = await call(s, 'POST', '/v2.0/networks', tokens.rita.token, { network: { name: 'nope' } });
    assert.equal(post.status, 403);
    assert.equal((post.body as { NeutronError: { type: string } }).NeutronError.type, 'PolicyNotAuthorized');
    const id = (list.body as { networks: { id: string }[] }).networks[0].id;
    assert.equal((await call(s, 'DELETE', `/v2.0/networks/${id}`, tokens.rita.token)).status, 403);
  });

  it('refuses a revoked token once the cache time has passed', async () => {
    const t = await issueToken(users.alice);
    assert.equal((await call(s, 'GET', '/v2.0/networks', t.token)).status, 200);
    await (await ks.admin()).revoke(t.token);
    await realClock.sleep((section.token_cache_time ?? 0) * 1000 + 300);
    const r = await call(s, 'GET', '/v2.0/networks', t.token);
    assert.equal(r.status, 401);
    assert.equal(r.challenge, `Keystone uri="${ks.authUrl}"`);
  });

  it('still accepts an agent static token from the tokens file beside Keystone', async () => {
    const r = await call(s, 'GET', '/v2.0/agents', 'agent-static-token');
    assert.equal(r.status, 200);
  });

  it('answers 503 when Keystone cannot be reached', async () => {
    const dead = await keystoneServer(ks.dir, {
      ...section,
      auth_url: 'http://127.0.0.1:9/v3',
      www_authenticate_uri: 'http://127.0.0.1:9/v3',
      http_connect_timeout: 2,
    });
    try {
      const r = await call(dead, 'GET', '/v2.0/networks', tokens.alice.token);
      assert.equal(r.status, 503);
      assert.equal((r.body as { NeutronError: { type: string } }).NeutronError.type, 'ServiceUnavailable');
      // Without a token it is still a plain 401: nothing needs Keystone to say so.
      assert.equal((await call(dead, 'GET', '/v2.0/networks')).status, 401);
    } finally {
      await dead.stop();
    }
  });

  it('works with the stock openstack CLI, a clouds.yaml and password auth', {
    skip: skipUnless(haveCli, 'openstack CLI not installed'),
  }, async () => {
    const file = join(ks.dir, 'clouds.yaml');
    writeFileSync(file, cloudsYaml({ 'hn-alice': users.alice, 'hn-rita': users.rita }), { mode: 0o600 });
    const os = async (cloud: string, args: string[]) =>
      realExec('openstack', ['--os-cloud', cloud, ...args], {
        allowFail: true,
        timeoutMs: 90_000,
        env: { ...process.env, OS_CLIENT_CONFIG_FILE: file, OS_CLOUD: '', OS_AUTH_URL: '' },
      });
    const created = await os('hn-alice', ['network', 'create', 'cli-net', '-f', 'json']);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(JSON.parse(created.stdout).project_id, tokens.alice.body.project?.id);
    const listed = await os('hn-rita', ['network', 'list', '-f', 'json']);
    assert.equal(listed.code, 0, listed.stderr);
    const names = (JSON.parse(listed.stdout) as { Name: string }[]).map((n) => n.Name).sort();
    assert.deepEqual(names, ['alpha-net', 'cli-net']);
    const refused = await os('hn-rita', ['network', 'create', 'rita-net', '-f', 'json']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /403|disallowed by policy/);
  });

  it('refuses a token once Keystone says it expired', async () => {
    // tokens.bob was issued in before(); wait out its (short) life, then one more cache period.
    const wait = tokens.bob.expiresAtMs - Date.now() + (section.token_cache_time ?? 0) * 1000 + 1000;
    if (wait > 0) await realClock.sleep(wait);
    const r = await call(s, 'GET', '/v2.0/networks', tokens.bob.token);
    assert.equal(r.status, 401);
    assert.equal(r.challenge, `Keystone uri="${ks.authUrl}"`);
    // The server's own service token has been renewed meanwhile: fresh tokens still validate.
    const fresh = await issueToken(users.bob);
    assert.equal((await call(s, 'GET', '/v2.0/networks', fresh.token)).status, 200);
  });
});
