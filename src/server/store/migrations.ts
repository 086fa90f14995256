/**
 * The schema's versions, for both backends. Each migration lists the statements both dialects share
 * and those of one backend; `schema_version` records which versions a database has. Version 1 is the
 * schema SQLite databases had before versioning: its statements are all `IF NOT EXISTS`, so applying
 * it to such a database (no `schema_version` yet) only records it. A database newer than this code
 * is refused, never downgraded.
 */
import { SCHEMA } from './schema.js';

export type Backend = 'sqlite' | 'postgres';

export interface Migration {
  version: number;
  /** What it changes, for `hypernet db migrate`'s output. */
  description: string;
  common: readonly string[];
  sqlite: readonly string[];
  postgres: readonly string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'objects, change log, allocations, quotas',
    common: SCHEMA,
    // Counts a project's objects (quota usage) without parsing every body.
    sqlite: ["CREATE INDEX IF NOT EXISTS resources_project ON resources (kind, json_extract(body, '$.project_id'))"],
    postgres: [
      // Address keys compare byte-wise whatever the database's locale (ipam/keys.ts relies on it).
      'ALTER TABLE ip_allocations ALTER COLUMN ip_key TYPE TEXT COLLATE "C"',
      // The owner in its own column (kept by the store): PostgreSQL's JSON functions refuse a body whose
      // free text holds the escape \u0000, which tenants may write.
      'ALTER TABLE resources ADD COLUMN IF NOT EXISTS project_id TEXT',
      'CREATE INDEX IF NOT EXISTS resources_project ON resources (kind, project_id)',
    ],
  },
  {
    version: 2,
    description: 'idempotency keys of writes',
    // A create's result under the client's key, so a retry after a lost reply returns it (routes.ts).
    common: [
      `CREATE TABLE IF NOT EXISTS idempotency_keys (key TEXT PRIMARY KEY, created_at BIGINT NOT NULL,
         result TEXT NOT NULL)`,
      'CREATE INDEX IF NOT EXISTS idempotency_keys_created ON idempotency_keys (created_at)',
    ],
    sqlite: [],
    postgres: [],
  },
];

/** What a migration run did: the version found and the version left. */
export interface MigrateResult {
  from: number;
  to: number;
}

/** The version this code writes and reads. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

export const SCHEMA_VERSION_TABLE =
  'CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)';

/** The migrations a database at `current` needs, in order; throws when it is newer than this code. */
export function pendingMigrations(current: number): readonly Migration[] {
  if (current > SCHEMA_VERSION)
    throw new Error(
      `the database has schema version ${current}, newer than this hypernet knows (${SCHEMA_VERSION}): ` +
        'run the newer hypernet, or restore a backup taken before the upgrade',
    );
  return MIGRATIONS.filter((m) => m.version > current);
}

/** The statements of one migration for one backend. */
export function statementsOf(m: Migration, backend: Backend): readonly string[] {
  return [...m.common, ...m[backend]];
}
