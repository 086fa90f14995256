/**
 * PostgreSQL backend of the Store (the `pg` driver), for several servers sharing one database.
 *
 * Writes: REPEATABLE READ, and the first statement is `LOCK TABLE changes IN EXCLUSIVE MODE`. LOCK
 * takes no snapshot, so the transaction's snapshot is taken only once it holds the lock and sees every
 * earlier write. Why one writer at a time rather than SERIALIZABLE alone: almost every write appends to
 * the change log, and the change log must become visible in revision order (a watcher that read
 * revision N+2 must never find N+1 appearing later). That needs commits that append changes to be
 * serialized anyway; queueing on a lock makes the waiters wait instead of running, failing with 40001
 * and running again. It also keeps the SQLite backend's single-writer semantics that the API layer's
 * read-check-write code (quotas, parents, revision_number) was written against. Readers (plain
 * SELECTs) are never blocked by the lock. Within one server writes queue on a mutex first, so at most
 * one pooled connection per server waits for the lock and reads keep the rest. Serialization failures
 * and deadlocks (40001, 40P01, e.g. against a tool writing outside the store) are still retried, a
 * bounded number of times with backoff.
 *
 * Because writers hold the lock from before their snapshot until after their commit, every snapshot
 * sees a prefix of the change log: `changesSince` never skips a revision that commits later.
 * Uniqueness (VNI, MAC per network, IP per subnet) is the database's constraints; a claim is
 * `INSERT … ON CONFLICT DO NOTHING`, false when the row exists.
 *
 * Commits are announced with NOTIFY inside the transaction (delivered at commit, to every server) and
 * heard on a dedicated LISTEN connection (postgres-listen.ts), so watchers on every server wake; the
 * writing server also announces its own commit directly. Listeners hear each revision at most once,
 * increasing.
 *
 * A database that cannot be reached turns into StoreUnavailableError (the API's 503); the pool makes
 * new connections by itself once it is back, and the LISTEN connection reconnects with backoff. The
 * statements are in postgres-sql.ts, the reading of driver errors in postgres-errors.ts.
 */
import pg from 'pg';
import type { Logger } from '../../common/log.js';
import { Mutex } from '../../common/mutex.js';
import type { Kind, KindMap } from '../../model/types.js';
import type { AnyObject } from '../../model/watch.js';
import { bigIntToKey, ipToBigInt, keyToBigInt } from '../ipam/keys.js';
import { checkDatabaseUrl, redactUrl } from './database-url.js';
import { isConnectionLost, isRetryable, isUnavailable, unreachable } from './postgres-errors.js';
import { CommitListener } from './postgres-listen.js';
import { migratePostgres } from './postgres-migrate.js';
import { SQL, type SqlName } from './postgres-sql.js';
import {
  type Change,
  type ChangeOp,
  type ChangesResult,
  type IpAllocation,
  type KeySpace,
  type QuotaOverride,
  type ReadTx,
  type Store,
  type TxCount,
  type TxKind,
  NeedsWriteLockError,
  StoreUnavailableError,
  type WriteTx,
} from './store.js';

/** A transaction's kind: a read, a write under the writers' lock, or a quiet write without it. */
type TxMode = TxKind;

export interface PostgresStoreOptions {
  /** `postgresql://…` URL (database-url.ts). */
  url: string;
  /** How many changes to keep for the watch stream (older ones are compacted). */
  retention?: number;
  /** Connections in the pool. */
  poolSize?: number;
  /** How often a write is run again after a serialization failure or deadlock. */
  maxRetries?: number;
  /** How long a write waits for the writers' lock before it gives up with StoreUnavailableError. */
  lockTimeoutMs?: number;
  log?: Logger;
}

