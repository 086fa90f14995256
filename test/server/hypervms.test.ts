/**
 * The hypervms resource on a real server (SQLite, image catalog, token auth): scheduling on a live
 * HyperVM node of the cloud, the port bound there as `compute:hypervm`, tenancy, bad input refused
 * with nothing left behind, admin-only status, and the one launch token per HyperVM that pulls the image.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PullError, pullImage } from '../../src/client/repository-pull.js';
import type { HyperVm, Network, Port } from '../../src/model/types.js';
import {
  adminTokenHolder,
  expectFault,
  expectRejectedUnchanged,
  startTestServer,
  TENANT_TOKENS,
  type TestServer,
} from './helpers.js';
import { buildLayout, glanceCall, pushTar } from './image-fixtures.js';

const NODE = { host: 'hv-a1', cloud: 'cloud-a', ip: '127.0.0.1' };

describe('hypervms', () => {
  let s: TestServer;
  let net: Network;
  let image: string;
  let bobImage: string;
  const admin = () => s.client('ADMIN');
  const alice = () => s.client('ALICE');
  const bob = () => s.client('BOB');
  const freePort = () => alice().create<Port>('ports', 'port', { network_id: net.id });
  const launch = (body: Record<string, unknown>, c = alice()) =>
    c.create<HyperVm>('hypervms', 'hypervm', { image_id: image, cloud: NODE.cloud, ...body });

  before(async () => {
    s = await startTestServer({ tokens: TENANT_TOKENS });
    adminTokenHolder.token = 'ADMIN';
    const node = (host: string, cloud: string, capabilities: string[]) =>
      admin().create('agents', 'agent', {
        host,
        agent_type: 'hypernet agent',
        configurations: { tunneling_ip: NODE.ip, cloud, capabilities },
      });
    await node(NODE.host, NODE.cloud, ['vxlan', 'dhcp', 'hypervm']);
    await node('vm-b1', 'cloud-b', ['vxlan', 'dhcp']);
    net = await alice().create<Network>('networks', 'network', { name: 'n' });
    await alice().create('subnets', 'subnet', { network_id: net.id, cidr: '10.20.0.0/24' });
    image = (await pushTar(s, 'ALICE', buildLayout().tar, { visibility: 'private' })).id;
    bobImage = (await pushTar(s, 'BOB', buildLayout({ content: 'bob\n' }).tar, { visibility: 'private' })).id;
  });
  after(async () => {
    delete adminTokenHolder.token;
    await s?.stop();
  });

  it('schedules on the cloud’s HyperVM node and binds the port there', async () => {
    const port = await freePort();
    const hv = await launch({ port_id: port.id, name: 'web' });
    assert.equal(hv.status, 'BUILD');
    assert.equal(hv.host, NODE.host);
    assert.equal(hv.network_id, net.id);
    assert.equal(hv.project_id, 'pa');
    assert.equal(hv.launch_token_issued, false);
    const bound = await alice().show<Port>('ports', 'port', port.id);
    assert.equal(bound.device_id, hv.id);
    assert.equal(bound.device_owner, 'compute:hypervm');
    assert.equal(bound['binding:host_id'], NODE.host);
    assert.deepEqual(
      (await alice().list<HyperVm>('hypervms')).map((v) => v.id),
      [hv.id],
    );
    assert.deepEqual(await bob().list('hypervms'), [], 'another tenant sees none');
    await expectFault(() => bob().show('hypervms', 'hypervm', hv.id), 404, 'HyperVmNotFound');
    await alice().delete('hypervms', hv.id);
    const freed = await alice().show<Port>('ports', 'port', port.id);
    assert.equal(freed.device_id, '');
    assert.equal(freed['binding:host_id'], '', 'a port given to a HyperVM is unbound, not deleted');
  });

  it('given a network, makes a port and deletes it with the HyperVM', async () => {
    const hv = await launch({ network_id: net.id });
    const port = await alice().show<Port>('ports', 'port', hv.port_id);
    assert.equal(port.device_id, hv.id);
    assert.equal(port.fixed_ips.length, 1);
    await alice().delete('hypervms', hv.id);
    await expectFault(() => alice().show('ports', 'port', hv.port_id), 404, 'PortNotFound');
  });

  it('refuses bad input with a clear error and leaves nothing behind', async () => {
    const port = await freePort();
    await expectRejectedUnchanged(s, () => launch({ port_id: port.id, image_id: bobImage }), 404, 'ImageNotFound');
    await expectRejectedUnchanged(s, () => launch({ port_id: port.id, cloud: 'cloud-b' }), 400, 'HyperVmNoCloud');
    await expectRejectedUnchanged(s, () => launch({ network_id: net.id, cloud: 'cloud-z' }), 400, 'HyperVmNoCloud');
    await expectRejectedUnchanged(s, () => launch({}), 400, 'HTTPBadRequest');
    await expectRejectedUnchanged(s, () => launch({ port_id: port.id, network_id: net.id }), 400, 'HTTPBadRequest');
    const queued = await glanceCall(s, 'ALICE', 'POST', '/v2/images', {
      name: 'empty',
      container_format: 'docker',
      disk_format: 'raw',
    });
    const queuedId = (queued.body as { id: string }).id;
    await expectRejectedUnchanged(s, () => launch({ port_id: port.id, image_id: queuedId }), 409, 'ImageNotActive');
    await expectRejectedUnchanged(s, () => launch({ port_id: port.id, host: NODE.host }), 403, 'PolicyNotAuthorized');
    const held = await launch({ port_id: port.id });
    await expectRejectedUnchanged(s, () => launch({ port_id: port.id }), 409, 'PortInUse');
    await alice().delete('hypervms', held.id);
  });

  it('status is written by admins (the node’s agent) only', async () => {
    const hv = await launch({ network_id: net.id });
    await expectFault(
      () => alice().update('hypervms', 'hypervm', hv.id, { status: 'ACTIVE' }),
      403,
      'PolicyNotAuthorized',
    );
    const err = await admin().update<HyperVm>('hypervms', 'hypervm', hv.id, { status: 'ERROR', status_reason: 'x' });
    assert.equal(err.status, 'ERROR');
    assert.equal(err.status_reason, 'x');
    const ok = await admin().update<HyperVm>('hypervms', 'hypervm', hv.id, { status: 'ACTIVE' });
    assert.equal(ok.status_reason, '', 'leaving ERROR clears the reason');
    const renamed = await alice().update<HyperVm>('hypervms', 'hypervm', hv.id, { name: 'renamed' });
    assert.equal(renamed.name, 'renamed');
    await alice().delete('hypervms', hv.id);
  });

  it('gives the node one launch token, bound to its address, that pulls the image once', async () => {
    const hv = await launch({ network_id: net.id });
    const path = `/v2.0/hypervms/${hv.id}/launch_token`;
    assert.equal((await alice().raw('POST', path)).status, 403, 'tenants take no tokens');
    const r = await admin().raw('POST', path);
    assert.equal(r.status, 201);
    const tok = (r.body as { launch_token: { token: string; image_id: string; address: string } }).launch_token;
    assert.equal(tok.image_id, image);
    assert.equal(tok.address, NODE.ip);
    assert.equal((await admin().raw('POST', path)).status, 409, 'a second token for the same launch is refused');
    assert.equal((await admin().show<HyperVm>('hypervms', 'hypervm', hv.id)).launch_token_issued, true);
    const dir = mkdtempSync(join(tmpdir(), 'hn-hv-pull-'));
    try {
      const pulled = await pullImage({
        repositoryUrl: `${s.url}/repository`,
        token: tok.token,
        imageId: image,
        dest: join(dir, 'layout'),
      });
      assert.ok(pulled.bytes > 0);
      await assert.rejects(
        pullImage({ repositoryUrl: `${s.url}/repository`, token: tok.token, imageId: image, dest: join(dir, 'again') }),
        (e: unknown) => e instanceof PullError && e.reason === 'already_used',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await alice().delete('hypervms', hv.id);
    }
  });
});
