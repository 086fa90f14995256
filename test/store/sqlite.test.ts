/** The SQLite store: one transaction per write, revisions and change log, DB-enforced uniqueness, compaction. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Network } from '../../src/model/types.js';
import { SqliteStore } from '../../src/server/store/sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'hn-store-'));
const net = (id: string) => ({ id, name: id, project_id: 'p', revision_number: 1 }) as unknown as Network;

describe('SqliteStore', () => {
  const store = new SqliteStore({ dataDir: dir, retention: 10 });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps its database in a WAL file under the data dir', () => {
    assert.ok(existsSync(join(dir, 'hypernet.db')));
  });

  it('a failed write leaves nothing (rows, claims, revision)', async () => {
    const before = await store.read((tx) => tx.revision());
    await assert.rejects(
      store.write(async (tx) => {
        await tx.put('network', net('a'), 'create');
        assert.equal(await tx.claimVni(5000, 'a'), true);
        throw new Error('boom');
      }),
    );
    assert.equal(await store.read((tx) => tx.revision()), before);
    assert.equal(await store.read((tx) => tx.get('network', 'a')), undefined);
    assert.equal(await store.write((tx) => tx.claimVni(5000, 'x')), true);
  });

  it('bumps the revision per change and logs it; notifies after commit', async () => {
    const heard: number[] = [];
    const off = store.onCommit((r) => heard.push(r));
    const start = await store.read((tx) => tx.revision());
    await store.write(async (tx) => {
      await tx.put('network', net('b'), 'create');
      await tx.put('network', { ...net('b'), name: 'b2' }, 'update');
    });
    off();
    const r = await store.changesSince(start, 10);
    assert.equal(r.compacted, false);
    if (!r.compacted)
      assert.deepEqual(
        r.changes.map((c) => [c.revision, c.op]),
        [
          [start + 1, 'create'],
          [start + 2, 'update'],
        ],
      );
    assert.deepEqual(heard, [start + 2]);
  });

  it('enforces uniqueness in the database', async () => {
    await store.write(async (tx) => {
      assert.equal(await tx.claimMac('n1', 'fa:16:3e:00:00:01', 'p1'), true);
      assert.equal(await tx.claimMac('n1', 'fa:16:3e:00:00:01', 'p2'), false);
      assert.equal(await tx.claimMac('n2', 'fa:16:3e:00:00:01', 'p3'), true);
      assert.equal(await tx.claimIp('s1', 4, '10.0.0.5', 'p1'), true);
      assert.equal(await tx.claimIp('s1', 4, '10.0.0.5', 'p2'), false);
      assert.equal(await tx.claimVni(5000, 'other'), false);
    });
  });

  it('compacts old history', async () => {
    for (let i = 0; i < 30; i++)
      await store.write((tx) => tx.put('network', { ...net('c'), name: `c${i}` }, i === 0 ? 'create' : 'update'));
    assert.deepEqual(await store.changesSince(1, 10), { compacted: true });
    const now = await store.read((tx) => tx.revision());
    const r = await store.changesSince(now - 5, 10);
    assert.equal(r.compacted, false);
  });
});