/** The per-transaction state of a write: the revision it started from and the changes it appended. */
interface WriteState {
  start: number;
  revision: number;
  compacted: number;
  changes: { revision: number; kind: Kind; id: string; op: ChangeOp; body: string }[];
  /** A create's result to remember under its idempotency key: sent with the changes, one round trip. */
  remember?: unknown[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class PostgresStore implements Store {
  private readonly pool: pg.Pool;
  private readonly writes = new Mutex();
  private readonly listeners = new Set<(revision: number) => void>();
  private readonly retention: number;
  private readonly maxRetries: number;
  private readonly lockTimeoutMs: number;
  private readonly log?: Logger;
  private readonly where: string;
  private readonly url: string;
  private commits?: CommitListener;
  private heardRevision = 0;
  private closed = false;
  private readonly counts: Record<TxKind, TxCount> = {
    read: { transactions: 0, roundTrips: 0 },
    write: { transactions: 0, roundTrips: 0 },
    quiet: { transactions: 0, roundTrips: 0 },
  };

  /** Connects (a clear error when the database cannot be reached), migrates the schema, starts listening. */
  static async open(opts: PostgresStoreOptions): Promise<PostgresStore> {
    const store = new PostgresStore(opts);
    try {
      const { client, done } = await store.checkout().catch((e: unknown) => {
        throw unreachable(store.where, e);
      });
      try {
        await migratePostgres(client);
        store.heardRevision = Number((await client.query(SQL.revision)).rows[0].value);
      } finally {
        done();
      }
      store.commits = await CommitListener.start({
        url: opts.url,
        log: opts.log,
        onRevision: (r) => store.heard(r),
        revisionSql: SQL.revision,
      });
    } catch (e) {
      await store.close();
      throw e;
    }
    return store;
  }

  private constructor(opts: PostgresStoreOptions) {
    checkDatabaseUrl(opts.url);
    this.url = opts.url;
    this.where = redactUrl(opts.url);
    this.retention = opts.retention ?? 10_000;
    this.maxRetries = opts.maxRetries ?? 8;
    this.lockTimeoutMs = Math.max(1, Math.floor(opts.lockTimeoutMs ?? 15_000));
    this.log = opts.log;
    this.pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.poolSize ?? 10,
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
      // A server that stops in the middle of a write (frozen, cut off) must not hold the writers' lock
      // for ever: PostgreSQL ends such a session, and its transaction, after this long.
      idle_in_transaction_session_timeout: 60_000,
    });
    // An idle connection that dies (database restarted) is dropped by the pool; without a handler the
    // 'error' event would end the process.
    this.pool.on('error', (e) => this.log?.warn({ err: e }, 'postgres: idle connection lost'));
  }

  read<T>(fn: (tx: ReadTx) => Promise<T>): Promise<T> {
    return this.inTx('read', (tx) => fn(tx));
  }

  /**
   * Heartbeats: no writers' lock and no server mutex, so they never queue behind (or hold up) writes.
   * REPEATABLE READ still makes PostgreSQL refuse (40001, retried) an UPDATE of a row that a write
   * changed after this snapshot, so a heartbeat cannot put back an older body over a write's change.
   */
  writeQuiet<T>(fn: (tx: WriteTx) => Promise<T>): Promise<T> {
    return this.inTx('quiet', (tx) => fn(tx));
  }

  async schemaVersion(): Promise<number> {
    return this.inTx('read', async (_tx, _state, q) => Number((await q('schemaVersion')).rows[0].v));
  }

  async write<T>(fn: (tx: WriteTx) => Promise<T>): Promise<T> {
    let revision = 0;
    const result = await this.writes.run(() =>
      this.inTx('write', async (tx, state) => {
        const r = await fn(tx);
        revision = state.revision !== state.start ? state.revision : 0;
        return r;
      }),
    );
    if (revision) this.heard(revision);
    return result;
  }

  async changesSince(since: number, limit: number): Promise<ChangesResult> {
    return this.inTx('read', async (_tx, _state, q) => {
      const meta = metaOf((await q('meta')).rows);
      if (since < meta.compacted || since > meta.revision) return { compacted: true } as const;
      const rows = (await q('changesSince', [since, limit])).rows as {
        revision: string;
        kind: Kind;
        id: string;
        op: ChangeOp;
        object: string;
      }[];
      const changes: Change[] = rows.map((r) => ({
        revision: Number(r.revision),
        kind: r.kind,
        id: r.id,
        op: r.op,
        object: JSON.parse(r.object) as AnyObject,
      }));
      return { compacted: false, changes, revision: meta.revision } as const;
    });
  }

