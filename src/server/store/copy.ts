/**
 * `hypernet db copy`: moves a site from SQLite to PostgreSQL, table by table and row for row, so that
 * objects keep their creation order (`seq`), allocations and quotas stay as they were, and the
 * revision, compaction point and change log carry over (agents resume their watch with `since`).
 * The source is read in one SQLite read transaction (a consistent snapshot); the target is written
 * in ONE PostgreSQL transaction that first checks it is empty: a failure anywhere leaves it empty.
 */
import Database from 'better-sqlite3';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { redactUrl } from './database-url.js';
import { SCHEMA_VERSION } from './migrations.js';
import { unreachable } from './postgres-errors.js';
import { migratePostgres } from './postgres-migrate.js';
import { projectOf } from './postgres.js';

type ColumnType = 'text' | 'bigint';

/** A column only PostgreSQL has, computed from a row of SQLite's columns. */
interface DerivedColumn {
  name: string;
  type: ColumnType;
  of(row: unknown[]): unknown;
}

/** Every table of the schema with its columns, in the order they are copied. */
const TABLES: readonly { name: string; columns: readonly [string, ColumnType][]; derived?: DerivedColumn }[] = [
  {
    name: 'resources',
    columns: [
      ['kind', 'text'],
      ['id', 'text'],
      ['parent_id', 'text'],
      ['seq', 'bigint'],
      ['body', 'text'],
    ],
    derived: { name: 'project_id', type: 'text', of: (row) => projectOf(JSON.parse(String(row[4]))) },
  },
  {
    name: 'changes',
    columns: [
      ['revision', 'bigint'],
      ['kind', 'text'],
      ['id', 'text'],
      ['op', 'text'],
      ['object', 'text'],
    ],
  },
  {
    name: 'vni_allocations',
    columns: [
      ['vni', 'bigint'],
      ['network_id', 'text'],
    ],
  },
  {
    name: 'mac_allocations',
    columns: [
      ['network_id', 'text'],
      ['mac', 'text'],
      ['port_id', 'text'],
    ],
  },
  {
    name: 'ip_allocations',
    columns: [
      ['subnet_id', 'text'],
      ['ip_key', 'text'],
      ['ip_address', 'text'],
      ['port_id', 'text'],
    ],
  },
  {
    name: 'default_security_groups',
    columns: [
      ['project_id', 'text'],
      ['security_group_id', 'text'],
    ],
  },
  {
    name: 'quotas',
    columns: [
      ['project_id', 'text'],
      ['resource', 'text'],
      ['hard_limit', 'bigint'],
    ],
  },
];

const BATCH = 500;

export interface CopyResult {
  rows: number;
  revision: number;
}

/** The SQLite file of `sqlite:PATH`: PATH is a data directory (holding hypernet.db) or the file itself. */
export function sqliteFileOf(source: string): string {
  if (!source.startsWith('sqlite:'))
    throw new Error(`--from must be sqlite:PATH (a data dir or a .db file), not '${source}'`);
  const path = source.slice('sqlite:'.length);
  if (!path) throw new Error('--from sqlite: needs a path');
  const file = existsSync(path) && statSync(path).isDirectory() ? join(path, 'hypernet.db') : path;
  if (!existsSync(file)) throw new Error(`no SQLite database at ${file}`);
  return file;
}

export async function copySqliteToPostgres(
  sqliteFile: string,
  url: string,
  progress: (line: string) => void,
): Promise<CopyResult> {
  const src = new Database(sqliteFile, { readonly: true, fileMustExist: true });
  const target = new pg.Client({ connectionString: url });
  try {
    const version = sqliteVersion(src);
    if (version !== SCHEMA_VERSION)
      throw new Error(
        `the SQLite database has schema version ${version}, this hypernet copies version ${SCHEMA_VERSION}: ` +
          'run `hypernet db migrate --data-dir DIR` on it first',
      );
    await target.connect().catch((e: unknown) => {
      throw unreachable(redactUrl(url), e);
    });
    await migratePostgres(target);
    src.exec('BEGIN');
    await target.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    try {
      // No server may write while we fill it (servers take the same lock for every write).
      await target.query('LOCK TABLE changes IN EXCLUSIVE MODE');
      await refuseNonEmpty(target, url);
      let rows = 0;
      for (const t of TABLES) rows += await copyTable(src, target, t, progress);
      const meta = src.prepare('SELECT name, value FROM meta').all() as { name: string; value: number }[];
      for (const m of meta)
        await target.query(
          'INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
          [m.name, m.value],
        );
      await target.query('COMMIT');
      return { rows, revision: Number(meta.find((m) => m.name === 'revision')?.value ?? 0) };
    } catch (e) {
      await target.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      src.exec('ROLLBACK');
    }
  } finally {
    src.close();
    await target.end().catch(() => undefined);
  }
}

function sqliteVersion(db: Database.Database): number {
  const has = (name: string) =>
    db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?").pluck().get(name) === 1;
  if (has('schema_version')) return Number(db.prepare('SELECT max(version) FROM schema_version').pluck().get());
  return has('meta') ? 1 : 0; // made before versioning: version 1
}

async function refuseNonEmpty(target: pg.Client, url: string): Promise<void> {
  const counts = TABLES.map((t) => `(SELECT count(*) FROM ${t.name})`).join(' + ');
  const r = await target.query(`SELECT ${counts} AS n, (SELECT value FROM meta WHERE name = 'revision') AS revision`);
  const n = Number(r.rows[0].n);
  const revision = Number(r.rows[0].revision);
  if (n > 0 || revision > 0)
    throw new Error(
      `the target database ${redactUrl(url)} is not empty (${n} rows, revision ${revision}): ` +
        'copy only into a new database',
    );
}

/** Copies one table in batches (one INSERT … SELECT FROM unnest(…) each); returns its row count. */
async function copyTable(
  src: Database.Database,
  target: pg.Client,
  t: (typeof TABLES)[number],
  progress: (line: string) => void,
): Promise<number> {
  const names = t.columns.map(([c]) => c);
  const total = Number(src.prepare(`SELECT count(*) FROM ${t.name}`).pluck().get());
  const columns = [...t.columns, ...(t.derived ? [[t.derived.name, t.derived.type] as const] : [])];
  const arrays = columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ');
  const insert = `INSERT INTO ${t.name} (${columns.map(([c]) => c).join(', ')}) SELECT * FROM unnest(${arrays})`;
  let done = 0;
  let batch: unknown[][] = [];
  const flush = async () => {
    if (!batch.length) return;
    const rows = t.derived ? batch.map((row) => [...row, t.derived!.of(row)]) : batch;
    await target.query(
      insert,
      columns.map((_, i) => rows.map((row) => (row[i] === null ? null : String(row[i])))),
    );
    done += batch.length;
    batch = [];
    progress(`copy: ${t.name} ${done}/${total}`);
  };
  for (const row of src
    .prepare(`SELECT ${names.join(', ')} FROM ${t.name}`)
    .raw()
    .iterate() as Iterable<unknown[]>) {
    batch.push(row);
    if (batch.length === BATCH) await flush();
  }
  await flush();
  if (total === 0) progress(`copy: ${t.name} 0/0`);
  return done;
}
