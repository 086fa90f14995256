/**
 * The Store conformance suite: what every backend must do, run by each backend's test file against a
 * real database (sqlite.test.ts, postgres.test.ts). One transaction per write, revisions and change
 * log, database-enforced uniqueness, the read methods' orders and filters, quotas, compaction,
 * idempotency results, quiet writes and the schema version.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Network, Port } from '../../src/model/types.js';
import { NeedsWriteLockError, type Store } from '../../src/server/store/store.js';
import { SCHEMA_VERSION } from '../../src/server/store/migrations.js';

export interface OpenedStore {
  store: Store;
  /** Closes the store and removes what the test made. */
  cleanup(): Promise<void>;
}

/** Opens a fresh, empty store keeping `retention` changes. */
export type StoreFactory = (opts: { retention: number }) => Promise<OpenedStore>;

const net = (id: string) => ({ id, name: id, project_id: 'p', revision_number: 1 }) as unknown as Network;
const port = (id: string, project = 'p') => ({ id, name: id, project_id: project }) as unknown as Port;

export function storeConformance(name: string, open: StoreFactory, opts: { skip?: false | string } = {}): void {
  describe(`Store conformance: ${name}`, { skip: opts.skip }, () => {
    let opened: OpenedStore;
    let store: Store;
    before(async () => {
      opened = await open({ retention: 10 });
      store = opened.store;
    });
    after(async () => opened?.cleanup());

    it('starts empty at revision 0', async () => {
      assert.equal(await store.read((tx) => tx.revision()), 0);
      assert.deepEqual(await store.read((tx) => tx.list('network')), []);
    });

    it('a failed write leaves nothing (rows, claims, revision)', async () => {
      const before = await store.read((tx) => tx.revision());
      await assert.rejects(
        store.write(async (tx) => {
          await tx.put('network', net('a'), 'create');
          assert.equal(await tx.claimVni(5000, 'a'), true);
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal(await store.read((tx) => tx.revision()), before);
      assert.equal(await store.read((tx) => tx.get('network', 'a')), undefined);
      assert.equal(await store.write((tx) => tx.claimVni(5000, 'x')), true);
    });

    it('bumps the revision per change and logs it; notifies after commit', async () => {
      const heard: number[] = [];
      const off = store.onCommit((r) => heard.push(r));
      const start = await store.read((tx) => tx.revision());
      const revs = await store.write(async (tx) => [
        await tx.put('network', net('b'), 'create'),
        await tx.put('network', { ...net('b'), name: 'b2' }, 'update'),
        await tx.revision(),
      ]);
      assert.deepEqual(revs, [start + 1, start + 2, start + 2]);
      const r = await store.changesSince(start, 10);
      assert.equal(r.compacted, false);
      if (!r.compacted) {
        assert.deepEqual(
          r.changes.map((c) => [c.revision, c.op, c.kind, c.id]),
          [
            [start + 1, 'create', 'network', 'b'],
            [start + 2, 'update', 'network', 'b'],
          ],
        );
        assert.equal((r.changes[1].object as Network).name, 'b2');
        assert.equal(r.revision, start + 2);
      }
      // Another server's commit may arrive by notification; this store's own is announced once.
      await new Promise((res) => setTimeout(res, 50));
      off();
      assert.deepEqual(heard, [start + 2]);
    });

    it('a write that appends nothing is not announced and keeps the revision', async () => {
      const heard: number[] = [];
      const off = store.onCommit((r) => heard.push(r));
      const start = await store.read((tx) => tx.revision());
      await store.write((tx) => tx.putQuiet('network', { ...net('b'), name: 'quiet' }));
      await new Promise((res) => setTimeout(res, 50));
      off();
      assert.deepEqual(heard, []);
      assert.equal(await store.read((tx) => tx.revision()), start);
      assert.equal((await store.read((tx) => tx.get('network', 'b')))?.name, 'quiet');
    });

    it('refuses writes in a read transaction', async () => {
      await assert.rejects(
        store.read((tx) =>
          (tx as unknown as { claimVni: (v: number, n: string) => Promise<boolean> }).claimVni(7, 'n'),
        ),
      );
    });

    it('lists in creation order, by parent, and removes with a delete change', async () => {
      await store.write(async (tx) => {
        await tx.put('port', port('p2'), 'create', 'n1');
        await tx.put('port', port('p1'), 'create', 'n2');
        await tx.put('port', port('p3', 'q'), 'create', 'n1');
        await tx.put('port', { ...port('p2'), name: 'renamed' }, 'update', 'n1');
      });
      const ids = (ps: Port[]) => ps.map((p) => p.id);
      assert.deepEqual(ids(await store.read((tx) => tx.list('port'))), ['p2', 'p1', 'p3']);
      assert.deepEqual(ids(await store.read((tx) => tx.list('port', 'n1'))), ['p2', 'p3']);
      assert.equal(await store.read((tx) => tx.countOwned('port', 'p')), 2);
      assert.equal(await store.read((tx) => tx.countOwned('port', 'q')), 1);
      const start = await store.read((tx) => tx.revision());
      const rev = await store.write(async (tx) => tx.remove('port', (await tx.get('port', 'p1'))!));
      assert.equal(rev, start + 1);
      assert.deepEqual(ids(await store.read((tx) => tx.list('port'))), ['p2', 'p3']);
      const r = await store.changesSince(start, 10);
      assert.ok(!r.compacted);
      assert.deepEqual(
        r.changes.map((c) => [c.op, c.id, (c.object as Port).name]),
        [['delete', 'p1', 'p1']],
      );
    });

    it('keeps any text a tenant may write, NUL and other control characters included', async () => {
      const name = 'a\u0000b\u0001\n"\\ é 😀';
      await store.write((tx) => tx.put('port', { ...port('odd'), name, project_id: 'odd' }, 'create', 'n9'));
      assert.equal((await store.read((tx) => tx.get('port', 'odd')))?.name, name);
      assert.equal(await store.read((tx) => tx.countOwned('port', 'odd')), 1);
      await store.write(async (tx) => tx.remove('port', (await tx.get('port', 'odd'))!));
    });

    it('enforces uniqueness in the database', async () => {
      await store.write(async (tx) => {
        assert.equal(await tx.claimMac('n1', 'fa:16:3e:00:00:01', 'p1'), true);
        assert.equal(await tx.claimMac('n1', 'fa:16:3e:00:00:01', 'p2'), false);
        assert.equal(await tx.claimMac('n2', 'fa:16:3e:00:00:01', 'p3'), true);
        assert.equal(await tx.claimIp('s1', 4, '10.0.0.5', 'p1'), true);
        assert.equal(await tx.claimIp('s1', 4, '10.0.0.5', 'p2'), false);
        assert.equal(await tx.claimVni(5000, 'other'), false);
        assert.equal(await tx.setDefaultSecurityGroup('p', 'sg1'), true);
        assert.equal(await tx.setDefaultSecurityGroup('p', 'sg2'), false);
      });
      assert.equal(await store.read((tx) => tx.defaultSecurityGroup('p')), 'sg1');
      await store.write(async (tx) => {
        await tx.releaseMac('n1', 'fa:16:3e:00:00:01');
        assert.equal(await tx.claimMac('n1', 'fa:16:3e:00:00:01', 'p2'), true);
        await tx.clearDefaultSecurityGroup('sg1');
      });
      assert.equal(await store.read((tx) => tx.defaultSecurityGroup('p')), undefined);
    });

    it('reads allocations and key ranges (IPv4, IPv6, VNI)', async () => {
      await store.write(async (tx) => {
        for (const ip of ['10.0.0.9', '10.0.0.2', '10.0.1.0']) assert.ok(await tx.claimIp('s4', 4, ip, 'pa'));
        assert.ok(await tx.claimIp('s4', 4, '10.0.0.3', 'pb'));
        for (const ip of ['fd00::10', 'fd00::2', 'fd00::a']) assert.ok(await tx.claimIp('s6', 6, ip, 'pa'));
        assert.ok(await tx.claimVni(6001, 'na'));
        assert.ok(await tx.claimVni(6003, 'nb'));
      });
      const all = await store.read((tx) => tx.ipAllocations({ subnetId: 's4' }));
      assert.deepEqual(
        all.map((a) => a.ip_address),
        ['10.0.0.2', '10.0.0.3', '10.0.0.9', '10.0.1.0'],
      );
      const byPort = await store.read((tx) => tx.ipAllocations({ portId: 'pa' }));
      assert.deepEqual(
        byPort.map((a) => [a.subnet_id, a.ip_address, a.port_id]),
        [
          ['s4', '10.0.0.2', 'pa'],
          ['s4', '10.0.0.9', 'pa'],
          ['s4', '10.0.1.0', 'pa'],
          ['s6', 'fd00::2', 'pa'],
          ['s6', 'fd00::a', 'pa'],
          ['s6', 'fd00::10', 'pa'],
        ],
      );
      const v4 = { kind: 'ip', subnetId: 's4', version: 4 } as const;
      const v6 = { kind: 'ip', subnetId: 's6', version: 6 } as const;
      const ip4 = (s: string) => BigInt(s.split('.').reduce((n, o) => n * 256 + Number(o), 0));
      await store.read(async (tx) => {
        assert.deepEqual(await tx.allocatedKeys(v4, ip4('10.0.0.3'), ip4('10.0.0.255'), 10), [
          ip4('10.0.0.3'),
          ip4('10.0.0.9'),
        ]);
        assert.deepEqual(await tx.allocatedKeys(v4, ip4('10.0.0.0'), ip4('10.0.255.255'), 2), [
          ip4('10.0.0.2'),
          ip4('10.0.0.3'),
        ]);
        assert.equal(await tx.maxAllocatedKey(v4, ip4('10.0.0.0'), ip4('10.0.0.255')), ip4('10.0.0.9'));
        assert.equal(await tx.maxAllocatedKey(v4, ip4('10.0.2.0'), ip4('10.0.2.255')), undefined);
        const base = 0xfd00n << 112n;
        assert.deepEqual(await tx.allocatedKeys(v6, base, base + 0xffn, 10), [base + 2n, base + 10n, base + 16n]);
        assert.equal(await tx.maxAllocatedKey(v6, base, base + 0xfn), base + 10n);
        assert.deepEqual(await tx.allocatedKeys({ kind: 'vni' }, 6000n, 7000n, 10), [6001n, 6003n]);
        assert.equal(await tx.maxAllocatedKey({ kind: 'vni' }, 6000n, 6002n), 6001n);
        assert.equal(await tx.maxAllocatedKey({ kind: 'vni' }, 7000n, 8000n), undefined);
      });
      await store.write(async (tx) => {
        await tx.releaseIp('s4', '10.0.0.9');
        await tx.releaseVni('na');
      });
      await store.read(async (tx) => {
        assert.equal(await tx.maxAllocatedKey(v4, ip4('10.0.0.0'), ip4('10.0.0.255')), ip4('10.0.0.3'));
        assert.deepEqual(await tx.allocatedKeys({ kind: 'vni' }, 6000n, 7000n, 10), [6003n]);
      });
    });

    it('keeps quota limits per project', async () => {
      await store.write(async (tx) => {
        await tx.setQuota('p', 'port', 5);
        await tx.setQuota('p', 'network', -1);
        await tx.setQuota('a', 'port', 7);
        await tx.setQuota('p', 'port', 6);
      });
      assert.deepEqual(await store.read((tx) => tx.quotaOverrides('p')), [
        { project_id: 'p', resource: 'network', limit: -1 },
        { project_id: 'p', resource: 'port', limit: 6 },
      ]);
      assert.deepEqual(
        (await store.read((tx) => tx.quotaOverrides())).map((q) => q.project_id),
        ['a', 'p', 'p'],
      );
      await store.write((tx) => tx.clearQuotas('p'));
      assert.deepEqual(await store.read((tx) => tx.quotaOverrides('p')), []);
    });

    it('pages the change log and refuses a revision it never had', async () => {
      const now = await store.read((tx) => tx.revision());
      const r = await store.changesSince(now - 3, 2);
      assert.ok(!r.compacted);
      assert.deepEqual(
        r.changes.map((c) => c.revision),
        [now - 2, now - 1],
      );
      assert.equal(r.revision, now);
      const empty = await store.changesSince(now, 10);
      assert.ok(!empty.compacted);
      assert.deepEqual(empty.changes, []);
      assert.deepEqual(await store.changesSince(now + 1, 10), { compacted: true });
    });

    it('compacts old history', async () => {
      for (let i = 0; i < 30; i++)
        await store.write((tx) => tx.put('network', { ...net('c'), name: `c${i}` }, i === 0 ? 'create' : 'update'));
      assert.deepEqual(await store.changesSince(1, 10), { compacted: true });
      const now = await store.read((tx) => tx.revision());
      const r = await store.changesSince(now - 5, 10);
      assert.equal(r.compacted, false);
      if (!r.compacted) assert.equal(r.changes.length, 5);
    });
    it('remembers results under idempotency keys and forgets them after their time', async () => {
      const rev = await store.read((tx) => tx.revision());
      await store.write((tx) => tx.rememberResult('k1', '{"a":1}', 1_000, 500));
      assert.equal(await store.read((tx) => tx.rememberedResult('k1')), '{"a":1}');
      // The first result stays: a second one under the same key is ignored.
      await store.write((tx) => tx.rememberResult('k1', '{"a":2}', 1_100, 500));
      assert.equal(await store.read((tx) => tx.rememberedResult('k1')), '{"a":1}');
      await store.write((tx) => tx.rememberResult('k2', '{"b":1}', 2_000, 500));
      assert.equal(await store.read((tx) => tx.rememberedResult('k1')), undefined);
      assert.equal(await store.read((tx) => tx.rememberedResult('k2')), '{"b":1}');
      assert.equal(await store.read((tx) => tx.revision()), rev, 'no change-log row');
    });

    it('remembers a result written with changes in the same transaction, and reads back its own writes', async () => {
      const rev = await store.read((tx) => tx.revision());
      const seen = await store.write(async (tx) => {
        await tx.put('network', net('mine'), 'create');
        const created = (await tx.get('network', 'mine'))?.name;
        await tx.put('network', { ...net('mine'), name: 'renamed' }, 'update');
        const renamed = (await tx.get('network', 'mine'))?.name;
        await tx.remove('network', { ...net('mine'), name: 'renamed' });
        const gone = await tx.get('network', 'mine');
        await tx.put('network', net('mine2'), 'create');
        await tx.rememberResult('with-changes', '{"c":1}', 5_000, 500);
        return { created, renamed, gone };
      });
      assert.deepEqual(seen, { created: 'mine', renamed: 'renamed', gone: undefined });
      assert.equal(await store.read((tx) => tx.rememberedResult('with-changes')), '{"c":1}');
      assert.equal(await store.read((tx) => tx.get('network', 'mine')), undefined);
      assert.equal(await store.read((tx) => tx.revision()), rev + 4);
      const quiet = await store.writeQuiet(async (tx) => {
        await tx.putQuiet('network', { ...net('mine2'), name: 'hushed' });
        return (await tx.get('network', 'mine2'))?.name;
      });
      assert.equal(quiet, 'hushed');
    });

    it('writes quietly without a change; refuses or runs a full change in a quiet write', async () => {
      await store.write((tx) => tx.put('network', net('quiet'), 'create'));
      const rev = await store.read((tx) => tx.revision());
      await store.writeQuiet((tx) => tx.putQuiet('network', { ...net('quiet'), name: 'hushed' }));
      assert.equal((await store.read((tx) => tx.get('network', 'quiet')))?.name, 'hushed');
      assert.equal(await store.read((tx) => tx.revision()), rev);
      // A backend either runs it as a full write or refuses it (the caller then uses write).
      try {
        await store.writeQuiet((tx) => tx.put('network', { ...net('quiet'), name: 'loud' }, 'update'));
        assert.equal(await store.read((tx) => tx.revision()), rev + 1);
      } catch (e) {
        assert.ok(e instanceof NeedsWriteLockError, String(e));
        assert.equal(await store.read((tx) => tx.revision()), rev);
        assert.equal((await store.read((tx) => tx.get('network', 'quiet')))?.name, 'hushed');
      }
    });

    it('tells its schema version', async () => {
      assert.equal(await store.schemaVersion(), SCHEMA_VERSION);
    });
  });
}
