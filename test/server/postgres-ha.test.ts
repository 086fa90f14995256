/**
 * Several in-process servers on one throwaway PostgreSQL (testkit/postgres.ts): a client and a watch
 * given every server's URL fail over when one goes away or answers 5xx, the watch resumes from its
 * last revision without a new snapshot, heartbeats do not wait for the writers' lock, and `/readyz`
 * follows the database.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { ApiClient } from '../../src/client/api.js';
import { realClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/log.js';
import { ModelCache } from '../../src/model/model-cache.js';
import { WatchLoop } from '../../src/agent/loop/watch-loop.js';
import { defaultConfig } from '../../src/server/config.js';
import { serve, type RunningServer } from '../../src/server/serve.js';
import { hasPostgres, startTestPostgres, type TestPostgres } from '../../testkit/postgres.js';
import { skipUnless } from '../../testkit/preconditions.js';
import { eventually } from '../../testkit/wait.js';

const startServer = (url: string) =>
  serve({
    host: '127.0.0.1',
    port: 0,
    database: url,
    config: { ...defaultConfig(), watchHeartbeatMs: 200 },
    auth: { mode: 'noauth', defaultProjectId: 'p' },
    logger: silentLogger(),
  });

describe('servers on one PostgreSQL: failover, quiet heartbeats, readiness', {
  skip: skipUnless(hasPostgres(), 'PostgreSQL is not installed (Debian package postgresql)'),
}, () => {
  let db: TestPostgres;
  let a: RunningServer;
  let b: RunningServer;
  let aClosed = false;
  before(async () => {
    db = await startTestPostgres();
    [a, b] = await Promise.all([startServer(db.url), startServer(db.url)]);
  });
  after(async () => {
    if (!aClosed) await a?.close();
    await b?.close();
    db?.stop();
  });

  it('moves past a server answering 503, repeating a GET and a keyed create', async () => {
    const sick = http.createServer((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"NeutronError": {"type": "ServiceUnavailable", "message": "down", "detail": ""}}');
    });
    await new Promise<void>((r) => sick.listen(0, '127.0.0.1', r));
    const sickUrl = `http://127.0.0.1:${(sick.address() as AddressInfo).port}`;
    try {
      const c = new ApiClient({ url: `${sickUrl},${b.url}` });
      const net = await c.create<{ id: string }>('networks', 'network', { name: 'via-b' });
      assert.equal(c.url, b.url);
      assert.equal((await c.show<{ name: string }>('networks', 'network', net.id)).name, 'via-b');
      // A POST without a key is not repeated: the 503 is the answer.
      const lone = new ApiClient({ url: `${sickUrl},${b.url}` });
      await assert.rejects(lone.call('POST', '/v2.0/networks', { network: { name: 'x' } }), { status: 503 });
    } finally {
      sick.close();
    }
  });

  it('resumes the watch on the next server from its last revision, without a new snapshot', async () => {
    const api = new ApiClient({ url: `${a.url},${b.url}` });
    const cache = new ModelCache();
    let snapshots = 0;
    const applySnapshot = cache.applySnapshot.bind(cache);
    cache.applySnapshot = (s) => {
      snapshots++;
      applySnapshot(s);
    };
    const watch = new WatchLoop({
      api,
      cache,
      clock: realClock,
      log: silentLogger(),
      onChange: () => {},
      staleMs: 2_000,
    });
    watch.start();
    try {
      const one = await api.create<{ id: string }>('networks', 'network', { name: 'before' });
      assert.ok(await eventually(async () => cache.view().networks.has(one.id), 10_000), 'first network cached');
      assert.equal(api.url, a.url);
      await a.close();
      aClosed = true;
      const two = await api.create<{ id: string }>('networks', 'network', { name: 'after' });
      assert.equal(api.url, b.url);
      assert.ok(await eventually(async () => cache.view().networks.has(two.id), 10_000), 'second network via b');
      assert.equal(snapshots, 1, 'resumed with since, no full resync');
      assert.equal(cache.revision, await b.store.read((tx) => tx.revision()));
    } finally {
      await watch.stop();
    }
  });

  it("records a heartbeat while another writer holds the writers' lock", async () => {
    const api = new ApiClient({ url: b.url });
    const agent = await api.create<{ id: string }>('agents', 'agent', {
      host: 'hb-node',
      agent_type: 'hypernet agent',
      binary: 'hypernet-agent',
      configurations: { tunneling_ip: '192.0.2.10', cloud: 'c' },
    });
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN; LOCK TABLE changes IN EXCLUSIVE MODE');
      const t0 = Date.now();
      await api.update('agents', 'agent', agent.id, { heartbeat: true });
      assert.ok(Date.now() - t0 < 2_000, 'the heartbeat did not wait for the lock');
      // A write that changes something does wait for it.
      let done = false;
      const write = api.update('agents', 'agent', agent.id, { description: 'changed' }).then(() => {
        done = true;
      });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(done, false, 'a full write waits for the lock');
      await holder.query('COMMIT');
      await write;
    } finally {
      await holder.end();
    }
    const shown = await api.show<{ description: string }>('agents', 'agent', agent.id);
    assert.equal(shown.description, 'changed');
  });

  it('is ready while the database answers, and 503 while it is gone', async () => {
    const probe = new ApiClient({ url: b.url });
    assert.equal((await probe.raw('GET', '/readyz')).status, 200);
    db.pause();
    try {
      const r = await probe.raw('GET', '/readyz');
      assert.equal(r.status, 503);
      assert.equal((await probe.raw('GET', '/healthz')).status, 200);
    } finally {
      db.resume();
    }
    assert.ok(await eventually(async () => (await probe.raw('GET', '/readyz')).status === 200, 20_000), 'ready again');
  });
});
