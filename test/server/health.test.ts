/**
 * `/healthz`, `/readyz` and `/metrics` on a real server (SQLite, HTTP): probes answer without a token,
 * readiness follows the database's schema version, and the Prometheus text counts requests by route
 * pattern and status, times store writes, and shows open watch streams and the revision.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ApiClient } from '../../src/client/api.js';
import { SCHEMA_VERSION } from '../../src/server/store/migrations.js';
import { startTestServer, TENANT_TOKENS, type TestServer } from './helpers.js';

/** The value of one sample line (`name{labels} value`) of the Prometheus text, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const ok = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (ok) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('health and metrics endpoints', () => {
  let server: TestServer;
  let anon: ApiClient;
  before(async () => {
    server = await startTestServer({ tokens: TENANT_TOKENS });
    anon = new ApiClient({ url: server.url });
  });
  after(async () => server?.stop());

  it('answers /healthz and /readyz without a token', async () => {
    assert.deepEqual((await anon.raw('GET', '/healthz')).body, { status: 'ok' });
    const ready = await anon.raw('GET', '/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: 'ready', schema_version: SCHEMA_VERSION });
    // The API itself still needs one.
    assert.equal((await anon.raw('GET', '/v2.0/networks')).status, 401);
  });

  it('counts requests by route pattern and status, and times store writes', async () => {
    const admin = server.client('ADMIN');
    const net = await admin.create<{ id: string }>('networks', 'network', { name: 'm' });
    await admin.show('networks', 'network', net.id);
    await assert.rejects(admin.show('networks', 'network', 'nope'));
    const m = await anon.raw('GET', '/metrics');
    assert.equal(m.status, 200);
    assert.match(String(m.headers['content-type']), /^text\/plain/);
    const text = String(m.body);
    const one = { method: 'POST', route: '/v2.0/networks', status: '201' };
    assert.equal(sample(text, 'hypernet_http_requests_total', one), 1);
    assert.equal(sample(text, 'hypernet_http_request_duration_seconds_count', one), 1);
    const byId = { method: 'GET', route: '/v2.0/networks/:id' };
    assert.equal(sample(text, 'hypernet_http_requests_total', { ...byId, status: '200' }), 1);
    assert.equal(sample(text, 'hypernet_http_requests_total', { ...byId, status: '404' }), 1);
    assert.ok((sample(text, 'hypernet_store_write_duration_seconds_count', { outcome: 'ok' }) ?? 0) >= 1);
    const revision = await server.store.read((tx) => tx.revision());
    assert.ok(revision > 0);
    assert.equal(sample(text, 'hypernet_store_revision'), revision);
    assert.ok((sample(text, 'hypernet_server_process_resident_memory_bytes') ?? 0) > 0);
  });

  it('shows open watch streams', async () => {
    const read = async () => sample(String((await anon.raw('GET', '/metrics')).body), 'hypernet_watch_clients');
    assert.equal(await read(), 0);
    const ctrl = new AbortController();
    let seen!: () => void;
    const snapshot = new Promise<void>((r) => {
      seen = r;
    });
    const stream = server.client('ADMIN').watch(undefined, () => seen(), ctrl.signal);
    await snapshot;
    assert.equal(await read(), 1);
    ctrl.abort();
    await stream;
    for (let i = 0; i < 50 && (await read()) !== 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await read(), 0);
  });

  it('is not ready once the database has a newer schema than the server runs', async () => {
    const db = new Database(join(server.dir, 'data', 'hypernet.db'));
    try {
      db.prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)').run(SCHEMA_VERSION + 1, 'later');
      const r = await anon.raw('GET', '/readyz');
      assert.equal(r.status, 503);
      assert.match(JSON.stringify(r.body), new RegExp(`schema version ${SCHEMA_VERSION + 1}`));
      assert.equal((await anon.raw('GET', '/healthz')).status, 200);
    } finally {
      db.prepare('DELETE FROM schema_version WHERE version = ?').run(SCHEMA_VERSION + 1);
      db.close();
    }
    assert.equal((await anon.raw('GET', '/readyz')).status, 200);
  });
});
