/**
 * SQLite backend of the Store (better-sqlite3, WAL, one file under the data dir). better-sqlite3 is
 * synchronous, so transactions are serialized by an async mutex and bracketed with BEGIN IMMEDIATE /
 * COMMIT (ROLLBACK when the callback throws). Statements are prepared once. Each appended change takes
 * the next revision; after the commit, listeners hear the new revision. Old changes beyond
 * `retention` are compacted away inside the writing transaction. WAL checkpoints run in a worker
 * thread (checkpointer.ts) so that a slow fsync never stalls a request.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Kind, KindMap } from '../../model/types.js';
import { bigIntToKey, ipToBigInt, keyToBigInt } from '../ipam/keys.js';
import type { Worker } from 'node:worker_threads';
import { startCheckpointer } from './checkpointer.js';
import { Mutex } from '../../common/mutex.js';
import { migrateSqlite } from './sqlite-migrate.js';
import type {
  Change,
  ChangeOp,
  ChangesResult,
  IpAllocation,
  KeySpace,
  QuotaOverride,
  ReadTx,
  Store,
  WriteTx,
} from './store.js';

export interface SqliteStoreOptions {
  /** Directory holding `hypernet.db`; `:memory:` is not supported (WAL needs a file). */
  dataDir: string;
  /** How many changes to keep for the watch stream (older ones are compacted). */
  retention?: number;
  /** Hears how long each write held the store's lock, in ms (measurement; see bench/bulk-lock.ts). */
  onWriteHeld?: (heldMs: number) => void;
}

