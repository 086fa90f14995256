/**
 * `hypernet db`: the store's schema and moves between backends, run by an operator (docs/operations.md).
 * `db migrate [--database URL | --data-dir DIR]` creates or upgrades the schema without starting a
 * server; `db copy --from sqlite:PATH --to postgresql://…` moves a site into a new PostgreSQL database.
 */
import Database from 'better-sqlite3';
import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { storeFlags } from './command.js';
import { copySqliteToPostgres, sqliteFileOf } from './store/copy.js';
import { checkDatabaseUrl, redactUrl } from './store/database-url.js';
import type { MigrateResult } from './store/migrations.js';
import { unreachable } from './store/postgres-errors.js';
import { migratePostgres } from './store/postgres-migrate.js';
import { migrateSqlite } from './store/sqlite-migrate.js';

export function register(program: Command): void {
  const db = program.command('db').description("the store's schema and moving a site between backends");
  db.command('migrate')
    .description('create or upgrade the schema (SQLite under --data-dir, or PostgreSQL with --database)')
    .option('--data-dir <dir>', 'directory of the SQLite database (default: /var/lib/hypernet)')
    .option('--database <url>', 'PostgreSQL database: postgresql://user:password@host:5432/db')
    .action((flags: { dataDir?: string; database?: string }) =>
      refusedIsExit1('db migrate', async () => {
        const where = storeFlags(flags);
        const r = where.database ? await migratePostgresAt(where.database) : migrateSqliteIn(where.dataDir!);
        const target = where.database ? redactUrl(where.database) : join(where.dataDir!, 'hypernet.db');
        process.stdout.write(
          r.from === r.to
            ? `${target}: schema already at version ${r.to}\n`
            : `${target}: schema upgraded from version ${r.from} to ${r.to}\n`,
        );
      }),
    );
  db.command('copy')
    .description('copy a SQLite site into a new, empty PostgreSQL database (stop the server first)')
    .requiredOption('--from <source>', 'sqlite:PATH (a data dir or its hypernet.db)')
    .requiredOption('--to <url>', 'postgresql://user:password@host:5432/db (must be empty)')
    .action((flags: { from: string; to: string }) =>
      refusedIsExit1('db copy', async () => {
        const file = sqliteFileOf(flags.from);
        checkDatabaseUrl(flags.to);
        const started = performance.now();
        const r = await copySqliteToPostgres(file, flags.to, (line) => process.stdout.write(`${line}\n`));
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        process.stdout.write(
          `copied ${r.rows} rows from ${file} to ${redactUrl(flags.to)} in ${seconds} s, revision ${r.revision}\n`,
        );
      }),
    );
}

/** Runs a command's body; a failure is printed as one line and exits 1 (nothing was changed). */
async function refusedIsExit1(name: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    process.stderr.write(`hypernet ${name}: ${(e as Error).message}\n`);
    process.exit(1);
  }
}

function migrateSqliteIn(dataDir: string): MigrateResult {
  mkdirSync(dataDir, { recursive: true });
  const db = new Database(join(dataDir, 'hypernet.db'));
  try {
    db.pragma('journal_mode = WAL');
    return migrateSqlite(db);
  } finally {
    db.close();
  }
}

async function migratePostgresAt(url: string): Promise<MigrateResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect().catch((e: unknown) => {
    throw unreachable(redactUrl(url), e);
  });
  try {
    return await migratePostgres(client);
  } finally {
    await client.end();
  }
}