  roundTrips(): Record<TxKind, TxCount> {
    return structuredClone(this.counts);
  }

  onCommit(listener: (revision: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.commits?.stop();
    await this.writes.run(async () => undefined);
    await this.pool.end();
  }

  /** Tells listeners about `revision` unless they heard it (or a later one) already. */
  private heard(revision: number): void {
    if (revision <= this.heardRevision) return;
    this.heardRevision = revision;
    for (const l of this.listeners) l(revision);
  }

  /**
   * Runs `fn` in one transaction on a pooled connection; a write takes the writers' lock first (see the
   * top of this file), and is run again after a serialization failure or deadlock (bounded, with
   * jittered backoff). A lost connection becomes StoreUnavailableError.
   */
  private async inTx<T>(
    mode: TxMode,
    fn: (
      tx: WriteTx,
      state: WriteState,
      q: (name: SqlName, values?: unknown[]) => Promise<pg.QueryResult>,
    ) => Promise<T>,
  ): Promise<T> {
    const count = this.counts[mode];
    count.transactions++;
    for (let attempt = 0; ; attempt++) {
      let pooled: pg.PoolClient;
      let done: (destroy?: boolean) => void;
      try {
        ({ client: pooled, done } = await this.checkout());
      } catch (e) {
        throw this.unavailable(e);
      }
      // Every statement sent is one round trip (the driver does not pipeline): counted for /metrics.
      const client = {
        query: ((...args: Parameters<pg.PoolClient['query']>) => {
          count.roundTrips++;
          return (pooled.query as (...a: unknown[]) => unknown).apply(pooled, args);
        }) as pg.PoolClient['query'],
      };
      let destroy = false;
      let committing = false;
      const q = (name: SqlName, values: unknown[] = []) => client.query({ name, text: SQL[name], values });
      try {
        const state: WriteState = { start: 0, revision: 0, compacted: 0, changes: [] };
        if (mode === 'write') {
          // One round trip; the snapshot is taken by the SELECT, after the lock is held.
          const results = (await client.query(
            `BEGIN ISOLATION LEVEL REPEATABLE READ; SET LOCAL lock_timeout = ${this.lockTimeoutMs}; ` +
              `LOCK TABLE changes IN EXCLUSIVE MODE; ${SQL.meta}`,
          )) as unknown as pg.QueryResult[];
          const meta = metaOf(results[results.length - 1].rows);
          state.start = state.revision = meta.revision;
          state.compacted = meta.compacted;
        } else if (mode === 'quiet') await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
        else await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const r = await fn(this.makeTx(mode, state, q), state, q);
        if (state.revision !== state.start) await this.finishWrite(state, q);
        else if (state.remember) await q('remember', state.remember);
        committing = true;
        await client.query('COMMIT');
        return r;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {
          destroy = true;
        });
        const lost = isConnectionLost(e);
        // A connection lost before COMMIT was sent (e.g. a pooled one the database closed) rolled back
        // everything: one more try on a fresh connection. During COMMIT the outcome is unknown: no retry.
        const again = isRetryable(e) ? attempt < this.maxRetries : lost && !committing && attempt === 0;
        if (!again) throw isUnavailable(e) ? this.unavailable(e) : e;
        if (lost) destroy = true;
      } finally {
        done(destroy);
      }
      await sleep(Math.random() * 5 * 2 ** attempt);
    }
  }

  /**
   * A pooled connection, listened to while checked out: the pool only watches idle ones, and a
   * connection the database ends between two statements would otherwise throw an uncaught 'error'.
   * A connection that failed is destroyed on `done`, whatever the caller says.
   */
  private async checkout(): Promise<{ client: pg.PoolClient; done: (destroy?: boolean) => void }> {
    const client = await this.pool.connect();
    let failed = false;
    const onError = (e: Error) => {
      failed = true;
      this.log?.warn({ err: e }, 'postgres: connection lost during a transaction');
    };
    client.on('error', onError);
    return {
      client,
      done: (destroy = false) => {
        client.off('error', onError);
        client.release(destroy || failed);
      },
    };
  }

