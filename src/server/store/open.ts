/**
 * Opens the store an operator chose: SQLite in a data directory (the embedded default) or PostgreSQL
 * at a `postgresql://` URL (several servers sharing one database). Both migrate the schema on open.
 */
import type { Logger } from '../../common/log.js';
import { PostgresStore } from './postgres.js';
import { SqliteStore } from './sqlite.js';
import type { Store } from './store.js';

export type StoreLocation = { kind: 'sqlite'; dataDir: string } | { kind: 'postgres'; url: string };

export async function openStore(where: StoreLocation, opts: { retention?: number; log?: Logger } = {}): Promise<Store> {
  if (where.kind === 'postgres')
    return PostgresStore.open({ url: where.url, retention: opts.retention, log: opts.log });
  return new SqliteStore({ dataDir: where.dataDir, retention: opts.retention });
}
