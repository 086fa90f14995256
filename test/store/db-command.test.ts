/**
 * `hypernet db migrate` and `hypernet db copy` run as an operator runs them (the real CLI), against a
 * real SQLite file and a throwaway PostgreSQL cluster: the schema is created and versioned on both
 * backends; a copied site has every object, allocation, quota, the revision and the change log; a
 * non-empty target is refused, and a copy that fails half-way leaves the target empty.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Network, Port } from '../../src/model/types.js';
import { SCHEMA_VERSION } from '../../src/server/store/migrations.js';
import { PostgresStore } from '../../src/server/store/postgres.js';
import { SqliteStore } from '../../src/server/store/sqlite.js';
import type { ReadTx, Store } from '../../src/server/store/store.js';
import { hasPostgres, startTestPostgres, type TestPostgres } from '../../testkit/postgres.js';
import { skipUnless } from '../../testkit/preconditions.js';

const BIN = new URL('../../../bin/hypernet.js', import.meta.url).pathname;
const hypernet = (...args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });

const net = (id: string, i: number) => ({ id, name: `n${i}`, project_id: `proj${i % 3}` }) as unknown as Network;
const port = (id: string) => ({ id, name: id, project_id: 'proj0' }) as unknown as Port;

/** Everything a store holds that the API can see, read in one transaction. */
async function dump(store: Store) {
  return store.read(async (tx: ReadTx) => ({
    revision: await tx.revision(),
    networks: await tx.list('network'),
    ports: await tx.list('port'),
    portsOfN1: await tx.list('port', 'net-1'),
    ips: await tx.ipAllocations({ subnetId: 'sub-1' }),
    vnis: await tx.allocatedKeys({ kind: 'vni' }, 0n, 1n << 24n, 1000),
    ipsOfPort3: await tx.ipAllocations({ portId: 'port-3' }),
    sg: await tx.defaultSecurityGroup('proj0'),
    quotas: await tx.quotaOverrides(),
    owned: await tx.countOwned('network', 'proj1'),
  }));
}

describe('hypernet db', {
  skip: skipUnless(hasPostgres(), 'PostgreSQL is not installed (Debian package postgresql)'),
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'hn-db-cmd-'));
  let cluster: TestPostgres;
  before(async () => {
    cluster = await startTestPostgres();
  });
  after(() => {
    cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('migrate creates the schema on both backends, then finds nothing to do', async () => {
    const url = await cluster.createDatabase('migrated');
    let r = hypernet('db', 'migrate', '--database', url);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`schema upgraded from version 0 to ${SCHEMA_VERSION}`));
    r = hypernet('db', 'migrate', '--database', url);
    assert.match(r.stdout, new RegExp(`schema already at version ${SCHEMA_VERSION}`));
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const tables = await c.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename");
    await c.end();
    assert.ok(tables.rows.some((t) => t.tablename === 'changes'));

    const data = join(dir, 'migrated');
    r = hypernet('db', 'migrate', '--data-dir', data);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`hypernet\\.db: schema upgraded from version 0 to ${SCHEMA_VERSION}`));
    const db = new Database(join(data, 'hypernet.db'));
    assert.equal(db.prepare('SELECT max(version) FROM schema_version').pluck().get(), SCHEMA_VERSION);
    db.close();
    r = hypernet('db', 'migrate', '--data-dir', data, '--database', url);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /not both/);
  });

  it('copy moves a whole SQLite site into PostgreSQL, and a watcher can resume from its revision', async () => {
    const data = join(dir, 'site');
    const sqlite = new SqliteStore({ dataDir: data, retention: 20 });
    // More than one batch of rows, compaction already moved, every kind of table used.
    for (let i = 0; i < 40; i++)
      await sqlite.write(async (tx) => {
        await tx.put('network', net(`net-${i}`, i), 'create');
        await tx.claimVni(5000 + i, `net-${i}`);
      });
    await sqlite.write(async (tx) => {
      for (let i = 0; i < 600; i++) {
        await tx.put('port', port(`port-${i}`), 'create', `net-${i % 4}`);
        await tx.claimIp('sub-1', 4, `10.0.${i >> 8}.${i & 255}`, `port-${i}`);
        await tx.claimMac(
          `net-${i % 4}`,
          `fa:16:3e:00:${(i >> 8).toString(16)}:${(i & 255).toString(16)}`,
          `port-${i}`,
        );
      }
      await tx.setDefaultSecurityGroup('proj0', 'sg-0');
      await tx.setQuota('proj1', 'port', 9);
      await tx.remove('network', net('net-39', 39));
    });
    const before = await dump(sqlite);
    const history = await sqlite.changesSince(before.revision - 15, 100);
    await sqlite.close();

    const url = await cluster.createDatabase('copied');
    const r = hypernet('db', 'copy', '--from', `sqlite:${data}`, '--to', url);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /copy: resources 500\/639\n/);
    assert.match(r.stdout, /copy: ip_allocations 600\/600\n/);
    assert.match(r.stdout, /copy: mac_allocations 600\/600\n/);
    assert.match(r.stdout, new RegExp(`copied \\d+ rows .* revision ${before.revision}\\n`));

    const store = await PostgresStore.open({ url, retention: 20 });
    try {
      assert.deepEqual(await dump(store), before);
      assert.deepEqual(await store.changesSince(before.revision - 15, 100), history);
      assert.deepEqual(await store.changesSince(1, 10), { compacted: true });
      // The copy continues where the site stopped.
      const next = await store.write((tx) => tx.put('network', net('net-new', 1), 'create'));
      assert.equal(next, before.revision + 1);
    } finally {
      await store.close();
    }

    const again = hypernet('db', 'copy', '--from', `sqlite:${join(data, 'hypernet.db')}`, '--to', url);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /is not empty \(\d+ rows, revision \d+\): copy only into a new database/);
  });

  it('copy is all or nothing: a row PostgreSQL refuses leaves the target empty', async () => {
    const data = join(dir, 'broken');
    const sqlite = new SqliteStore({ dataDir: data });
    await sqlite.write(async (tx) => {
      for (let i = 0; i < 5; i++) await tx.put('network', net(`net-${i}`, i), 'create');
    });
    await sqlite.close();
    // SQLite keeps a text in a BIGINT column; PostgreSQL does not. Quotas are copied last.
    const db = new Database(join(data, 'hypernet.db'));
    db.prepare("INSERT INTO quotas (project_id, resource, hard_limit) VALUES ('p', 'port', 'lots')").run();
    db.close();
    const url = await cluster.createDatabase('half');
    const r = hypernet('db', 'copy', '--from', `sqlite:${data}`, '--to', url);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /copy: resources 5\/5/);
    assert.match(r.stderr, /hypernet db copy: .*bigint/);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const n = await c.query(
      "SELECT (SELECT count(*) FROM resources) AS n, (SELECT value FROM meta WHERE name = 'revision') AS rev",
    );
    await c.end();
    assert.deepEqual(n.rows[0], { n: '0', rev: '0' });
  });

  it('copy refuses a source that is not sqlite: and a target that is not postgresql://', () => {
    let r = hypernet('db', 'copy', '--from', join(dir, 'site'), '--to', 'postgresql://u@127.0.0.1/x');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--from must be sqlite:PATH/);
    r = hypernet('db', 'copy', '--from', `sqlite:${join(dir, 'site')}`, '--to', 'sqlite:/tmp/x');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /postgresql:\/\//);
  });
});