  /** Appends the buffered changes, moves the revision and announces the commit (one round trip); compacts. */
  private async finishWrite(state: WriteState, q: (name: SqlName, values?: unknown[]) => Promise<unknown>) {
    const c = state.changes;
    const changes = [
      c.map((x) => x.revision),
      c.map((x) => x.kind),
      c.map((x) => x.id),
      c.map((x) => x.op),
      c.map((x) => x.body),
      state.revision,
      String(state.revision),
    ];
    if (state.remember) await q('finishRemembering', [...changes, ...state.remember]);
    else await q('finish', changes);
    const target = state.revision - this.retention;
    // In steps of a tenth of the window, as the SQLite store does, so most writes skip the DELETE.
    if (target - state.compacted >= Math.max(1, Math.floor(this.retention / 10))) {
      await q('compact', [target]);
      await q('setMeta', [target, 'compacted']);
    }
  }

  private unavailable(e: unknown): StoreUnavailableError {
    this.log?.warn({ err: e }, 'postgres: database unavailable');
    return new StoreUnavailableError(`the database (${this.where}) is unavailable: ${(e as Error)?.message}`, {
      cause: e,
    });
  }

  private makeTx(
    mode: TxMode,
    state: WriteState,
    q: (name: SqlName, values?: unknown[]) => Promise<pg.QueryResult>,
  ): WriteTx {
    const write = mode === 'write';
    /** Refuses a write in a read transaction, and anything but a quiet write without the lock. */
    const guard = (quietOk = false) => {
      if (mode === 'read') throw new Error('write in a read transaction');
      if (mode === 'quiet' && !quietOk) throw new NeedsWriteLockError('a change or an allocation');
    };
    /** Runs a write statement (refused in a read transaction); returns the rows it changed. */
    const run = async (name: SqlName, ...values: unknown[]): Promise<number> => {
      guard();
      return (await q(name, values)).rowCount ?? 0;
    };
    const one = async (name: SqlName, ...values: unknown[]) => (await q(name, values)).rows[0];
    const appendChange = (kind: Kind, id: string, op: ChangeOp, body: string): number => {
      state.revision += 1;
      state.changes.push({ revision: state.revision, kind, id, op, body });
      return state.revision;
    };
    // Rows this transaction wrote (null: deleted): reading one back needs no round trip (e.g. the object a
    // heartbeat returns is the one it just stored).
    const written = new Map<string, string | null>();
    const bodies = <K extends Kind>(rows: { body: string }[]) => rows.map((r) => JSON.parse(r.body) as KindMap[K]);
    const ipRange = (space: { subnetId: string; version: 4 | 6 }, from: bigint, to: bigint) => [
      space.subnetId,
      bigIntToKey(from, space.version),
      bigIntToKey(to, space.version),
    ];
    return {
      revision: async () => (write ? state.revision : Number((await one('revision')).value)),
      get: async <K extends Kind>(kind: K, id: string) => {
        const mine = written.get(`${kind}/${id}`);
        const body = mine !== undefined ? mine : (await one('get', kind, id))?.body;
        return body === undefined || body === null ? undefined : (JSON.parse(body) as KindMap[K]);
      },
      list: async <K extends Kind>(kind: K, parentId?: string) =>
        bodies<K>((parentId === undefined ? await q('list', [kind]) : await q('listParent', [kind, parentId])).rows),
      ipAllocations: async (by) =>
        (by.portId !== undefined ? await q('ipByPort', [by.portId]) : await q('ipBySubnet', [by.subnetId]))
          .rows as IpAllocation[],
      defaultSecurityGroup: async (projectId) => (await one('getDefaultSg', projectId))?.security_group_id,
      countOwned: async (kind, projectId) => Number((await one('countOwned', kind, projectId)).n),
      quotaOverrides: async (projectId) =>
        (projectId === undefined ? await q('quotasAll') : await q('quotasOf', [projectId])).rows.map(
          (r): QuotaOverride => ({ project_id: r.project_id, resource: r.resource, limit: Number(r.hard_limit) }),
        ),
      allocatedKeys: async (space: KeySpace, from, to, limit) =>
        space.kind === 'vni'
          ? (await q('vniKeys', [String(from), String(to), limit])).rows.map((r) => BigInt(r.vni))
          : (await q('ipKeys', [...ipRange(space, from, to), limit])).rows.map((r) => keyToBigInt(r.ip_key)),
      maxAllocatedKey: async (space: KeySpace, from, to) => {
        const k =
          space.kind === 'vni'
            ? (await one('vniMax', String(from), String(to))).k
            : (await one('ipMax', ...ipRange(space, from, to))).k;
        if (k === null) return undefined;
        return space.kind === 'vni' ? BigInt(k) : keyToBigInt(k);
      },
      put: async (kind, obj, op, parentId) => {
        guard();
        const body = JSON.stringify(obj);
        const rev = appendChange(kind, obj.id, op, body);
        await q('upsert', [kind, obj.id, parentId ?? null, rev, body, projectOf(obj)]);
        written.set(`${kind}/${obj.id}`, body);
        return rev;
      },
      remove: async (kind, obj) => {
        guard();
        await q('delete', [kind, obj.id]);
        written.set(`${kind}/${obj.id}`, null);
        return appendChange(kind, obj.id, 'delete', JSON.stringify(obj));
      },
      putQuiet: async (kind, obj) => {
        guard(true);
        const body = JSON.stringify(obj);
        // No row, no update: then a read must still find nothing.
        if ((await q('updateBody', [body, kind, obj.id, projectOf(obj)])).rowCount)
          written.set(`${kind}/${obj.id}`, body);
      },
      rememberedResult: async (key) => (await one('remembered', key))?.result,
      rememberResult: async (key, result, nowMs, keepMs) => {
        guard(true);
        // Under the writers' lock it goes out with the changes at the end (finishRemembering).
        if (write) state.remember = [key, nowMs, result, nowMs - keepMs];
        else await q('remember', [key, nowMs, result, nowMs - keepMs]);
      },
      claimVni: async (vni, networkId) => (await run('claimVni', vni, networkId)) === 1,
      releaseVni: async (networkId) => void (await run('releaseVni', networkId)),
      claimMac: async (networkId, mac, portId) => (await run('claimMac', networkId, mac, portId)) === 1,
      releaseMac: async (networkId, mac) => void (await run('releaseMac', networkId, mac)),
      claimIp: async (subnetId, version, ip, portId) =>
        (await run('claimIp', subnetId, bigIntToKey(ipToBigInt(ip), version), ip, portId)) === 1,
      releaseIp: async (subnetId, ip) => void (await run('releaseIp', subnetId, ip)),
      setDefaultSecurityGroup: async (projectId, sgId) => (await run('setDefaultSg', projectId, sgId)) === 1,
      clearDefaultSecurityGroup: async (sgId) => void (await run('clearDefaultSg', sgId)),
      setQuota: async (projectId, resource, limit) => void (await run('setQuota', projectId, resource, limit)),
      clearQuotas: async (projectId) => void (await run('clearQuotas', projectId)),
    };
  }
}

/** The owner kept in `resources.project_id` (what SQLite reads with json_extract): a string, or null. */
export function projectOf(obj: object): string | null {
  const p = (obj as { project_id?: unknown }).project_id;
  return typeof p === 'string' ? p : null;
}

/** The revision and compaction point from the `meta` rows (BIGINT arrives as text). */
function metaOf(rows: { name: string; value: string }[]): { revision: number; compacted: number } {
  const get = (n: string) => Number(rows.find((r) => r.name === n)?.value ?? 0);
  return { revision: get('revision'), compacted: get('compacted') };
}
