/** The new kinds (router, floatingip, instance) through the store's generic put/get/list/count and change log. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FloatingIp, Instance, Router } from '../../src/model/types.js';
import { SqliteStore } from '../../src/server/store/sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'hn-store-l3-'));
const base = (id: string, project: string) => ({
  id,
  project_id: project,
  tenant_id: project,
  name: id,
  description: '',
  tags: [],
  revision_number: 1,
  created_at: '',
  updated_at: '',
});

describe('store: L3 kinds', () => {
  const store = new SqliteStore({ dataDir: dir, retention: 100 });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('puts, lists by parent, counts per project and logs changes', async () => {
    const router: Router = {
      ...base('r1', 'p'),
      admin_state_up: true,
      status: 'ACTIVE',
      external_gateway_info: null,
      external_gateways: [],
      routes: [],
    };
    const { name: _n, ...fipBase } = base('f1', 'p');
    const fip: FloatingIp = {
      ...fipBase,
      floating_ip_address: '203.0.113.5',
      floating_network_id: 'ext',
      router_id: null,
      port_id: null,
      fixed_ip_address: null,
      status: 'DOWN',
      port_details: null,
    };
    const inst: Instance = {
      ...base('i1', 'q'),
      device_id: 'vm',
      hostname: 'vm',
      user_data: '',
      public_keys: {},
      meta: {},
    };
    const before = await store.read((tx) => tx.revision());
    await store.write(async (tx) => {
      await tx.put('router', router, 'create');
      await tx.put('floatingip', fip, 'create', 'ext');
      await tx.put('instance', inst, 'create');
    });
    await store.read(async (tx) => {
      assert.deepEqual(await tx.get('router', 'r1'), router);
      assert.deepEqual(await tx.list('floatingip', 'ext'), [fip]);
      assert.deepEqual(await tx.list('floatingip', 'other'), []);
      assert.deepEqual(await tx.list('instance'), [inst]);
      assert.equal(await tx.countOwned('router', 'p'), 1);
      assert.equal(await tx.countOwned('floatingip', 'p'), 1);
      assert.equal(await tx.countOwned('router', 'q'), 0);
    });
    const changes = await store.changesSince(before, 10);
    assert.ok(!changes.compacted);
    assert.deepEqual(
      changes.changes.map((c) => [c.kind, c.id, c.op]),
      [
        ['router', 'r1', 'create'],
        ['floatingip', 'f1', 'create'],
        ['instance', 'i1', 'create'],
      ],
    );
    await store.write((tx) => tx.remove('router', router));
    assert.equal(await store.read((tx) => tx.get('router', 'r1')), undefined);
  });
});
