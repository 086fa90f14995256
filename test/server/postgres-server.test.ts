/**
 * `hypernet server --database postgresql://…` as an operator runs it: real server processes on a
 * throwaway PostgreSQL cluster (testkit/postgres.ts). Two servers share the database: what one creates,
 * the other lists and streams on its watch. While the database is down requests answer 503 with a
 * NeutronError, and the servers recover by themselves once it is back. Bad flags are refused clearly.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ApiClient } from '../../src/client/api.js';
import type { WatchMessage } from '../../src/model/watch.js';
import { hasPostgres, startTestPostgres, type TestPostgres } from '../../testkit/postgres.js';
import { skipUnless } from '../../testkit/preconditions.js';
import {
  type ServerProcess,
  startServerProcess as startServer,
  stopServerProcess as stopServer,
} from '../../testkit/server-process.js';
import { expectFault } from './helpers.js';

const BIN = new URL('../../../bin/hypernet.js', import.meta.url).pathname;

describe('hypernet server on PostgreSQL', {
  skip: skipUnless(hasPostgres(), 'PostgreSQL is not installed (Debian package postgresql)'),
}, () => {
  let db: TestPostgres;
  let one: ServerProcess;
  let two: ServerProcess;
  before(async () => {
    db = await startTestPostgres();
    [one, two] = await Promise.all([startServer(['--database', db.url]), startServer(['--database', db.url])]);
  });
  after(async () => {
    await stopServer(one);
    await stopServer(two);
    db?.stop();
  });

  it('serves the API from the database; another server lists the same objects', async () => {
    const c = new ApiClient({ url: one.url });
    const net = await c.create<{ id: string; provider_segmentation_id?: number }>('networks', 'network', {
      name: 'pg-net',
    });
    const subnet = await c.create<{ id: string }>('subnets', 'subnet', {
      network_id: net.id,
      cidr: '10.20.0.0/24',
      ip_version: 4,
    });
    // Ports created on both servers at once draw from the same subnet: no address twice.
    const c2 = new ApiClient({ url: two.url });
    const ports = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? c : c2).create<{ id: string; fixed_ips: { ip_address: string }[] }>('ports', 'port', {
          network_id: net.id,
          name: `p${i}`,
        }),
      ),
    );
    const ips = ports.map((p) => p.fixed_ips[0].ip_address);
    assert.equal(new Set(ips).size, 10, ips.join(' '));
    const listed = await c2.list<{ id: string }>('ports', { network_id: [net.id] });
    assert.deepEqual(new Set(listed.map((p) => p.id)), new Set(ports.map((p) => p.id)));
    assert.equal((await c2.show<{ id: string }>('subnets', 'subnet', subnet.id)).id, subnet.id);
  });

  it("streams one server's commits on another server's watch", async () => {
    const c = new ApiClient({ url: one.url });
    const seen: WatchMessage[] = [];
    const ctl = new AbortController();
    let resolveCreated: () => void;
    const created = new Promise<void>((r) => {
      resolveCreated = r;
    });
    const stream = new ApiClient({ url: two.url })
      .watch(
        undefined,
        (m) => {
          seen.push(m);
          if (m.type === 'event' && m.kind === 'network' && (m.object as { name?: string }).name === 'watched')
            resolveCreated();
        },
        ctl.signal,
      )
      .catch(() => undefined);
    while (!seen.length) await new Promise((r) => setTimeout(r, 20));
    assert.equal(seen[0].type, 'snapshot');
    const snapRevision = (seen[0] as { revision: number }).revision;
    await c.create('networks', 'network', { name: 'watched' });
    // Well within the 5 s heartbeat, which would also re-read the log: the wake-up came by NOTIFY.
    await Promise.race([
      created,
      new Promise((_, rej) => setTimeout(() => rej(new Error('event not streamed')), 2_000)),
    ]);
    ctl.abort();
    await stream;
    const events = seen.filter((m) => m.type === 'event') as { revision: number }[];
    assert.deepEqual(
      events.map((e) => e.revision),
      events.map((_, i) => snapRevision + 1 + i),
    );
  });

  it('answers 503 while the database is down and recovers by itself when it is back', async () => {
    const c = new ApiClient({ url: one.url });
    db.pause();
    try {
      await expectFault(() => c.list('networks'), 503, 'ServiceUnavailable');
      await expectFault(() => c.create('networks', 'network', { name: 'lost' }), 503, 'ServiceUnavailable');
      const raw = await fetch(`${one.url}/v2.0/networks`);
      assert.equal(raw.status, 503);
      const body = (await raw.json()) as { NeutronError: { message: string } };
      assert.match(body.NeutronError.message, /cannot reach its database/);
    } finally {
      db.resume();
    }
    let nets: { name: string }[] | undefined;
    for (let i = 0; i < 100 && !nets; i++) {
      nets = await c.list<{ name: string }>('networks').catch(() => undefined);
      if (!nets) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(nets, 'server did not recover');
    assert.ok(nets.some((n) => n.name === 'pg-net'));
    assert.ok(!nets.some((n) => n.name === 'lost'));
    await new ApiClient({ url: two.url }).create('networks', 'network', { name: 'after-outage' });
  });

  it('refuses bad flags and an unreachable database with a clear message', () => {
    const run = (args: string[]) =>
      spawnSync(process.execPath, [BIN, 'server', '--port', '0', ...args], { encoding: 'utf8', timeout: 20_000 });
    const both = run(['--database', db.url, '--data-dir', '/nonexistent']);
    assert.equal(both.status, 1);
    assert.match(both.stderr, /either --database \(PostgreSQL\) or --data-dir \(SQLite\), not both/);
    const bad = run(['--database', 'mysql://u@h/db']);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--database must be a postgresql:\/\/ URL/);
    const secret = run(['--database', 'postgresql://u:s3cret@127.0.0.1:1/db']);
    assert.equal(secret.status, 1);
    assert.match(secret.stderr, /cannot reach PostgreSQL at postgresql:\/\/u:\*\*\*@127\.0\.0\.1:1\/db/);
    assert.doesNotMatch(secret.stderr, /s3cret/);
  });
});
