/**
 * The watch streams' shared reads of the change log (change-feed.ts) on a real SQLite store: streams
 * asking for the same range at once make one query, a commit makes the next read fresh, and an
 * answer is not reused past its age (the re-read that catches a missed notification).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../src/common/clock.js';
import type { Network } from '../../src/model/types.js';
import { ChangeFeed } from '../../src/server/change-feed.js';
import { SqliteStore } from '../../src/server/store/sqlite.js';

const net = (id: string) => ({ id, name: id, project_id: 'p' }) as unknown as Network;

describe('ChangeFeed', () => {
  let dir: string;
  let store: SqliteStore;
  let queries = 0;
  let now = 0;
  const clock: Clock = { now: () => now, sleep: async () => undefined };
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'hn-feed-'));
    store = new SqliteStore({ dataDir: dir });
    const read = store.changesSince.bind(store);
    store.changesSince = (since, limit) => {
      queries++;
      return read(since, limit);
    };
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shares one query among readers of the same range until a commit or its age', async () => {
    const feed = new ChangeFeed(store, clock, 1_000);
    await store.write((tx) => tx.put('network', net('a'), 'create'));
    const answers = await Promise.all(Array.from({ length: 50 }, () => feed.changesSince(0, 500)));
    assert.equal(queries, 1);
    for (const r of answers) assert.deepEqual(r, answers[0]);
    assert.ok(!answers[0].compacted && answers[0].changes.length === 1);

    // A commit: the same range is read again and has the new change.
    await store.write((tx) => tx.put('network', net('b'), 'create'));
    const after = await feed.changesSince(0, 500);
    assert.equal(queries, 2);
    assert.ok(!after.compacted && after.changes.map((c) => c.id).join() === 'a,b');

    // Another range is its own query; the same one is reused until the age passes.
    await feed.changesSince(1, 500);
    assert.equal(queries, 3);
    now += 999;
    await feed.changesSince(0, 500);
    assert.equal(queries, 3);
    now += 1;
    await feed.changesSince(0, 500);
    assert.equal(queries, 4);
    feed.close();
  });
});
