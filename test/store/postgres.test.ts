/**
 * The PostgreSQL store on a throwaway cluster this file starts (testkit/postgres.ts): the conformance
 * suite, then what several servers sharing one database need. Two PostgresStore instances (two pools,
 * two LISTEN connections) stand for two servers: allocations racing for the same numbers, a
 * serialization failure retried, and watchers on both that must see every revision once, in order.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { Network, Subnet } from '../../src/model/types.js';
import { allocateNextIp, allocateVni } from '../../src/server/ipam/allocate.js';
import { MIGRATIONS } from '../../src/server/store/migrations.js';
import { PostgresStore } from '../../src/server/store/postgres.js';
import { type Store, StoreUnavailableError } from '../../src/server/store/store.js';
import { hasPostgres, startTestPostgres, type TestPostgres } from '../../testkit/postgres.js';
import { skipUnless } from '../../testkit/preconditions.js';
import { storeConformance } from './conformance.js';

const skip = skipUnless(hasPostgres(), 'PostgreSQL is not installed (Debian package postgresql)');
let cluster: Promise<TestPostgres> | undefined;
const pgCluster = () => {
  cluster ??= startTestPostgres();
  return cluster;
};
after(async () => (await cluster)?.stop());

let databases = 0;
/** A fresh database of the shared cluster. */
const freshDatabase = async () => (await pgCluster()).createDatabase(`store_${++databases}`);

storeConformance(
  'PostgreSQL',
  async ({ retention }) => {
    const store = await PostgresStore.open({ url: await freshDatabase(), retention });
    return { store, cleanup: () => store.close() };
  },
  { skip },
);

const net = (id: string) => ({ id, name: id, project_id: 'p', revision_number: 1 }) as unknown as Network;

