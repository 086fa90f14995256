/**
 * Routers over real HTTP with token auth: external networks, gateways (ext-gw-mode, one per cloud
 * with external-gateway-multihoming), interfaces by subnet and by port, extra routes, and Neutron's
 * answers to every mistake; tenancy and the router quota.
 */
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Network, Port, Router, Subnet } from '../../src/model/types.js';
import { adminTokenHolder, expectFault, expectRejectedUnchanged, startTestServer, type TestServer } from './helpers.js';
import {
  L3_TOKENS as TOKENS,
  addInterface,
  externalNet,
  removeInterface,
  routerAction,
  routerPorts,
  tenantNet,
} from './l3-fixtures.js';

describe('routers', () => {
  let s: TestServer;
  const admin = () => s.client('ADMIN');
  const alice = () => s.client('ALICE');
  const bob = () => s.client('BOB');
  before(async () => {
    s = await startTestServer({ tokens: TOKENS });
    adminTokenHolder.token = 'ADMIN';
  });
  after(async () => {
    delete adminTokenHolder.token;
    await s?.stop();
  });

  it('external networks: admin-only to set, visible (not their subnets) to every project, no tenant ports', async () => {
    await expectFault(
      () => alice().create('networks', 'network', { name: 'x', 'router:external': true }),
      403,
      'PolicyNotAuthorized',
    );
    await expectFault(
      () => alice().create('networks', 'network', { name: 'x', 'hypernet:cloud': 'cloud-a' }),
      403,
      'PolicyNotAuthorized',
    );
    await expectFault(
      () => admin().create('networks', 'network', { name: 'x', 'hypernet:cloud': 'bad cloud' }),
      400,
      'InvalidInput',
    );
    const ext = await externalNet(admin(), 'public-vis', '198.51.100.0/28', 'cloud-v');
    assert.equal(ext.net['router:external'], true);
    assert.equal(ext.net['hypernet:cloud'], 'cloud-v');
    const seen = await bob().show<Network>('networks', 'network', ext.net.id);
    assert.equal(seen['router:external'], true);
    // As in Neutron (get_subnet: owner or shared network), the external network's subnets stay the admin's.
    assert.ok(!(await bob().list<Subnet>('subnets')).some((x) => x.id === ext.subnet.id));
    await expectFault(() => bob().create('ports', 'port', { network_id: ext.net.id }), 404, 'NetworkNotFound');
    await expectFault(
      () => bob().update('networks', 'network', ext.net.id, { name: 'mine' }),
      403,
      'PolicyNotAuthorized',
    );
    const own = await alice().create<Network>('networks', 'network', { name: 'plain' });
    assert.equal(own['router:external'], false);
    assert.equal(own['hypernet:cloud'], '');
  });

  it('create with a gateway: the gateway port takes an address of the external subnet', async () => {
    const ext = await externalNet(admin(), 'public-gw', '203.0.113.0/28', 'cloud-g');
    const r = await alice().create<Router>('routers', 'router', {
      name: 'r-gw',
      external_gateway_info: { network_id: ext.net.id },
    });
    assert.equal(r.status, 'ACTIVE');
    assert.equal(r.admin_state_up, true);
    assert.deepEqual(r.routes, []);
    assert.equal(r.external_gateway_info?.network_id, ext.net.id);
    assert.equal(r.external_gateway_info?.enable_snat, true);
    assert.equal(r.external_gateway_info?.external_fixed_ips.length, 1);
    assert.equal(r.external_gateway_info?.external_fixed_ips[0].subnet_id, ext.subnet.id);
    assert.deepEqual(r.external_gateways, [r.external_gateway_info]);
    const gw = await routerPorts(admin(), r.id, 'network:router_gateway');
    assert.equal(gw.length, 1);
    assert.equal(gw[0].project_id, '');
    assert.equal(gw[0].network_id, ext.net.id);
    assert.deepEqual(gw[0].fixed_ips, r.external_gateway_info?.external_fixed_ips);
    // the tenant does not see the gateway port; it is not deletable through the ports API
    assert.equal((await alice().list<Port>('ports', { device_id: r.id })).length, 0);
    await expectFault(() => admin().delete('ports', gw[0].id), 409, 'ServicePortInUse');

    // only an admin chooses SNAT or the gateway address
    await expectRejectedUnchanged(
      s,
      () =>
        alice().create('routers', 'router', {
          name: 'x',
          external_gateway_info: { network_id: ext.net.id, enable_snat: false },
        }),
      403,
      'PolicyNotAuthorized',
    );
    const fixed = await admin().create<Router>('routers', 'router', {
      name: 'r-fixed',
      external_gateway_info: {
        network_id: ext.net.id,
        enable_snat: false,
        external_fixed_ips: [{ ip_address: '203.0.113.9' }],
      },
    });
    assert.equal(fixed.external_gateway_info?.enable_snat, false);
    assert.equal(fixed.external_gateway_info?.external_fixed_ips[0].ip_address, '203.0.113.9');
    await expectFault(
      () =>
        admin().create('routers', 'router', {
          external_gateway_info: { network_id: ext.net.id, external_fixed_ips: [{ ip_address: '203.0.113.9' }] },
        }),
      409,
      'IpAddressAlreadyAllocated',
    );
  });

  it('a gateway needs an external network; unknown attributes and networks are refused', async () => {
    const plain = await tenantNet(alice(), 'not-ext', '10.50.0.0/24');
    await expectRejectedUnchanged(
      s,
      () => alice().create('routers', 'router', { external_gateway_info: { network_id: plain.net.id } }),
      400,
      'BadRequest',
    );
    await expectFault(
      () => alice().create('routers', 'router', { external_gateway_info: { network_id: 'nope' } }),
      404,
      'NetworkNotFound',
    );
    await expectFault(() => alice().create('routers', 'router', { routes: [] }), 400, 'HTTPBadRequest');
    await expectFault(() => alice().create('routers', 'router', { distributed: true }), 400, 'HTTPBadRequest');
    await expectFault(() => alice().create('routers', 'router', { name: 'x'.repeat(256) }), 400, 'InvalidInput');
  });

  it('set, change and clear the gateway; admin_state_up', async () => {
    const a = await externalNet(admin(), 'public-set-a', '198.51.100.16/28', 'cloud-s1');
    const b = await externalNet(admin(), 'public-set-b', '198.51.100.32/28', 'cloud-s2');
    const r = await alice().create<Router>('routers', 'router', { name: 'r-set' });
    assert.equal(r.external_gateway_info, null);
    assert.deepEqual(r.external_gateways, []);
    let u = await alice().update<Router>('routers', 'router', r.id, {
      external_gateway_info: { network_id: a.net.id },
    });
    assert.equal(u.external_gateway_info?.network_id, a.net.id);
    u = await alice().update<Router>('routers', 'router', r.id, { external_gateway_info: { network_id: b.net.id } });
    assert.equal(u.external_gateway_info?.network_id, b.net.id);
    assert.equal(u.external_gateways.length, 1);
    assert.equal((await routerPorts(admin(), r.id, 'network:router_gateway'))[0].network_id, b.net.id);
    u = await alice().update<Router>('routers', 'router', r.id, { external_gateway_info: {} });
    assert.equal(u.external_gateway_info, null);
    assert.equal((await routerPorts(admin(), r.id, 'network:router_gateway')).length, 0);
    await alice().update('routers', 'router', r.id, { external_gateway_info: { network_id: a.net.id } });
    u = await alice().update<Router>('routers', 'router', r.id, { external_gateway_info: null, admin_state_up: false });
    assert.equal(u.external_gateway_info, null);
    assert.equal(u.admin_state_up, false);
    assert.ok(u.revision_number > r.revision_number);
  });

  it('interfaces by subnet: the gateway_ip port; duplicates, overlaps and missing gateways are 400', async () => {
    const t = await tenantNet(alice(), 'if-net', '10.60.0.0/24');
    const r = await alice().create<Router>('routers', 'router', { name: 'r-if' });
    const info = await addInterface(alice(), r.id, { subnet_id: t.subnet.id });
    assert.equal(info.id, r.id);
    assert.equal(info.subnet_id, t.subnet.id);
    assert.deepEqual(info.subnet_ids, [t.subnet.id]);
    assert.equal(info.network_id, t.net.id);
    assert.equal(info.project_id, 'pa');
    const port = await alice().show<Port>('ports', 'port', info.port_id);
    assert.equal(port.device_owner, 'network:router_interface');
    assert.equal(port.device_id, r.id);
    assert.deepEqual(port.fixed_ips, [{ subnet_id: t.subnet.id, ip_address: '10.60.0.1' }]);
    assert.deepEqual(port.security_groups, []);
    assert.ok((await alice().show<Router>('routers', 'router', r.id)).revision_number > r.revision_number);

    await expectRejectedUnchanged(s, () => addInterface(alice(), r.id, { subnet_id: t.subnet.id }), 400, 'BadRequest');
    const twin = await tenantNet(alice(), 'if-twin', '10.60.0.0/25');
    await expectRejectedUnchanged(
      s,
      () => addInterface(alice(), r.id, { subnet_id: twin.subnet.id }),
      400,
      'BadRequest',
    );
    const noGw = await tenantNet(alice(), 'if-nogw', '10.61.0.0/24', { gateway_ip: null });
    await expectRejectedUnchanged(
      s,
      () => addInterface(alice(), r.id, { subnet_id: noGw.subnet.id }),
      400,
      'BadRequest',
    );
    await expectFault(() => addInterface(alice(), r.id, {}), 400, 'BadRequest');
    await expectFault(
      () => addInterface(alice(), r.id, { subnet_id: t.subnet.id, port_id: info.port_id }),
      400,
      'BadRequest',
    );
    await expectFault(() => addInterface(alice(), r.id, { subnet_id: randomUUID() }), 404, 'SubnetNotFound');
    // A malformed id is refused before any lookup, as Neutron's validate_uuid does.
    await expectFault(() => addInterface(alice(), r.id, { subnet_id: 'nope' }), 400, 'BadRequest');
    await expectFault(() => addInterface(alice(), 'nope', { subnet_id: t.subnet.id }), 404, 'RouterNotFound');
    // another project's router and subnet stay out of reach
    await expectFault(() => addInterface(bob(), r.id, { subnet_id: t.subnet.id }), 404, 'RouterNotFound');
    const bobs = await bob().create<Router>('routers', 'router', { name: 'bob-r' });
    await expectFault(() => addInterface(bob(), bobs.id, { subnet_id: t.subnet.id }), 404, 'SubnetNotFound');

    // the interface port is the router's: not deletable or re-addressed directly; the router is in use
    await expectFault(() => alice().delete('ports', info.port_id), 409, 'ServicePortInUse');
    await expectRejectedUnchanged(
      s,
      () => alice().update('ports', 'port', info.port_id, { fixed_ips: [{ subnet_id: t.subnet.id }] }),
      409,
      'ServicePortInUse',
    );
    await expectFault(
      () => admin().update('ports', 'port', info.port_id, { device_id: 'elsewhere' }),
      409,
      'ServicePortInUse',
    );
    assert.equal((await alice().update<Port>('ports', 'port', info.port_id, { name: 'uplink' })).name, 'uplink');
    // no port poses as a router interface through the ports API
    await expectRejectedUnchanged(
      s,
      () =>
        alice().create('ports', 'port', {
          network_id: t.net.id,
          device_owner: 'network:router_interface',
          device_id: r.id,
        }),
      400,
      'BadRequest',
    );
    const plainPort = await alice().create<Port>('ports', 'port', { network_id: t.net.id });
    await expectFault(
      () => alice().update('ports', 'port', plainPort.id, { device_owner: 'network:router_gateway', device_id: r.id }),
      400,
      'BadRequest',
    );
    await alice().delete('ports', plainPort.id);
    await expectFault(() => alice().delete('routers', r.id), 409, 'RouterInUse');
    await expectFault(() => alice().delete('subnets', t.subnet.id), 409, 'SubnetInUse');

    await expectFault(
      () => removeInterface(alice(), r.id, { subnet_id: twin.subnet.id }),
      404,
      'RouterInterfaceNotFoundForSubnet',
    );
    const unknown = { port_id: randomUUID() };
    await expectFault(() => removeInterface(alice(), r.id, unknown), 404, 'RouterInterfaceNotFound');
    const removed = await removeInterface(alice(), r.id, { subnet_id: t.subnet.id });
    assert.equal(removed.port_id, info.port_id);
    await expectFault(() => alice().show('ports', 'port', info.port_id), 404, 'PortNotFound');
    // the gateway address is free again: the subnet can be attached once more
    await addInterface(alice(), r.id, { subnet_id: t.subnet.id });
    await removeInterface(alice(), r.id, { subnet_id: t.subnet.id });
    await alice().delete('routers', r.id);
    await expectFault(() => alice().show('routers', 'router', r.id), 404, 'RouterNotFound');
  });

  it('interfaces by port: the port joins the router; a port with a device is 409 PortInUse', async () => {
    const t = await tenantNet(alice(), 'ifp-net', '10.62.0.0/24');
    const r = await alice().create<Router>('routers', 'router', { name: 'r-ifp' });
    const p = await alice().create<Port>('ports', 'port', {
      network_id: t.net.id,
      fixed_ips: [{ subnet_id: t.subnet.id, ip_address: '10.62.0.254' }],
    });
    const info = await addInterface(alice(), r.id, { port_id: p.id });
    assert.equal(info.port_id, p.id);
    assert.deepEqual(info.subnet_ids, [t.subnet.id]);
    const now = await alice().show<Port>('ports', 'port', p.id);
    assert.equal(now.device_owner, 'network:router_interface');
    assert.equal(now.device_id, r.id);
    const vm = await alice().create<Port>('ports', 'port', { network_id: t.net.id, device_id: 'vm-1' });
    await expectRejectedUnchanged(s, () => addInterface(alice(), r.id, { port_id: vm.id }), 409, 'PortInUse');
    const r2 = await alice().create<Router>('routers', 'router', { name: 'r-ifp2' });
    await expectFault(() => addInterface(alice(), r2.id, { port_id: p.id }), 409, 'PortInUse');
    await expectFault(
      () => removeInterface(alice(), r.id, { port_id: p.id, subnet_id: randomUUID() }),
      400,
      'SubnetMismatchForPort',
    );
    await removeInterface(alice(), r.id, { port_id: p.id });
    await expectFault(() => alice().show('ports', 'port', p.id), 404, 'PortNotFound');
  });

  it('extra routes: next hops on a router subnet, not its own address; in-use interfaces; the limit', async () => {
    const t = await tenantNet(alice(), 'rt-net', '10.63.0.0/24');
    const r = await alice().create<Router>('routers', 'router', { name: 'r-rt' });
    await addInterface(alice(), r.id, { subnet_id: t.subnet.id });
    const bad = async (routes: unknown, type = 'InvalidRoutes') =>
      expectRejectedUnchanged(s, () => alice().update('routers', 'router', r.id, { routes }), 400, type);
    await bad([{ destination: '192.0.2.0/24', nexthop: '10.99.0.5' }]);
    await bad([{ destination: '192.0.2.0/24', nexthop: '10.63.0.1' }]);
    await bad([{ destination: '192.0.2.7/24', nexthop: '10.63.0.5' }], 'InvalidInput');
    await bad([{ destination: '192.0.2.0/24', nexthop: 'not-an-ip' }]);
    await bad(
      [
        { destination: '192.0.2.0/24', nexthop: '10.63.0.5' },
        { destination: '192.0.2.0/24', nexthop: '10.63.0.5' },
      ],
      'HTTPBadRequest',
    );
    const many = Array.from({ length: 31 }, (_, i) => ({ destination: `172.16.${i}.0/24`, nexthop: '10.63.0.5' }));
    await bad(many, 'RoutesExhausted');
    const set = await alice().update<Router>('routers', 'router', r.id, {
      routes: [{ destination: '192.0.2.0/24', nexthop: '10.63.0.5' }],
    });
    assert.deepEqual(set.routes, [{ destination: '192.0.2.0/24', nexthop: '10.63.0.5' }]);
    await expectFault(
      () => removeInterface(alice(), r.id, { subnet_id: t.subnet.id }),
      409,
      'RouterInterfaceInUseByRoute',
    );
    // extraroute-atomic
    let u = await routerAction(alice(), r.id, 'add_extraroutes', {
      routes: [{ destination: '198.51.100.0/24', nexthop: '10.63.0.6' }],
    });
    assert.equal(u.routes.length, 2);
    u = await routerAction(alice(), r.id, 'remove_extraroutes', {
      routes: [{ destination: '192.0.2.0/24', nexthop: '10.63.0.5' }],
    });
    assert.deepEqual(u.routes, [{ destination: '198.51.100.0/24', nexthop: '10.63.0.6' }]);
    u = await alice().update<Router>('routers', 'router', r.id, { routes: [] });
    assert.deepEqual(u.routes, []);
    await removeInterface(alice(), r.id, { subnet_id: t.subnet.id });
  });

  it('one gateway per cloud: add, update and remove external gateways', async () => {
    const a = await externalNet(admin(), 'mh-a', '192.0.2.0/28', 'cloud-ma');
    const b = await externalNet(admin(), 'mh-b', '192.0.2.16/28', 'cloud-mb');
    const a2 = await externalNet(admin(), 'mh-a2', '192.0.2.32/28', 'cloud-ma');
    const r = await alice().create<Router>('routers', 'router', { name: 'r-mh' });
    let u = await routerAction(alice(), r.id, 'add_external_gateways', {
      external_gateways: [{ network_id: a.net.id }, { network_id: b.net.id }],
    });
    assert.deepEqual(
      u.external_gateways.map((g) => g.network_id),
      [a.net.id, b.net.id],
    );
    assert.deepEqual(u.external_gateway_info, u.external_gateways[0]);
    assert.equal((await routerPorts(admin(), r.id, 'network:router_gateway')).length, 2);
    await expectRejectedUnchanged(
      s,
      () => routerAction(alice(), r.id, 'add_external_gateways', { external_gateways: [{ network_id: a2.net.id }] }),
      400,
      'BadRequest',
    );
    await expectFault(
      () =>
        routerAction(alice(), r.id, 'update_external_gateways', {
          external_gateways: [{ network_id: b.net.id, enable_snat: false }],
        }),
      403,
      'PolicyNotAuthorized',
    );
    u = await routerAction(admin(), r.id, 'update_external_gateways', {
      external_gateways: [{ network_id: b.net.id, enable_snat: false }],
    });
    assert.equal(u.external_gateways[1].enable_snat, false);
    assert.equal(u.external_gateways[0].enable_snat, true);
    await expectFault(
      () => routerAction(alice(), r.id, 'remove_external_gateways', { external_gateways: [{ network_id: a2.net.id }] }),
      400,
      'UnableToMatchGateways',
    );
    u = await routerAction(alice(), r.id, 'remove_external_gateways', {
      external_gateways: [{ network_id: a.net.id }],
    });
    assert.deepEqual(
      u.external_gateways.map((g) => g.network_id),
      [b.net.id],
    );
    assert.equal(u.external_gateway_info?.network_id, b.net.id);
    // a gateway's network stays external and in its cloud while the gateway is there
    await expectFault(
      () => admin().update('networks', 'network', b.net.id, { 'router:external': false }),
      409,
      'ExternalNetworkInUse',
    );
    await expectFault(
      () => admin().update('networks', 'network', b.net.id, { 'hypernet:cloud': 'cloud-x' }),
      409,
      'ExternalNetworkInUse',
    );
    await alice().delete('routers', r.id);
    assert.equal((await routerPorts(admin(), r.id, 'network:router_gateway')).length, 0);
    const moved = await admin().update<Network>('networks', 'network', b.net.id, { 'router:external': false });
    assert.equal(moved['router:external'], false);
  });

  it('an exhausted external network answers 409 IpAddressGenerationFailure', async () => {
    const ext = await externalNet(admin(), 'tiny', '203.0.113.128/29', 'cloud-t', {
      start: '203.0.113.130',
      end: '203.0.113.130',
    });
    await alice().create('routers', 'router', { external_gateway_info: { network_id: ext.net.id } });
    await expectRejectedUnchanged(
      s,
      () => alice().create('routers', 'router', { external_gateway_info: { network_id: ext.net.id } }),
      409,
      'IpAddressGenerationFailure',
    );
  });

  it('tenancy and the router quota', async () => {
    const r = await alice().create<Router>('routers', 'router', { name: 'r-ten' });
    await expectFault(() => bob().show('routers', 'router', r.id), 404, 'RouterNotFound');
    await expectFault(() => bob().delete('routers', r.id), 404, 'RouterNotFound');
    assert.ok(!(await bob().list<Router>('routers')).some((x) => x.id === r.id));
    assert.ok((await admin().list<Router>('routers')).some((x) => x.id === r.id));
    await expectFault(() => alice().create('routers', 'router', { project_id: 'pb' }), 400, 'BadRequest');
    await admin().call('PUT', '/v2.0/quotas/pb', { quota: { router: 2 } });
    const have = (await bob().list<Router>('routers')).length;
    for (let i = have; i < 2; i++) await bob().create('routers', 'router', { name: `q${i}` });
    await expectRejectedUnchanged(s, () => bob().create('routers', 'router', { name: 'over' }), 409, 'OverQuota');
    const q = await bob().call<{ quota: Record<string, number> }>('GET', '/v2.0/quotas/pb');
    assert.equal(q.quota.router, 2);
    assert.equal(q.quota.floatingip, 50);
  });

  it('lists the L3 extensions', async () => {
    const ext = await alice().call<{ extensions: { alias: string }[] }>('GET', '/v2.0/extensions');
    const aliases = ext.extensions.map((e) => e.alias);
    for (const a of ['router', 'ext-gw-mode', 'extraroute', 'external-gateway-multihoming', 'external-net'])
      assert.ok(aliases.includes(a), a);
    assert.ok(!aliases.includes('l3_agent_scheduler'));
    const res = await alice().call<{ resources: { collection: string }[] }>('GET', '/v2.0');
    for (const c of ['routers', 'floatingips', 'instances'])
      assert.ok(
        res.resources.some((x) => x.collection === c),
        c,
      );
  });
});
