/**
 * Snapshot, migration and console of HyperVMs on a real server (SQLite, image catalog, token auth),
 * without a node: who may start a task, what a refused one leaves (nothing), the node's one upload
 * token per task, a failed task dropping its export image, and the console's tenancy. The node's half
 * runs with real LXC in test/agent/hypervm/tasks.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiError } from '../../src/client/api.js';
import { openConsole } from '../../src/client/console.js';
import type { HyperVm, Network } from '../../src/model/types.js';
import { adminTokenHolder, expectFault, startTestServer, TENANT_TOKENS, type TestServer } from './helpers.js';
import { buildLayout, glanceCall, pushTar } from './image-fixtures.js';

describe('hypervm tasks and console (server)', () => {
  let s: TestServer;
  let hv: HyperVm;
  const admin = () => s.client('ADMIN');
  const alice = () => s.client('ALICE');
  const bob = () => s.client('BOB');
  const images = async (who: string) =>
    ((await glanceCall(s, who, 'GET', '/v2/images')).body as { images: { id: string; status: string }[] }).images;
  const post = (c: ReturnType<typeof admin>, action: string, body?: unknown) =>
    c.call<Record<string, Record<string, string>>>('POST', `/v2.0/hypervms/${hv.id}/${action}`, body);

  before(async () => {
    s = await startTestServer({ tokens: TENANT_TOKENS });
    adminTokenHolder.token = 'ADMIN';
    for (const [host, cloud] of [
      ['hv-a1', 'cloud-a'],
      ['hv-b1', 'cloud-b'],
    ])
      await admin().create('agents', 'agent', {
        host,
        agent_type: 'hypernet agent',
        configurations: { tunneling_ip: '127.0.0.1', cloud, capabilities: ['vxlan', 'hypervm'] },
      });
    const net = await alice().create<Network>('networks', 'network', { name: 'n' });
    await alice().create('subnets', 'subnet', { network_id: net.id, cidr: '10.20.0.0/24' });
    const image = (await pushTar(s, 'ALICE', buildLayout().tar, { visibility: 'private' })).id;
    hv = await alice().create<HyperVm>('hypervms', 'hypervm', {
      image_id: image,
      network_id: net.id,
      cloud: 'cloud-a',
    });
  });
  after(async () => {
    delete adminTokenHolder.token;
    await s?.stop();
  });

  it('refuses tasks on a HyperVM not ACTIVE, of another tenant, or to a cloud without nodes; nothing left', async () => {
    const before = (await images('ADMIN')).length;
    await expectFault(() => post(alice(), 'snapshot', { snapshot: { name: 's' } }), 409, 'HyperVmNotActive');
    await admin().update('hypervms', 'hypervm', hv.id, { status: 'ACTIVE' });
    await expectFault(() => post(bob(), 'snapshot', { snapshot: { name: 's' } }), 404, 'HyperVmNotFound');
    await expectFault(() => post(alice(), 'migrate', { migrate: { cloud: 'cloud-z' } }), 400, 'HyperVmNoCloud');
    await expectFault(() => post(alice(), 'migrate', { migrate: { cloud: 'cloud-a' } }), 409, 'HyperVmNoHost');
    await expectFault(() => post(alice(), 'snapshot', { snapshot: {} }), 400, 'BadRequest');
    await expectFault(
      () => alice().update('hypervms', 'hypervm', hv.id, { task_state: 'x' }),
      403,
      'PolicyNotAuthorized',
    );
    assert.equal((await images('ADMIN')).length, before);
  });

  it('a snapshot makes a queued image of the tenant; the node takes one upload token; a failure drops it', async () => {
    const r = await post(alice(), 'snapshot', { snapshot: { name: 'snap' } });
    const imageId = r.snapshot.image_id;
    assert.deepEqual(
      (await images('ALICE')).filter((i) => i.id === imageId).map((i) => i.status),
      ['queued'],
      'the tenant owns the queued export image',
    );
    await expectFault(() => post(alice(), 'migrate', { migrate: { cloud: 'cloud-b' } }), 409, 'HyperVmBusy');
    await expectFault(() => post(alice(), 'upload_token'), 403, 'PolicyNotAuthorized');
    const tok = await post(admin(), 'upload_token');
    assert.equal(tok.upload_token.image_id, imageId);
    assert.equal(tok.upload_token.address, '127.0.0.1');
    await expectFault(() => post(admin(), 'upload_token'), 409, 'UploadTokenUsed');
    await post(admin(), 'task_end', { task_end: { error: 'disk full' } });
    const after = await alice().show<HyperVm>('hypervms', 'hypervm', hv.id);
    assert.equal(after.task, '');
    assert.equal(after.task_state, 'snapshot failed: disk full');
    assert.equal(after.status, 'ACTIVE');
    assert.equal((await images('ALICE')).filter((i) => i.id === imageId).length, 0, 'the export image is gone');
  });

  it('a migration is scheduled on the other cloud; its end without an export fails it', async () => {
    const r = await post(alice(), 'migrate', { migrate: { cloud: 'cloud-b' } });
    assert.equal(r.migrate.host, 'hv-b1');
    await admin().update('hypervms', 'hypervm', hv.id, { task_state: 'stopped' });
    assert.notEqual((await alice().show<HyperVm>('hypervms', 'hypervm', hv.id)).stopped_at, '', 'downtime starts');
    await post(admin(), 'task_end', { task_end: {} });
    const after = await alice().show<HyperVm>('hypervms', 'hypervm', hv.id);
    assert.equal(after.task_state, 'migrate failed: the export never arrived');
    assert.equal(after.host, 'hv-a1', 'it stays where it was');
  });

  it('the console is the owner’s or an admin’s: others get 404, no token 401', async () => {
    await assert.rejects(openConsole(bob(), hv.id), (e: ApiError) => e.status === 404);
    await assert.rejects(openConsole(s.client(), hv.id), (e: ApiError) => e.status === 401);
    assert.equal((await admin().show<HyperVm>('hypervms', 'hypervm', hv.id)).console_session, '', 'no session made');
  });
});
