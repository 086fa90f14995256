/**
 * Floating IPs over real HTTP with token auth: create on an external network (chosen address and
 * subnet), associate to a port with a router path, move, disassociate, delete; `router_id`,
 * `status`, `port_details`, `fixed_ip_address`; Neutron's answers for every refused association;
 * what they hold on routers (interfaces, gateways) and ports; tenancy and the floatingip quota.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FloatingIp, Port, Router } from '../../src/model/types.js';
import { adminTokenHolder, expectFault, expectRejectedUnchanged, startTestServer, type TestServer } from './helpers.js';
import { L3_TOKENS as TOKENS, addInterface, externalNet, removeInterface, tenantNet, type Net } from './l3-fixtures.js';

describe('floating IPs', () => {
  let s: TestServer;
  let ext: Net;
  let tenant: Net;
  let router: Router;
  const admin = () => s.client('ADMIN');
  const alice = () => s.client('ALICE');
  const bob = () => s.client('BOB');
  const fip = (body: Record<string, unknown>, c = alice()) => c.create<FloatingIp>('floatingips', 'floatingip', body);
  const setFip = (id: string, body: Record<string, unknown>, c = alice()) =>
    c.update<FloatingIp>('floatingips', 'floatingip', id, body);
  const vmPort = (name: string, extra: Record<string, unknown> = {}) =>
    alice().create<Port>('ports', 'port', { network_id: tenant.net.id, name, device_id: `vm-${name}`, ...extra });

  before(async () => {
    s = await startTestServer({ tokens: TOKENS });
    adminTokenHolder.token = 'ADMIN';
    ext = await externalNet(admin(), 'public', '203.0.113.0/26', 'cloud-a');
    tenant = await tenantNet(alice(), 'fip-net', '10.70.0.0/24');
    router = await alice().create<Router>('routers', 'router', {
      name: 'fip-r',
      external_gateway_info: { network_id: ext.net.id },
    });
    await addInterface(alice(), router.id, { subnet_id: tenant.subnet.id });
  });
  after(async () => {
    delete adminTokenHolder.token;
    await s?.stop();
  });

  it('create: an address of the external network held by a network:floatingip port', async () => {
    const f = await fip({ floating_network_id: ext.net.id, description: 'web', tags: ['a'] });
    assert.equal(f.floating_network_id, ext.net.id);
    assert.equal(f.status, 'DOWN');
    assert.equal(f.port_id, null);
    assert.equal(f.router_id, null);
    assert.equal(f.fixed_ip_address, null);
    assert.equal(f.port_details, null);
    assert.equal(f.description, 'web');
    assert.deepEqual(f.tags, ['a']);
    assert.equal(f.project_id, 'pa');
    assert.ok(f.floating_ip_address.startsWith('203.0.113.'));
    const held = await admin().list<Port>('ports', { device_id: f.id });
    assert.equal(held.length, 1);
    assert.equal(held[0].device_owner, 'network:floatingip');
    assert.equal(held[0].project_id, '');
    assert.deepEqual(
      held[0].fixed_ips.map((x) => x.ip_address),
      [f.floating_ip_address],
    );
    await expectFault(() => admin().delete('ports', held[0].id), 409, 'ServicePortInUse');
    await alice().call('PUT', `/v2.0/floatingips/${f.id}/tags/b`);
    assert.deepEqual((await alice().show<FloatingIp>('floatingips', 'floatingip', f.id)).tags, ['a', 'b']);
    await alice().delete('floatingips', f.id);
    await expectFault(() => alice().show('floatingips', 'floatingip', f.id), 404, 'FloatingIPNotFound');
    assert.equal((await admin().list<Port>('ports', { device_id: f.id })).length, 0);
    // the address is free again
    const again = await fip({ floating_network_id: ext.net.id, floating_ip_address: f.floating_ip_address }, admin());
    assert.equal(again.floating_ip_address, f.floating_ip_address);
    await admin().delete('floatingips', again.id);
  });

  it('a chosen address is admin-only; a subnet may be named; only external networks', async () => {
    await expectRejectedUnchanged(
      s,
      () => fip({ floating_network_id: ext.net.id, floating_ip_address: '203.0.113.40' }),
      403,
      'PolicyNotAuthorized',
    );
    const chosen = await fip({ floating_network_id: ext.net.id, floating_ip_address: '203.0.113.40' }, admin());
    assert.equal(chosen.floating_ip_address, '203.0.113.40');
    await expectFault(
      () => fip({ floating_network_id: ext.net.id, floating_ip_address: '203.0.113.40' }, admin()),
      409,
      'IpAddressAlreadyAllocated',
    );
    await expectFault(
      () => fip({ floating_network_id: ext.net.id, floating_ip_address: '192.0.2.1' }, admin()),
      400,
      'InvalidInput',
    );
    await expectFault(
      () => fip({ floating_network_id: ext.net.id, floating_ip_address: 'x' }, admin()),
      400,
      'InvalidInput',
    );
    const bySubnet = await fip({ floating_network_id: ext.net.id, subnet_id: ext.subnet.id });
    assert.ok(bySubnet.floating_ip_address.startsWith('203.0.113.'));
    await expectFault(() => fip({ floating_network_id: ext.net.id, subnet_id: tenant.subnet.id }), 400, 'InvalidInput');
    await expectRejectedUnchanged(s, () => fip({ floating_network_id: tenant.net.id }), 400, 'BadRequest');
    await expectFault(() => fip({ floating_network_id: 'nope' }), 404, 'NetworkNotFound');
    await expectFault(() => fip({ floating_network_id: ext.net.id, name: 'x' }), 400, 'HTTPBadRequest');
    await admin().delete('floatingips', chosen.id);
    await alice().delete('floatingips', bySubnet.id);
  });

  it('associate, move, disassociate: router_id, fixed_ip_address, port_details and status follow', async () => {
    const p1 = await vmPort('p1');
    const p2 = await vmPort('p2');
    const f = await fip({ floating_network_id: ext.net.id, port_id: p1.id });
    assert.equal(f.port_id, p1.id);
    assert.equal(f.fixed_ip_address, p1.fixed_ips[0].ip_address);
    assert.equal(f.router_id, router.id);
    assert.equal(f.status, 'ACTIVE');
    assert.deepEqual(f.port_details, {
      name: 'p1',
      network_id: tenant.net.id,
      mac_address: p1.mac_address,
      admin_state_up: true,
      status: 'DOWN',
      device_id: 'vm-p1',
      device_owner: '',
    });
    const moved = await setFip(f.id, { port_id: p2.id });
    assert.equal(moved.port_id, p2.id);
    assert.equal(moved.fixed_ip_address, p2.fixed_ips[0].ip_address);
    assert.equal(moved.port_details?.name, 'p2');
    assert.ok(moved.revision_number > f.revision_number);
    assert.deepEqual(
      (await alice().list<FloatingIp>('floatingips', { port_id: p2.id })).map((x) => x.id),
      [f.id],
    );
    const off = await setFip(f.id, { port_id: null });
    assert.equal(off.port_id, null);
    assert.equal(off.router_id, null);
    assert.equal(off.fixed_ip_address, null);
    assert.equal(off.port_details, null);
    assert.equal(off.status, 'DOWN');
    const back = await setFip(f.id, { port_id: p1.id, fixed_ip_address: p1.fixed_ips[0].ip_address });
    assert.equal(back.router_id, router.id);
    // A description alone keeps the association; an empty body clears it, as Neutron's API has always done.
    assert.equal((await setFip(f.id, { description: 'kept' })).port_id, p1.id);
    assert.equal((await setFip(f.id, {})).port_id, null);
    await setFip(f.id, { port_id: p1.id });
    // port_details follow the port (the agent reports it ACTIVE, it is renamed)
    await admin().update('ports', 'port', p1.id, { status: 'ACTIVE', name: 'p1-web' });
    const followed = await alice().show<FloatingIp>('floatingips', 'floatingip', f.id);
    assert.equal(followed.port_details?.status, 'ACTIVE');
    assert.equal(followed.port_details?.name, 'p1-web');
    // giving up the fixed address leaves the floating IP without its port
    const p3 = await vmPort('p3');
    const onP3 = await setFip(f.id, { port_id: p3.id });
    assert.equal(onP3.port_id, p3.id);
    await alice().update('ports', 'port', p3.id, {
      fixed_ips: [{ subnet_id: tenant.subnet.id, ip_address: '10.70.0.77' }],
    });
    assert.equal((await alice().show<FloatingIp>('floatingips', 'floatingip', f.id)).port_id, null);
    await setFip(f.id, { port_id: p1.id });
    // a port that goes away takes its association with it
    await alice().delete('ports', p1.id);
    const left = await alice().show<FloatingIp>('floatingips', 'floatingip', f.id);
    assert.equal(left.port_id, null);
    assert.equal(left.router_id, null);
    await alice().delete('floatingips', f.id);
  });

  it("refused associations answer as Neutron's", async () => {
    const f = await fip({ floating_network_id: ext.net.id });
    const two = await vmPort('two', {
      fixed_ips: [
        { subnet_id: tenant.subnet.id, ip_address: '10.70.0.50' },
        { subnet_id: tenant.subnet.id, ip_address: '10.70.0.51' },
      ],
    });
    const bad = (body: Record<string, unknown>, status: number, type: string) =>
      expectFault(() => setFip(f.id, body), status, type);
    await bad({ port_id: two.id }, 400, 'BadRequest');
    await bad({ port_id: two.id, fixed_ip_address: '10.70.0.99' }, 400, 'BadRequest');
    await bad({ fixed_ip_address: '10.70.0.50' }, 400, 'BadRequest');
    await bad({ port_id: 'nope' }, 404, 'PortNotFound');
    const ok = await setFip(f.id, { port_id: two.id, fixed_ip_address: '10.70.0.51' });
    assert.equal(ok.fixed_ip_address, '10.70.0.51');
    // the same fixed IP cannot take a second floating IP of the same external network
    const other = await fip({ floating_network_id: ext.net.id });
    await expectFault(
      () => setFip(other.id, { port_id: two.id, fixed_ip_address: '10.70.0.51' }),
      409,
      'FloatingIPPortAlreadyAssociated',
    );
    const second = await setFip(other.id, { port_id: two.id, fixed_ip_address: '10.70.0.50' });
    assert.equal(second.router_id, router.id);
    // no router between the port's subnet and the external network
    const island = await tenantNet(alice(), 'island', '10.71.0.0/24');
    const lonely = await alice().create<Port>('ports', 'port', { network_id: island.net.id });
    await expectRejectedUnchanged(
      s,
      () => fip({ floating_network_id: ext.net.id, port_id: lonely.id }),
      404,
      'ExternalGatewayForFloatingIPNotFound',
    );
    // a router on the subnet but with its gateway elsewhere is no path either
    const elsewhere = await externalNet(admin(), 'public-b', '198.51.100.64/28', 'cloud-b');
    const r2 = await alice().create<Router>('routers', 'router', {
      external_gateway_info: { network_id: elsewhere.net.id },
    });
    await addInterface(alice(), r2.id, { subnet_id: island.subnet.id });
    await expectFault(
      () => fip({ floating_network_id: ext.net.id, port_id: lonely.id }),
      404,
      'ExternalGatewayForFloatingIPNotFound',
    );
    const viaR2 = await fip({ floating_network_id: elsewhere.net.id, port_id: lonely.id });
    assert.equal(viaR2.router_id, r2.id);
    // a port without IPv4 addresses, another project's port, an L3 port
    const bare = await alice().create<Port>('ports', 'port', { network_id: tenant.net.id, fixed_ips: [] });
    await bad({ port_id: bare.id }, 400, 'BadRequest');
    const bobNet = await tenantNet(bob(), 'bob-net', '10.70.0.0/24');
    const bobPort = await bob().create<Port>('ports', 'port', { network_id: bobNet.net.id });
    // Neutron looks the port up elevated: another project's port is refused (400), not hidden (404).
    await bad({ port_id: bobPort.id }, 400, 'BadRequest');
    const rPorts = await alice().list<Port>('ports', { device_id: router.id });
    await bad({ port_id: rPorts[0].id }, 400, 'BadRequest');
    for (const x of [f, other, viaR2]) await alice().delete('floatingips', x.id);
    await removeInterface(alice(), r2.id, { subnet_id: island.subnet.id });
    await alice().delete('routers', r2.id);
  });

  it('an associated floating IP holds the router interface and the gateway it goes through', async () => {
    const p = await vmPort('held');
    const f = await fip({ floating_network_id: ext.net.id, port_id: p.id });
    await expectFault(
      () => removeInterface(alice(), router.id, { subnet_id: tenant.subnet.id }),
      409,
      'RouterInterfaceInUseByFloatingIP',
    );
    await expectFault(
      () => alice().update('routers', 'router', router.id, { external_gateway_info: null }),
      409,
      'RouterExternalGatewayInUseByFloatingIp',
    );
    await expectFault(
      () => admin().update('networks', 'network', ext.net.id, { 'router:external': false }),
      409,
      'ExternalNetworkInUse',
    );
    await expectFault(() => admin().delete('networks', ext.net.id), 409, 'NetworkInUse');
    await setFip(f.id, { port_id: null });
    const r = await alice().update<Router>('routers', 'router', router.id, { external_gateway_info: null });
    assert.equal(r.external_gateway_info, null);
    await expectFault(() => setFip(f.id, { port_id: p.id }), 404, 'ExternalGatewayForFloatingIPNotFound');
    await alice().update('routers', 'router', router.id, { external_gateway_info: { network_id: ext.net.id } });
    assert.equal((await setFip(f.id, { port_id: p.id })).router_id, router.id);
    await alice().delete('floatingips', f.id);
  });

  it('an exhausted external network answers 409 IpAddressGenerationFailure', async () => {
    const tiny = await externalNet(admin(), 'tiny', '192.0.2.128/29', 'cloud-t', {
      start: '192.0.2.130',
      end: '192.0.2.131',
    });
    await fip({ floating_network_id: tiny.net.id });
    await fip({ floating_network_id: tiny.net.id });
    await expectRejectedUnchanged(
      s,
      () => fip({ floating_network_id: tiny.net.id }),
      409,
      'IpAddressGenerationFailure',
    );
  });

  it('tenancy and the floatingip quota', async () => {
    const f = await fip({ floating_network_id: ext.net.id });
    await expectFault(() => bob().show('floatingips', 'floatingip', f.id), 404, 'FloatingIPNotFound');
    await expectFault(() => setFip(f.id, { port_id: null }, bob()), 404, 'FloatingIPNotFound');
    await expectFault(() => bob().delete('floatingips', f.id), 404, 'FloatingIPNotFound');
    assert.ok(!(await bob().list<FloatingIp>('floatingips')).some((x) => x.id === f.id));
    await admin().call('PUT', '/v2.0/quotas/pb', { quota: { floatingip: 1 } });
    await fip({ floating_network_id: ext.net.id }, bob());
    await expectRejectedUnchanged(s, () => fip({ floating_network_id: ext.net.id }, bob()), 409, 'OverQuota');
    const details = await bob().call<{ quota: Record<string, { used: number; limit: number }> }>(
      'GET',
      '/v2.0/quotas/pb/details',
    );
    assert.deepEqual(
      { used: details.quota.floatingip.used, limit: details.quota.floatingip.limit },
      { used: 1, limit: 1 },
    );
  });
});