describe('PostgresStore shared by several servers', { skip }, () => {
  let url: string;
  let a: PostgresStore;
  let b: PostgresStore;
  before(async () => {
    url = await freshDatabase();
    [a, b] = await Promise.all([PostgresStore.open({ url }), PostgresStore.open({ url })]);
  });
  after(async () => {
    await a?.close();
    await b?.close();
  });

  it('records the schema version', async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const r = await c.query('SELECT version FROM schema_version ORDER BY version');
    await c.end();
    assert.deepEqual(
      r.rows.map((x) => x.version),
      MIGRATIONS.map((m) => m.version),
    );
  });

  it('two servers claiming the same IP, MAC and VNI: exactly one wins each', async () => {
    for (let i = 0; i < 15; i++) {
      const claims = (claim: (s: Store, k: number) => Promise<boolean>) =>
        Promise.all([a, b].map((s, k) => claim(s, k)));
      const ip = await claims((s, k) => s.write((tx) => tx.claimIp('s-race', 4, `10.9.0.${i}`, `port-${k}`)));
      const mac = await claims((s, k) => s.write((tx) => tx.claimMac('n-race', `fa:16:3e:00:01:${i}0`, `port-${k}`)));
      const vni = await claims((s, k) => s.write((tx) => tx.claimVni(9000 + i, `net-${k}-${i}`)));
      for (const won of [ip, mac, vni])
        assert.equal(won.filter(Boolean).length, 1, JSON.stringify({ i, ip, mac, vni }));
    }
    const held = await a.read((tx) => tx.ipAllocations({ subnetId: 's-race' }));
    assert.equal(held.length, 15);
  });

  it('two servers allocating from one subnet and one VNI range never hand out a number twice', async () => {
    const subnet = {
      id: 's-alloc',
      ip_version: 4,
      cidr: '10.8.0.0/24',
      allocation_pools: [{ start: '10.8.0.2', end: '10.8.0.254' }],
    } as unknown as Subnet;
    const range = { min: 20_000, max: 30_000 };
    const one = (s: Store, tag: string) =>
      s.write(async (tx) => [await allocateNextIp(tx, subnet, tag), await allocateVni(tx, range, tag)] as const);
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => one(i % 2 ? a : b, `p${i}`)));
    const ips = results.map((r) => r[0]);
    const vnis = results.map((r) => r[1]);
    assert.ok(ips.every((ip) => ip !== undefined));
    assert.equal(new Set(ips).size, 40, `duplicate IP in ${ips.join(' ')}`);
    assert.equal(new Set(vnis).size, 40, `duplicate VNI in ${vnis.join(' ')}`);
  });

  it('runs a write again after a serialization failure (and only gives up after its retries)', async () => {
    await a.write((tx) => tx.put('network', net('contended'), 'create'));
    const noRetry = await PostgresStore.open({ url, maxRetries: 0 });
    try {
      for (const [store, expectOk] of [
        [a, true],
        [noRetry, false],
      ] as const) {
        // Another session updates the row in its own REPEATABLE READ transaction and commits while the
        // store's write waits on that row: PostgreSQL fails the store's update with 40001.
        const other = new pg.Client({ connectionString: url });
        await other.connect();
        await other.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
        await other.query("UPDATE resources SET body = body WHERE kind = 'network' AND id = 'contended'");
        const write = store.write((tx) => tx.put('network', { ...net('contended'), name: 'x' }, 'update'));
        const outcome = write.then(
          () => 'ok',
          (e: { code?: string }) => e.code,
        );
        await waitForLockWaiter(other);
        await other.query('COMMIT');
        await other.end();
        assert.equal(await outcome, expectOk ? 'ok' : '40001');
      }
    } finally {
      await noRetry.close();
    }
  });

  it("gives up on the writers' lock after its timeout (StoreUnavailableError, a 503), then works", async () => {
    const impatient = await PostgresStore.open({ url, lockTimeoutMs: 300 });
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      // A server stuck in the middle of a write holds the lock.
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE changes IN EXCLUSIVE MODE');
      await assert.rejects(
        impatient.write((tx) => tx.put('network', net('waited'), 'create')),
        (e: Error) => e instanceof StoreUnavailableError && /lock timeout/.test(String((e.cause as Error).message)),
      );
      // Readers are not blocked by it.
      assert.equal(await impatient.read((tx) => tx.get('network', 'waited')), undefined);
      await holder.query('ROLLBACK');
      await impatient.write((tx) => tx.put('network', net('waited'), 'create'));
      assert.equal((await b.read((tx) => tx.get('network', 'waited')))?.id, 'waited');
    } finally {
      await holder.end();
      await impatient.close();
    }
  });

  it('counts transactions and round trips by kind; a create with its idempotency result costs no extra one', async () => {
    const before = a.roundTrips();
    await a.write(async (tx) => {
      await tx.put('network', net('counted'), 'create');
      await tx.rememberResult('counted-key', '{}', Date.now(), 60_000);
    });
    const after = a.roundTrips();
    assert.equal(after.write.transactions - before.write.transactions, 1);
    // BEGIN+LOCK+meta, the upsert, the changes with the remembered result, COMMIT.
    assert.equal(after.write.roundTrips - before.write.roundTrips, 4);
    await a.writeQuiet(async (tx) => {
      await tx.putQuiet('network', { ...net('counted'), name: 'quiet' });
      assert.equal((await tx.get('network', 'counted'))?.name, 'quiet');
    });
    const quiet = a.roundTrips().quiet;
    // BEGIN, the update, COMMIT: the read-back is this transaction's own write, no round trip.
    assert.deepEqual(
      [quiet.transactions - after.quiet.transactions, quiet.roundTrips - after.quiet.roundTrips],
      [1, 3],
    );
  });

  it('watchers on both servers see every revision exactly once, in order, while both write', async () => {
    const start = await a.read((tx) => tx.revision());
    const watchers = [watch(a, start), watch(b, start)];
    const written = new Map<number, string>();
    // Each server runs three concurrent writers; each write appends one to three changes.
    const writer = async (s: Store, tag: string) => {
      for (let i = 0; i < 15; i++) {
        await s
          .write(async (tx) => {
            const revs: [number, string][] = [];
            for (let j = 0; j <= i % 3; j++) {
              const id = `${tag}-${i}-${j}`;
              revs.push([await tx.put('network', net(id), 'create'), id]);
            }
            return revs;
          })
          .then((revs) => {
            for (const [rev, id] of revs) written.set(rev, id);
          });
      }
    };
    await Promise.all(['a1', 'a2', 'a3', 'b1', 'b2', 'b3'].map((t) => writer(t[0] === 'a' ? a : b, t)));
    const end = await b.read((tx) => tx.revision());
    assert.equal(written.size, end - start);
    const expected = Array.from({ length: end - start }, (_, i) => start + 1 + i);
    for (const w of watchers) {
      // The watcher only reads when told of a commit: the other server's commits reach it by NOTIFY.
      await w.reached(end);
      w.stop();
      assert.deepEqual(
        w.seen.map((c) => c[0]),
        expected,
      );
      for (const [rev, id] of w.seen) assert.equal(id, written.get(rev), `revision ${rev}`);
    }
  });
});

