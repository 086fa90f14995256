/**
 * The instance store (`/v2.0/instances`, hypernet extension) over real HTTP with token auth: CRUD,
 * one instance per device_id within a project, the grammar of keys and names, tenancy.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Instance } from '../../src/model/types.js';
import { expectFault, startTestServer, type TestServer } from './helpers.js';

const TOKENS = {
  ADMIN: { project_id: 'ops', roles: ['admin'] },
  ALICE: { project_id: 'pa', roles: ['member'] },
  BOB: { project_id: 'pb', roles: ['member'] },
};
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHh5cGVybmV0dGVzdGtleWJ5dGVzMDEyMzQ1Njc4OTAx alice@laptop';

describe('instances', () => {
  let s: TestServer;
  const alice = () => s.client('ALICE');
  const bob = () => s.client('BOB');
  const create = (body: Record<string, unknown>, c = alice()) => c.create<Instance>('instances', 'instance', body);
  before(async () => {
    s = await startTestServer({ tokens: TOKENS });
  });
  after(async () => s?.stop());

  it('create, show, list by device_id, update, delete', async () => {
    const i = await create({
      device_id: 'vm-1',
      name: 'Web Server 1',
      user_data: '#cloud-config\npackages: [nginx]\n',
      public_keys: { default: KEY },
      meta: { role: 'web' },
    });
    assert.equal(i.device_id, 'vm-1');
    assert.equal(i.hostname, 'web-server-1');
    assert.equal(i.project_id, 'pa');
    assert.deepEqual(i.public_keys, { default: KEY });
    assert.deepEqual((await alice().show<Instance>('instances', 'instance', i.id)).meta, { role: 'web' });
    const listed = await alice().list<Instance>('instances', { device_id: 'vm-1' });
    assert.deepEqual(
      listed.map((x) => x.id),
      [i.id],
    );
    const u = await alice().update<Instance>('instances', 'instance', i.id, { user_data: 'x', hostname: 'web1' });
    assert.equal(u.user_data, 'x');
    assert.equal(u.hostname, 'web1');
    assert.equal(u.revision_number, 2);
    await expectFault(
      () => alice().update('instances', 'instance', i.id, { device_id: 'vm-2' }),
      400,
      'HTTPBadRequest',
    );
    await alice().delete('instances', i.id);
    await expectFault(() => alice().show('instances', 'instance', i.id), 404, 'InstanceNotFound');
  });

  it('one instance per device_id in a project; other projects have their own', async () => {
    const a = await create({ device_id: 'vm-dup' });
    assert.equal(a.hostname, 'vm-dup');
    await expectFault(() => create({ device_id: 'vm-dup' }), 409, 'InstanceExists');
    const b = await create({ device_id: 'vm-dup' }, bob());
    assert.equal(b.project_id, 'pb');
    await expectFault(() => bob().show('instances', 'instance', a.id), 404, 'InstanceNotFound');
    await expectFault(() => bob().delete('instances', a.id), 404, 'InstanceNotFound');
    assert.deepEqual(
      (await bob().list<Instance>('instances')).map((x) => x.id),
      [b.id],
    );
    assert.equal((await s.client('ADMIN').list('instances')).length >= 2, true);
  });

  it('refuses what would not be safe to write out: keys, device ids, host names, metadata', async () => {
    const bad = (body: Record<string, unknown>) => expectFault(() => create(body), 400, 'InvalidInput');
    await bad({ device_id: 'vm x' });
    await bad({ device_id: '../etc' });
    await bad({ device_id: 'vm-k', public_keys: { k: 'not a key' } });
    await bad({ device_id: 'vm-k', public_keys: { k: `${KEY}\nssh-rsa AAAA evil` } });
    await bad({ device_id: 'vm-k', public_keys: { 'two words': KEY } });
    await bad({ device_id: 'vm-k', hostname: 'bad host' });
    await bad({ device_id: 'vm-k', meta: { k: 'line\nbreak' } });
    await bad({ device_id: 'vm-k', user_data: 'x'.repeat(65536) });
    await expectFault(() => create({ device_id: 'vm-k', nova: 1 }), 400, 'HTTPBadRequest');
  });
});
