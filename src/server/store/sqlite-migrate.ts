/**
 * Brings a SQLite database to this code's schema version in one transaction. Databases made before
 * versioning have no `schema_version` table: version 1's statements are all `IF NOT EXISTS`, so for
 * them migrating only records version 1.
 */
import type Database from 'better-sqlite3';
import { SCHEMA_VERSION_TABLE, pendingMigrations, statementsOf, type MigrateResult } from './migrations.js';

export function migrateSqlite(db: Database.Database): MigrateResult {
  return db
    .transaction((): MigrateResult => {
      db.exec(SCHEMA_VERSION_TABLE);
      const from = Number(db.prepare('SELECT coalesce(max(version), 0) FROM schema_version').pluck().get());
      let to = from;
      for (const m of pendingMigrations(from)) {
        for (const sql of statementsOf(m, 'sqlite')) db.exec(sql);
        db.prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)').run(
          m.version,
          new Date().toISOString(),
        );
        to = m.version;
      }
      return { from, to };
    })
    .immediate();
}