/** A watcher as the watch stream runs one: woken by onCommit, reads the log after its cursor. */
function watch(store: Store, from: number) {
  const seen: [number, string][] = [];
  let cursor = from;
  let running = false;
  let again = false;
  let waiting: { rev: number; resolve: () => void } | undefined;
  const pump = async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        for (;;) {
          const r = await store.changesSince(cursor, 7);
          if (r.compacted) throw new Error('compacted');
          for (const c of r.changes) {
            seen.push([c.revision, c.id]);
            cursor = c.revision;
          }
          if (r.changes.length < 7) break;
        }
      } while (again);
    } finally {
      running = false;
    }
    if (waiting && cursor >= waiting.rev) waiting.resolve();
  };
  const stop = store.onCommit(() => void pump());
  return {
    seen,
    stop,
    reached: (rev: number) =>
      new Promise<void>((resolve, reject) => {
        if (cursor >= rev) return resolve();
        const t = setTimeout(() => reject(new Error(`watcher stuck at ${cursor}, expected ${rev}`)), 10_000);
        waiting = {
          rev,
          resolve: () => {
            clearTimeout(t);
            resolve();
          },
        };
      }),
  };
}

/** Waits until some session waits on a lock held by `holder` (the store's write reached the row). */
async function waitForLockWaiter(holder: pg.Client): Promise<void> {
  const pid = (await holder.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  for (let i = 0; i < 200; i++) {
    const r = await holder.query(
      'SELECT count(*) AS n FROM pg_locks l WHERE NOT granted AND $1 = ANY (pg_blocking_pids(l.pid))',
      [pid],
    );
    if (Number(r.rows[0].n) > 0) return;
    await new Promise((res) => setTimeout(res, 25));
  }
  throw new Error('the store never waited on the row');
}

describe('PostgresStore through a database outage', { skip }, () => {
  it('answers StoreUnavailableError while the database is down, then reconnects, LISTEN included', async () => {
    const db = await pgCluster();
    const url = await freshDatabase();
    const [a, b] = await Promise.all([PostgresStore.open({ url }), PostgresStore.open({ url })]);
    try {
      await b.write((tx) => tx.put('network', net('before'), 'create'));
      db.pause();
      try {
        await assert.rejects(
          a.read((tx) => tx.get('network', 'before')),
          StoreUnavailableError,
        );
        await assert.rejects(
          b.write((tx) => tx.put('network', net('lost'), 'create')),
          StoreUnavailableError,
        );
      } finally {
        db.resume();
      }
      // The pools make new connections by themselves.
      assert.equal((await a.read((tx) => tx.get('network', 'before')))?.id, 'before');
      // A's LISTEN connection comes back: B's commits wake A's listeners again (no polling here).
      const heard: number[] = [];
      const off = a.onCommit((r) => heard.push(r));
      let rev = 0;
      for (let i = 0; i < 100 && !heard.includes(rev); i++) {
        rev = await b.write((tx) => tx.put('network', net(`after-${i}`), 'create'));
        await new Promise((r) => setTimeout(r, 100));
      }
      off();
      assert.ok(heard.includes(rev), `A never heard B's commit ${rev} after the outage: ${heard}`);
      assert.equal(await a.read((tx) => tx.get('network', 'lost')), undefined);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
