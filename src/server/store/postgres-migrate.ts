/**
 * Brings a PostgreSQL database to this code's schema version in ONE transaction (PostgreSQL's DDL is
 * transactional: a failed upgrade leaves the old schema). An advisory lock makes several servers
 * starting at once migrate one after the other; the later ones find nothing to do.
 */
import type pg from 'pg';
import { SCHEMA_VERSION_TABLE, pendingMigrations, statementsOf, type MigrateResult } from './migrations.js';

/** Advisory lock key of migrations ("hnmigr" in ASCII). */
const MIGRATE_LOCK = 0x686e6d696772;

export async function migratePostgres(client: pg.ClientBase): Promise<MigrateResult> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATE_LOCK]);
    await client.query(SCHEMA_VERSION_TABLE);
    const from = await postgresSchemaVersion(client);
    let to = from;
    for (const m of pendingMigrations(from)) {
      for (const sql of statementsOf(m, 'postgres')) await client.query(sql);
      await client.query('INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)', [
        m.version,
        new Date().toISOString(),
      ]);
      to = m.version;
    }
    await client.query('COMMIT');
    return { from, to };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

/** The schema version recorded in the database (0: none yet). */
export async function postgresSchemaVersion(client: pg.ClientBase): Promise<number> {
  const exists = await client.query("SELECT to_regclass('schema_version') IS NOT NULL AS t");
  if (!exists.rows[0].t) return 0;
  const r = await client.query('SELECT coalesce(max(version), 0) AS v FROM schema_version');
  return Number(r.rows[0].v);
}