type Stmt = Database.Statement;

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly mutex = new Mutex();
  private readonly listeners = new Set<(revision: number) => void>();
  private readonly retention: number;
  private readonly s: Record<string, Stmt>;
  private readonly checkpointer: Worker;
  private readonly onWriteHeld?: (heldMs: number) => void;

  constructor(opts: SqliteStoreOptions) {
    mkdirSync(opts.dataDir, { recursive: true });
    this.retention = opts.retention ?? 10_000;
    this.onWriteHeld = opts.onWriteHeld;
    const file = join(opts.dataDir, 'hypernet.db');
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('wal_autocheckpoint = 0');
    try {
      migrateSqlite(this.db);
    } catch (e) {
      this.db.close();
      throw e;
    }
    this.checkpointer = startCheckpointer(file);
    const p = (sql: string) => this.db.prepare(sql);
    this.s = {
      begin: p('BEGIN'),
      beginImmediate: p('BEGIN IMMEDIATE'),
      commit: p('COMMIT'),
      rollback: p('ROLLBACK'),
      getMeta: p('SELECT value FROM meta WHERE name = ?').pluck(),
      setMeta: p('UPDATE meta SET value = ? WHERE name = ?'),
      get: p('SELECT body FROM resources WHERE kind = ? AND id = ?').pluck(),
      list: p('SELECT body FROM resources WHERE kind = ? ORDER BY seq').pluck(),
      listParent: p('SELECT body FROM resources WHERE kind = ? AND parent_id = ? ORDER BY seq').pluck(),
      upsert: p(`INSERT INTO resources (kind, id, parent_id, seq, body) VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body, parent_id = excluded.parent_id`),
      updateBody: p('UPDATE resources SET body = ? WHERE kind = ? AND id = ?'),
      delete: p('DELETE FROM resources WHERE kind = ? AND id = ?'),
      addChange: p('INSERT INTO changes (revision, kind, id, op, object) VALUES (?, ?, ?, ?, ?)'),
      changesSince: p(
        'SELECT revision, kind, id, op, object FROM changes WHERE revision > ? ORDER BY revision LIMIT ?',
      ),
      compact: p('DELETE FROM changes WHERE revision <= ?'),
      ipBySubnet: p('SELECT subnet_id, ip_address, port_id FROM ip_allocations WHERE subnet_id = ? ORDER BY ip_key'),
      ipByPort: p(
        'SELECT subnet_id, ip_address, port_id FROM ip_allocations WHERE port_id = ? ORDER BY subnet_id, ip_key',
      ),
      claimIp: p(`INSERT INTO ip_allocations (subnet_id, ip_key, ip_address, port_id) VALUES (?, ?, ?, ?)
                  ON CONFLICT (subnet_id, ip_key) DO NOTHING`),
      releaseIp: p('DELETE FROM ip_allocations WHERE subnet_id = ? AND ip_address = ?'),
      ipKeys: p(
        'SELECT ip_key FROM ip_allocations WHERE subnet_id = ? AND ip_key >= ? AND ip_key <= ? ORDER BY ip_key LIMIT ?',
      ).pluck(),
      ipMax: p('SELECT max(ip_key) FROM ip_allocations WHERE subnet_id = ? AND ip_key >= ? AND ip_key <= ?').pluck(),
      vniKeys: p('SELECT vni FROM vni_allocations WHERE vni >= ? AND vni <= ? ORDER BY vni LIMIT ?').pluck(),
      vniMax: p('SELECT max(vni) FROM vni_allocations WHERE vni >= ? AND vni <= ?').pluck(),
      claimVni: p('INSERT INTO vni_allocations (vni, network_id) VALUES (?, ?) ON CONFLICT DO NOTHING'),
      releaseVni: p('DELETE FROM vni_allocations WHERE network_id = ?'),
      claimMac: p('INSERT INTO mac_allocations (network_id, mac, port_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
      releaseMac: p('DELETE FROM mac_allocations WHERE network_id = ? AND mac = ?'),
      getDefaultSg: p('SELECT security_group_id FROM default_security_groups WHERE project_id = ?').pluck(),
      setDefaultSg: p(
        'INSERT INTO default_security_groups (project_id, security_group_id) VALUES (?, ?) ON CONFLICT DO NOTHING',
      ),
      clearDefaultSg: p('DELETE FROM default_security_groups WHERE security_group_id = ?'),
      countOwned: p("SELECT count(*) FROM resources WHERE kind = ? AND json_extract(body, '$.project_id') = ?").pluck(),
      quotasAll: p('SELECT project_id, resource, hard_limit AS "limit" FROM quotas ORDER BY project_id, resource'),
      quotasOf: p(
        'SELECT project_id, resource, hard_limit AS "limit" FROM quotas WHERE project_id = ? ORDER BY resource',
      ),
      setQuota: p(`INSERT INTO quotas (project_id, resource, hard_limit) VALUES (?, ?, ?)
                   ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit`),
      clearQuotas: p('DELETE FROM quotas WHERE project_id = ?'),
      remembered: p('SELECT result FROM idempotency_keys WHERE key = ?').pluck(),
      remember: p('INSERT INTO idempotency_keys (key, created_at, result) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
      forget: p('DELETE FROM idempotency_keys WHERE created_at < ?'),
      schemaVersion: p('SELECT coalesce(max(version), 0) FROM schema_version').pluck(),
    };
  }

  read<T>(fn: (tx: ReadTx) => Promise<T>): Promise<T> {
    return this.mutex.run(() => this.inTx(false, fn));
  }

  async write<T>(fn: (tx: WriteTx) => Promise<T>): Promise<T> {
    let before = 0;
    let after = 0;
    const result = await this.mutex.run(async () => {
      const start = performance.now();
      try {
        return await this.inTx(true, async (tx) => {
          before = await tx.revision();
          const r = await fn(tx);
          after = await tx.revision();
          if (after !== before) this.compactLocked(after);
          return r;
        });
      } finally {
        this.onWriteHeld?.(performance.now() - start);
      }
    });
    if (after !== before) for (const l of this.listeners) l(after);
    return result;
  }

  /** One writer at a time is all SQLite has: a quiet write is a write (its changes are quiet anyway). */
  writeQuiet<T>(fn: (tx: WriteTx) => Promise<T>): Promise<T> {
    return this.write(fn);
  }

  async schemaVersion(): Promise<number> {
    return this.mutex.run(async () => Number(this.s.schemaVersion.get()));
  }

  async changesSince(since: number, limit: number): Promise<ChangesResult> {
    return this.mutex.run(() =>
      this.inTx(false, async (tx) => {
        const revision = await tx.revision();
        const compacted = Number(this.s.getMeta.get('compacted'));
        if (since < compacted || since > revision) return { compacted: true } as const;
        const rows = this.s.changesSince.all(since, limit) as {
          revision: number;
          kind: Kind;
          id: string;
          op: ChangeOp;
          object: string;
        }[];
        const changes: Change[] = rows.map((r) => ({
          ...r,
          revision: Number(r.revision),
          object: JSON.parse(r.object) as KindMap[Kind],
        }));
        return { compacted: false, changes, revision } as const;
      }),
    );
  }

  onCommit(listener: (revision: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.checkpointer.once('message', () => resolve());
      this.checkpointer.once('exit', () => resolve());
      this.checkpointer.postMessage('stop');
    });
    await this.checkpointer.terminate();
    await this.mutex.run(async () => {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
      this.db.close();
    });
  }

  /** Deletes changes older than the retention window (called inside a write transaction). */
  private compactLocked(revision: number): void {
    const compacted = Number(this.s.getMeta.get('compacted'));
    const target = revision - this.retention;
    // Compact in steps (a tenth of the window) so that most writes skip the DELETE.
    if (target - compacted < Math.max(1, Math.floor(this.retention / 10))) return;
    this.s.compact.run(target);
    this.s.setMeta.run(target, 'compacted');
  }

  private async inTx<T>(write: boolean, fn: (tx: WriteTx) => Promise<T>): Promise<T> {
    (write ? this.s.beginImmediate : this.s.begin).run();
    try {
      const r = await fn(this.makeTx(write));
      this.s.commit.run();
      return r;
    } catch (e) {
      if (this.db.inTransaction) this.s.rollback.run();
      throw e;
    }
  }

  private makeTx(write: boolean): WriteTx {
    const s = this.s;
    let revision = Number(s.getMeta.get('revision'));
    const guard = () => {
      if (!write) throw new Error('write in a read transaction');
    };
    /** Runs a write statement (refused in a read transaction); returns the rows it changed. */
    const run = (st: Stmt, ...args: unknown[]): number => {
      guard();
      return st.run(...args).changes;
    };
    const appendChange = (kind: Kind, id: string, op: ChangeOp, body: string): number => {
      revision += 1;
      s.addChange.run(revision, kind, id, op, body);
      s.setMeta.run(revision, 'revision');
      return revision;
    };
    const keysOf = (space: KeySpace, from: bigint, to: bigint, limit: number): bigint[] =>
      space.kind === 'vni'
        ? (s.vniKeys.all(Number(from), Number(to), limit) as number[]).map((v) => BigInt(v))
        : (
            s.ipKeys.all(
              space.subnetId,
              bigIntToKey(from, space.version),
              bigIntToKey(to, space.version),
              limit,
            ) as string[]
          ).map(keyToBigInt);
    return {
      revision: async () => revision,
      get: async <K extends Kind>(kind: K, id: string) => {
        const body = s.get.get(kind, id) as string | undefined;
        return body === undefined ? undefined : (JSON.parse(body) as KindMap[K]);
      },
      list: async <K extends Kind>(kind: K, parentId?: string) => {
        const rows = (parentId === undefined ? s.list.all(kind) : s.listParent.all(kind, parentId)) as string[];
        return rows.map((b) => JSON.parse(b) as KindMap[K]);
      },
      ipAllocations: async (by) =>
        (by.portId !== undefined ? s.ipByPort.all(by.portId) : s.ipBySubnet.all(by.subnetId)) as IpAllocation[],
      defaultSecurityGroup: async (projectId) => s.getDefaultSg.get(projectId) as string | undefined,
      countOwned: async (kind, projectId) => Number(s.countOwned.get(kind, projectId)),
      quotaOverrides: async (projectId) =>
        (projectId === undefined ? s.quotasAll.all() : s.quotasOf.all(projectId)) as QuotaOverride[],
      rememberedResult: async (key) => s.remembered.get(key) as string | undefined,
      allocatedKeys: async (space, from, to, limit) => keysOf(space, from, to, limit),
      maxAllocatedKey: async (space, from, to) => {
        if (space.kind === 'vni') {
          const v = s.vniMax.get(Number(from), Number(to)) as number | null;
          return v === null ? undefined : BigInt(v);
        }
        const k = s.ipMax.get(space.subnetId, bigIntToKey(from, space.version), bigIntToKey(to, space.version)) as
          | string
          | null;
        return k === null ? undefined : keyToBigInt(k);
      },
      put: async (kind, obj, op, parentId) => {
        guard();
        const body = JSON.stringify(obj);
        const rev = appendChange(kind, obj.id, op, body);
        s.upsert.run(kind, obj.id, parentId ?? null, rev, body);
        return rev;
      },
      remove: async (kind, obj) => {
        guard();
        s.delete.run(kind, obj.id);
        return appendChange(kind, obj.id, 'delete', JSON.stringify(obj));
      },
      putQuiet: async (kind, obj) => {
        guard();
        s.updateBody.run(JSON.stringify(obj), kind, obj.id);
      },
      claimVni: async (vni, networkId) => run(s.claimVni, vni, networkId) === 1,
      releaseVni: async (networkId) => void run(s.releaseVni, networkId),
      claimMac: async (networkId, mac, portId) => run(s.claimMac, networkId, mac, portId) === 1,
      releaseMac: async (networkId, mac) => void run(s.releaseMac, networkId, mac),
      claimIp: async (subnetId, version, ip, portId) =>
        run(s.claimIp, subnetId, bigIntToKey(ipToBigInt(ip), version), ip, portId) === 1,
      releaseIp: async (subnetId, ip) => void run(s.releaseIp, subnetId, ip),
      setDefaultSecurityGroup: async (projectId, sgId) => run(s.setDefaultSg, projectId, sgId) === 1,
      clearDefaultSecurityGroup: async (sgId) => void run(s.clearDefaultSg, sgId),
      setQuota: async (projectId, resource, limit) => void run(s.setQuota, projectId, resource, limit),
      clearQuotas: async (projectId) => void run(s.clearQuotas, projectId),
      rememberResult: async (key, result, nowMs, keepMs) => {
        run(s.forget, nowMs - keepMs);
        run(s.remember, key, nowMs, result);
      },
    };
  }
}
