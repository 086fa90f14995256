/**
 * Ports on someone else's shared network, under token auth with two member projects: the attributes
 * that switch off the agent's protections (address pairs, port security, MAC, `network:*` owner,
 * bindings, chosen addresses) are the admin's or the network owner's only, on create and on update,
 * and a failed attempt leaves the store untouched. Unsharing a network other projects use is refused.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Network, Port, Subnet } from '../../src/model/types.js';
import { adminTokenHolder, expectFault, expectRejectedUnchanged, startTestServer, type TestServer } from './helpers.js';

const FORBIDDEN_ON_CREATE: [string, Record<string, unknown>][] = [
  ['allowed_address_pairs', { allowed_address_pairs: [{ ip_address: '10.40.0.0/24' }] }],
  ['device_owner network:*', { device_owner: 'network:dhcp' }],
  ['port_security_enabled false', { port_security_enabled: false, security_groups: [] }],
  ['port_security_enabled true', { port_security_enabled: true }],
  ['mac_address', { mac_address: 'fa:16:3e:00:00:99' }],
  ['binding:host_id', { 'binding:host_id': 'node-1' }],
  ['binding:profile', { 'binding:profile': { x: 1 } }],
  ['fixed_ips ip_address', { fixed_ips: [{ ip_address: '10.40.0.50' }] }],
];

describe('policy for ports on a shared network', () => {
  let s: TestServer;
  let shared: Network;
  let subnet: Subnet;
  before(async () => {
    s = await startTestServer({
      tokens: {
        ADMIN: { project_id: 'ops', roles: ['admin'] },
        ALICE: { project_id: 'pa', roles: ['member'] },
        BOB: { project_id: 'pb', roles: ['member'] },
      },
    });
    adminTokenHolder.token = 'ADMIN';
    const admin = s.client('ADMIN');
    // Alice owns the shared network (an admin made it for her project): she is its "network owner".
    shared = await admin.create<Network>('networks', 'network', { name: 'shared', shared: true, project_id: 'pa' });
    subnet = await admin.create<Subnet>('subnets', 'subnet', {
      network_id: shared.id,
      cidr: '10.40.0.0/24',
      project_id: 'pa',
    });
  });
  after(async () => {
    delete adminTokenHolder.token;
    await s.stop();
  });

  it('a member of another project may not set the protected attributes on create', async () => {
    const bob = s.client('BOB');
    for (const [what, attrs] of FORBIDDEN_ON_CREATE) {
      await expectRejectedUnchanged(
        s,
        () => bob.create('ports', 'port', { network_id: shared.id, ...attrs }),
        403,
        'PolicyNotAuthorized',
      ).catch((e: Error) => assert.fail(`${what}: ${e.message}`));
    }
  });

  it('a member may still make ordinary ports there (own owner, subnet choice)', async () => {
    const bob = s.client('BOB');
    const p = await bob.create<Port>('ports', 'port', {
      network_id: shared.id,
      device_owner: 'compute:nova',
      fixed_ips: [{ subnet_id: subnet.id }],
      'binding:vnic_type': 'normal',
    });
    assert.equal(p.project_id, 'pb');
    assert.equal(p.port_security_enabled, true);
    assert.equal(p.security_groups.length, 1);
    await bob.delete('ports', p.id);
  });

  it('a member may not set them on update of its own port either', async () => {
    const bob = s.client('BOB');
    const p = await bob.create<Port>('ports', 'port', { network_id: shared.id });
    const updates: Record<string, unknown>[] = [
      { allowed_address_pairs: [{ ip_address: '10.40.0.77' }] },
      { device_owner: 'network:router_interface' },
      { port_security_enabled: false, security_groups: [] },
      { mac_address: 'fa:16:3e:00:00:98' },
      { 'binding:host_id': 'node-2' },
      { 'binding:profile': {} },
      { fixed_ips: [{ subnet_id: subnet.id }] },
    ];
    for (const body of updates) {
      await expectRejectedUnchanged(s, () => bob.update('ports', 'port', p.id, body), 403, 'PolicyNotAuthorized').catch(
        (e: Error) => assert.fail(`${JSON.stringify(body)}: ${e.message}`),
      );
    }
    const renamed = await bob.update<Port>('ports', 'port', p.id, { name: 'web', device_owner: 'compute:nova' });
    assert.equal(renamed.name, 'web');
    await bob.delete('ports', p.id);
  });

  it('the network owner and the admin may', async () => {
    const alice = s.client('ALICE');
    const own = await alice.create<Port>('ports', 'port', {
      network_id: shared.id,
      allowed_address_pairs: [{ ip_address: '10.40.0.0/24' }],
      mac_address: 'fa:16:3e:00:00:97',
      fixed_ips: [{ ip_address: '10.40.0.60' }],
    });
    assert.deepEqual(
      own.allowed_address_pairs.map((p) => p.ip_address),
      ['10.40.0.0/24'],
    );
    const off = await alice.update<Port>('ports', 'port', own.id, {
      allowed_address_pairs: [],
      port_security_enabled: false,
      security_groups: [],
    });
    assert.equal(off.port_security_enabled, false);
    // update_port:mac_address is admin only, even for the network owner.
    await expectFault(
      () => alice.update('ports', 'port', own.id, { mac_address: 'fa:16:3e:00:00:96' }),
      403,
      'PolicyNotAuthorized',
    );
    const bobPort = await s.client('BOB').create<Port>('ports', 'port', { network_id: shared.id });
    const byAdmin = await s.client('ADMIN').update<Port>('ports', 'port', bobPort.id, {
      allowed_address_pairs: [{ ip_address: '10.40.0.88' }],
      'binding:host_id': 'node-1',
    });
    assert.equal(byAdmin['binding:host_id'], 'node-1');
    await s.client('BOB').delete('ports', bobPort.id);
    await alice.delete('ports', own.id);
  });

  it('an invisible network is 404 whatever the attributes', async () => {
    const priv = await s.client('ALICE').create<Network>('networks', 'network', { name: 'alice-private' });
    await expectRejectedUnchanged(
      s,
      () => s.client('BOB').create('ports', 'port', { network_id: priv.id, allowed_address_pairs: [] }),
      404,
      'NetworkNotFound',
    );
  });

  it('unsharing a network with other projects on it is refused (409), allowed once they leave', async () => {
    const admin = s.client('ADMIN');
    const net = await admin.create<Network>('networks', 'network', { name: 'to-unshare', shared: true });
    await admin.create('subnets', 'subnet', { network_id: net.id, cidr: '10.41.0.0/24' });
    await admin.create('ports', 'port', { network_id: net.id, device_owner: 'network:dhcp' });
    const bobPort = await s.client('BOB').create<Port>('ports', 'port', { network_id: net.id });
    await expectRejectedUnchanged(
      s,
      () => admin.update('networks', 'network', net.id, { shared: false }),
      409,
      'InvalidSharedSetting',
    );
    await s.client('BOB').delete('ports', bobPort.id);
    const unshared = await admin.update<Network>('networks', 'network', net.id, { shared: false });
    assert.equal(unshared.shared, false);
    await expectFault(() => s.client('BOB').show('networks', 'network', net.id), 404, 'NetworkNotFound');
  });
});
