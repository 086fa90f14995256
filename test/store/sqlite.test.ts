/** The SQLite store: the conformance suite on a real file, plus what only SQLite has (WAL file, versioning). */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SCHEMA } from '../../src/server/store/schema.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/server/store/migrations.js';
import { SqliteStore } from '../../src/server/store/sqlite.js';
import { storeConformance } from './conformance.js';

storeConformance('SQLite', async ({ retention }) => {
  const dir = mkdtempSync(join(tmpdir(), 'hn-store-'));
  const store = new SqliteStore({ dataDir: dir, retention });
  return {
    store,
    async cleanup() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('SqliteStore files and schema version', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hn-store-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps its database in a WAL file under the data dir, at the current schema version', async () => {
    const store = new SqliteStore({ dataDir: join(dir, 'new') });
    await store.close();
    assert.ok(existsSync(join(dir, 'new', 'hypernet.db')));
    const db = new Database(join(dir, 'new', 'hypernet.db'));
    assert.equal(db.prepare('SELECT max(version) FROM schema_version').pluck().get(), SCHEMA_VERSION);
    db.close();
  });

  it('adopts a database made before versioning as version 1, keeping its data', async () => {
    const old = join(dir, 'old');
    const s = new SqliteStore({ dataDir: old });
    await s.write((tx) => tx.setQuota('p', 'port', 3));
    await s.close();
    const db = new Database(join(old, 'hypernet.db'));
    db.exec('DROP TABLE schema_version');
    for (const sql of SCHEMA) db.exec(sql);
    db.close();
    const again = new SqliteStore({ dataDir: old });
    assert.deepEqual(await again.read((tx) => tx.quotaOverrides('p')), [
      { project_id: 'p', resource: 'port', limit: 3 },
    ]);
    await again.close();
    const check = new Database(join(old, 'hypernet.db'));
    // Recorded as version 1, then upgraded by the later migrations.
    assert.deepEqual(
      check.prepare('SELECT version FROM schema_version ORDER BY version').pluck().all(),
      MIGRATIONS.map((m) => m.version),
    );
    check.close();
  });

  it('refuses a database newer than this code', async () => {
    const newer = join(dir, 'newer');
    await new SqliteStore({ dataDir: newer }).close();
    const db = new Database(join(newer, 'hypernet.db'));
    db.prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)').run(SCHEMA_VERSION + 1, 'later');
    db.close();
    assert.throws(
      () => new SqliteStore({ dataDir: newer }),
      new RegExp(`schema version ${SCHEMA_VERSION + 1}, newer than this hypernet knows`),
    );
  });
});
