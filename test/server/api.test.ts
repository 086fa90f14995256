/**
 * The Neutron API over real HTTP (noauth): CRUD and envelopes of every resource, list semantics,
 * bulk atomicity, If-Match, default security group, and the bad-input list — each failure asserting
 * its status and NeutronError type AND that nothing was written.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Network, Port, SecurityGroup, SecurityGroupRule, Subnet } from '../../src/model/types.js';
import { expectFault, expectRejectedUnchanged, postText, startTestServer, type TestServer } from './helpers.js';

describe('Neutron API (noauth)', () => {
  let s: TestServer;
  let net: Network;
  let sub: Subnet;
  before(async () => {
    s = await startTestServer({ config: { globalPhysnetMtu: 9000 } });
  });
  after(async () => s.stop());
  const c = () => s.client();

  it('serves the version document and real extensions', async () => {
    const root = (await c().call('GET', '/')) as { versions: { id: string }[] };
    assert.equal(root.versions[0].id, 'v2.0');
    const v2 = (await c().call('GET', '/v2.0')) as { resources: { collection: string }[] };
    assert.ok(v2.resources.some((r) => r.collection === 'ports'));
    const ext = (await c().call('GET', '/v2.0/extensions')) as { extensions: { alias: string }[] };
    const aliases = ext.extensions.map((e) => e.alias);
    assert.ok(aliases.includes('security-group') && aliases.includes('standard-attr-tag'));
    assert.ok(!aliases.includes('l3-ha'), 'L3 HA is not implemented, so not listed');
    await expectFault(() => c().call('GET', '/v2.0/extensions/l3-ha'), 404, 'HTTPNotFound');
    assert.equal(
      ((await c().call('GET', '/v2.0/extensions/router')) as { extension: { alias: string } }).extension.alias,
      'router',
    );
  });

  it('creates a network: vxlan, VNI, MTU = physnet - 50, 201 + envelope', async () => {
    const res = await c().raw('POST', '/v2.0/networks', { network: { name: 'n1', tags: ['blue'] } });
    assert.equal(res.status, 201);
    net = (res.body as { network: Network }).network;
    assert.equal(net['provider:network_type'], 'vxlan');
    assert.equal(net['provider:segmentation_id'], 1001);
    assert.equal(net.mtu, 8950);
    assert.equal(net.status, 'ACTIVE');
    assert.deepEqual(net.tags, ['blue']);
    const n2 = await c().create<Network>('networks', 'network', { name: 'n2' });
    assert.equal(n2['provider:segmentation_id'], 1002);
    assert.equal((await c().show<Network>('networks', 'network', net.id)).name, 'n1');
  });

  it('creates a subnet with default gateway and pools, linked into the network', async () => {
    sub = await c().create<Subnet>('subnets', 'subnet', {
      network_id: net.id,
      cidr: '10.0.0.0/24',
      ip_version: 4,
      name: 's1',
    });
    assert.equal(sub.gateway_ip, '10.0.0.1');
    assert.deepEqual(sub.allocation_pools, [{ start: '10.0.0.2', end: '10.0.0.254' }]);
    const n = await c().show<Network>('networks', 'network', net.id);
    assert.deepEqual(n.subnets, [sub.id]);
    assert.equal(n.revision_number, net.revision_number + 1);
    const v6 = await c().create<Subnet>('subnets', 'subnet', {
      network_id: (await c().list<Network>('networks', { name: 'n2' }))[0].id,
      cidr: 'fd00::/64',
      ip_version: 6,
    });
    assert.equal(v6.gateway_ip, 'fd00::1');
    assert.deepEqual(v6.allocation_pools, [{ start: 'fd00::2', end: 'fd00::ffff:ffff:ffff:ffff' }]);
  });

  it('creates ports: DOWN, unbound, default SG, next free IP, unique MAC', async () => {
    const p1 = await c().create<Port>('ports', 'port', { network_id: net.id, name: 'p1' });
    assert.equal(p1.status, 'DOWN');
    assert.equal(p1['binding:vif_type'], 'unbound');
    assert.deepEqual(p1.fixed_ips, [{ subnet_id: sub.id, ip_address: '10.0.0.2' }]);
    assert.match(p1.mac_address, /^fa:16:3e(:[0-9a-f]{2}){3}$/);
    const [def] = await c().list<SecurityGroup>('security-groups', { name: 'default' });
    assert.deepEqual(p1.security_groups, [def.id]);
    const p2 = await c().create<Port>('ports', 'port', {
      network_id: net.id,
      name: 'p2',
      fixed_ips: [{ ip_address: '10.0.0.50' }],
    });
    assert.equal(p2.fixed_ips[0].ip_address, '10.0.0.50');
    assert.notEqual(p2.mac_address, p1.mac_address);
    // the agent's report (admin)
    const up = await c().update<Port>('ports', 'port', p1.id, {
      status: 'ACTIVE',
      'binding:vif_type': 'tap',
      'binding:host_id': 'h1',
    });
    assert.equal(up.status, 'ACTIVE');
    assert.equal(up.revision_number, 2);
  });

  it('gives every project a default group with Neutron default rules', async () => {
    const [def] = await c().list<SecurityGroup>('security-groups', { name: 'default' });
    const rules = def.security_group_rules
      .map((r) => `${r.direction}/${r.ethertype}/${r.remote_group_id === def.id ? 'self' : r.remote_group_id}`)
      .sort();
    assert.deepEqual(rules, ['egress/IPv4/null', 'egress/IPv6/null', 'ingress/IPv4/self', 'ingress/IPv6/self']);
    const listed = await c().list<SecurityGroupRule>('security-group-rules', { security_group_id: def.id });
    assert.equal(listed.length, 4);
  });

  it('security groups and rules: CRUD, egress defaults, duplicate 409', async () => {
    const sg = await c().create<SecurityGroup>('security-groups', 'security_group', { name: 'web' });
    assert.equal(sg.security_group_rules.length, 2);
    const rule = await c().create<SecurityGroupRule>('security-group-rules', 'security_group_rule', {
      security_group_id: sg.id,
      direction: 'ingress',
      protocol: 'tcp',
      port_range_min: 80,
      port_range_max: 80,
      remote_ip_prefix: '0.0.0.0/0',
    });
    assert.equal(rule.ethertype, 'IPv4');
    await expectRejectedUnchanged(
      s,
      () =>
        c().create('security-group-rules', 'security_group_rule', {
          security_group_id: sg.id,
          direction: 'ingress',
          protocol: 'tcp',
          port_range_min: 80,
          port_range_max: 80,
          remote_ip_prefix: '0.0.0.0/0',
        }),
      409,
      'SecurityGroupRuleExists',
    );
    assert.equal(
      (await c().show<SecurityGroup>('security-groups', 'security_group', sg.id)).security_group_rules.length,
      3,
    );
    await c().delete('security-group-rules', rule.id);
    assert.equal(
      (await c().show<SecurityGroup>('security-groups', 'security_group', sg.id)).security_group_rules.length,
      2,
    );
    const renamed = await c().update<SecurityGroup>('security-groups', 'security_group', sg.id, { name: 'web2' });
    assert.equal(renamed.name, 'web2');
    await c().delete('security-groups', sg.id);
    await expectFault(() => c().show('security-groups', 'security_group', sg.id), 404, 'SecurityGroupNotFound');
  });

  it('filters (repeated key = OR), fields, sorting, pagination with links', async () => {
    for (let i = 0; i < 5; i++)
      await c().create('ports', 'port', { network_id: net.id, name: `pg${i}`, device_owner: i % 2 ? 'odd' : 'even' });
    const odd = await c().list<Port>('ports', { device_owner: 'odd' });
    assert.deepEqual(odd.map((p) => p.name).sort(), ['pg1', 'pg3']);
    const either = await c().list<Port>('ports', { name: ['pg0', 'pg4'] });
    assert.equal(either.length, 2);
    const byIp = await c().list<Port>('ports', { fixed_ips: 'ip_address=10.0.0.50' });
    assert.equal(byIp.length, 1);
    const slim = (await c().call('GET', '/v2.0/ports?fields=id&fields=name&name=pg0')) as { ports: object[] };
    assert.deepEqual(Object.keys(slim.ports[0]).sort(), ['id', 'name']);
    const sorted = await c().list<Port>('ports', { sort_key: 'name', sort_dir: 'desc', device_owner: ['odd', 'even'] });
    assert.deepEqual(
      sorted.map((p) => p.name),
      ['pg4', 'pg3', 'pg2', 'pg1', 'pg0'],
    );
    const page1 = (await c().call('GET', '/v2.0/ports?sort_key=name&device_owner=odd&device_owner=even&limit=2')) as {
      ports: Port[];
      ports_links: { rel: string; href: string }[];
    };
    assert.deepEqual(
      page1.ports.map((p) => p.name),
      ['pg0', 'pg1'],
    );
    const next = page1.ports_links.find((l) => l.rel === 'next')!;
    const page2 = (await c().call('GET', new URL(next.href).pathname + new URL(next.href).search)) as typeof page1;
    assert.deepEqual(
      page2.ports.map((p) => p.name),
      ['pg2', 'pg3'],
    );
    const prev = page2.ports_links.find((l) => l.rel === 'previous')!;
    const back = (await c().call('GET', new URL(prev.href).pathname + new URL(prev.href).search)) as typeof page1;
    assert.deepEqual(
      back.ports.map((p) => p.name),
      ['pg0', 'pg1'],
    );
    await expectFault(() => c().list('ports', { no_such_attr: 'x' }), 400, 'HTTPBadRequest');
    assert.equal((await c().list('networks', { tags: 'blue' })).length, 1);
    assert.equal((await c().list('networks', { 'not-tags': 'blue' })).length, 1);
  });

  it('bulk create is atomic', async () => {
    const ok = (await c().call('POST', '/v2.0/ports', {
      ports: [
        { network_id: net.id, name: 'b1' },
        { network_id: net.id, name: 'b2' },
      ],
    })) as { ports: Port[] };
    assert.equal(ok.ports.length, 2);
    await expectRejectedUnchanged(
      s,
      () =>
        c().call('POST', '/v2.0/ports', {
          ports: [
            { network_id: net.id, name: 'b3' },
            { network_id: net.id, name: 'b4', fixed_ips: [{ ip_address: '10.0.0.50' }] },
          ],
        }),
      409,
      'IpAddressAlreadyAllocated',
    );
    assert.equal((await c().list('ports', { name: 'b3' })).length, 0);
  });

  it('If-Match revision_number: 412 on mismatch, applies on match', async () => {
    const p = (await c().list<Port>('ports', { name: 'p2' }))[0];
    await expectRejectedUnchanged(
      s,
      () =>
        c().call(
          'PUT',
          `/v2.0/ports/${p.id}`,
          { port: { name: 'x' } },
          { 'if-match': `revision_number=${p.revision_number + 5}` },
        ),
      412,
      'RevisionNumberConstraintFailed',
    );
    const r = (await c().call(
      'PUT',
      `/v2.0/ports/${p.id}`,
      { port: { name: 'p2b' } },
      { 'if-match': `revision_number=${p.revision_number}` },
    )) as { port: Port };
    assert.equal(r.port.name, 'p2b');
    await expectRejectedUnchanged(
      s,
      () => c().call('DELETE', `/v2.0/ports/${p.id}`, undefined, { 'if-match': 'revision_number=1' }),
      412,
      'RevisionNumberConstraintFailed',
    );
  });

  it('tags sub-resource', async () => {
    await c().call('PUT', `/v2.0/networks/${net.id}/tags`, { tags: ['a', 'b'] });
    await c().call('PUT', `/v2.0/networks/${net.id}/tags/c`);
    assert.deepEqual(((await c().call('GET', `/v2.0/networks/${net.id}/tags`)) as { tags: string[] }).tags, [
      'a',
      'b',
      'c',
    ]);
    await c().call('DELETE', `/v2.0/networks/${net.id}/tags/a`);
    await expectFault(() => c().call('GET', `/v2.0/networks/${net.id}/tags/a`), 404, 'TagNotFound');
  });

  it('rejects bad input with Neutron errors and writes nothing', async () => {
    const r = (f: () => Promise<unknown>, status: number, type: string) => expectRejectedUnchanged(s, f, status, type);
    const p = (body: object) => () => c().create('ports', 'port', { network_id: net.id, ...body });
    const sn = (body: object) => () => c().create('subnets', 'subnet', { network_id: net.id, ip_version: 4, ...body });
    const [def] = await c().list<SecurityGroup>('security-groups', { name: 'default' });
    const rule = (body: object) => () =>
      c().create('security-group-rules', 'security_group_rule', {
        security_group_id: def.id,
        direction: 'ingress',
        ...body,
      });
    const used = (await c().list<Port>('ports', { name: 'p1' }))[0];
    await r(() => postText(s, '/v2.0/networks', '{"network": {'), 400, 'BadRequest');
    await r(() => c().call('POST', '/v2.0/networks', { network: { name: 'x', colour: 'red' } }), 400, 'HTTPBadRequest');
    await r(() => c().call('POST', '/v2.0/networks', { network: { name: 42 } }), 400, 'InvalidInput');
    await r(() => c().call('POST', '/v2.0/networks', { net: {} }), 400, 'HTTPBadRequest');
    await r(() => c().call('POST', '/v2.0/networks', { network: { mtu: 9000 } }), 400, 'InvalidInput');
    await r(
      () => c().call('PUT', `/v2.0/networks/${net.id}`, { network: { 'provider:segmentation_id': 5 } }),
      400,
      'HTTPBadRequest',
    );
    await r(() => c().call('GET', '/v2.0/networks/00000000-0000-0000-0000-000000000000'), 404, 'NetworkNotFound');
    await r(p({ network_id: 'nope' }), 404, 'NetworkNotFound');
    await r(() => c().call('DELETE', '/v2.0/ports/nope'), 404, 'PortNotFound');
    await r(sn({ cidr: '10.0.300.0/24' }), 400, 'InvalidInput');
    await r(sn({ cidr: '10.9.0.5/24' }), 400, 'InvalidInput');
    await r(sn({ cidr: '10.0.0.0/25' }), 400, 'InvalidInput'); // overlaps s1
    await r(sn({ cidr: '10.9.0.0/24', ip_version: 6 }), 400, 'InvalidInput');
    await r(sn({ cidr: '10.9.0.0/24', gateway_ip: '10.8.0.1' }), 400, 'InvalidInput');
    await r(
      sn({ cidr: '10.9.0.0/24', allocation_pools: [{ start: '10.9.0.10', end: '10.9.1.20' }] }),
      400,
      'OutOfBoundsAllocationPool',
    );
    await r(
      sn({ cidr: '10.9.0.0/24', allocation_pools: [{ start: '10.9.0.10', end: '10.9.0.5' }] }),
      400,
      'InvalidAllocationPool',
    );
    await r(
      sn({
        cidr: '10.9.0.0/24',
        allocation_pools: [
          { start: '10.9.0.10', end: '10.9.0.20' },
          { start: '10.9.0.15', end: '10.9.0.30' },
        ],
      }),
      409,
      'OverlappingAllocationPools',
    );
    await r(
      sn({
        cidr: '10.9.0.0/24',
        gateway_ip: '10.9.0.12',
        allocation_pools: [{ start: '10.9.0.10', end: '10.9.0.20' }],
      }),
      409,
      'GatewayConflictWithAllocationPools',
    );
    await r(p({ fixed_ips: [{ ip_address: '10.0.0.2' }] }), 409, 'IpAddressAlreadyAllocated');
    await r(p({ fixed_ips: [{ ip_address: '10.0.0.1' }] }), 409, 'IpAddressAlreadyAllocated');
    await r(p({ fixed_ips: [{ subnet_id: sub.id, ip_address: '10.5.0.9' }] }), 400, 'InvalidInput');
    await r(p({ fixed_ips: [{ ip_address: 'not-an-ip' }] }), 400, 'InvalidInput');
    await r(p({ mac_address: used.mac_address }), 409, 'MacAddressInUse');
    await r(p({ mac_address: 'zz:16:3e:00:00:01' }), 400, 'InvalidInput');
    await r(
      p({ port_security_enabled: false, security_groups: [def.id] }),
      400,
      'PortSecurityAndIPRequiredForSecurityGroups',
    );
    await r(p({ security_groups: ['no-such-group'] }), 404, 'SecurityGroupNotFound');
    await r(p({ admin_state_up: 'yes' }), 400, 'InvalidInput');
    await r(
      () => c().update('ports', 'port', used.id, { port_security_enabled: false }),
      409,
      'PortSecurityPortHasSecurityGroup',
    );
    await r(() => c().delete('networks', net.id), 409, 'NetworkInUse');
    await r(() => c().delete('subnets', sub.id), 409, 'SubnetInUse');
    await r(
      () =>
        c()
          .delete('security-groups', def.id)
          .then(() => c().show('security-groups', 'security_group', 'x')),
      409,
      'SecurityGroupInUse',
    );
    await r(rule({ protocol: 'bogus' }), 400, 'SecurityGroupRuleInvalidProtocol');
    await r(rule({ protocol: 'tcp', port_range_min: 90, port_range_max: 80 }), 400, 'SecurityGroupInvalidPortRange');
    await r(
      rule({ protocol: 'tcp', port_range_min: 70000, port_range_max: 70001 }),
      400,
      'SecurityGroupInvalidPortValue',
    );
    await r(
      rule({ protocol: 'gre', port_range_min: 1, port_range_max: 2 }),
      400,
      'SecurityGroupInvalidProtocolForPort',
    );
    await r(
      rule({ remote_ip_prefix: '10.0.0.0/8', remote_group_id: def.id }),
      400,
      'SecurityGroupRemoteGroupAndRemoteIpPrefix',
    );
    await r(rule({ remote_ip_prefix: '::/0' }), 400, 'SecurityGroupRuleParameterConflict');
    await r(rule({ direction: 'sideways' }), 400, 'InvalidInput');
    await r(rule({ security_group_id: 'nope' }), 404, 'SecurityGroupNotFound');
    await r(
      () =>
        c().update('security-group-rules', 'security_group_rule', def.security_group_rules[0].id, { description: 'x' }),
      400,
      'HTTPBadRequest',
    );
  });

  it('deletes: subnet after ports, network with only a DHCP port', async () => {
    const n = await c().create<Network>('networks', 'network', { name: 'gone' });
    const sn = await c().create<Subnet>('subnets', 'subnet', { network_id: n.id, cidr: '10.7.0.0/24' });
    const pt = await c().create<Port>('ports', 'port', { network_id: n.id });
    await c().create<Port>('ports', 'port', { network_id: n.id, device_owner: 'network:dhcp' });
    await c().delete('ports', pt.id);
    const res = await c().raw('DELETE', `/v2.0/networks/${n.id}`);
    assert.equal(res.status, 204);
    await expectFault(() => c().show('subnets', 'subnet', sn.id), 404, 'SubnetNotFound');
    assert.equal((await c().list('ports', { network_id: n.id })).length, 0);
  });

  it('parallel creates on a small pool never share an address; exhaustion is 409', async () => {
    const n = await c().create<Network>('networks', 'network', { name: 'small' });
    await c().create('subnets', 'subnet', {
      network_id: n.id,
      cidr: '10.8.0.0/28',
      allocation_pools: [{ start: '10.8.0.2', end: '10.8.0.11' }],
    });
    const results = await Promise.allSettled(
      Array.from({ length: 14 }, () => c().create<Port>('ports', 'port', { network_id: n.id })),
    );
    const ok = results.filter((x): x is PromiseFulfilledResult<Port> => x.status === 'fulfilled').map((x) => x.value);
    const failed = results.filter((x): x is PromiseRejectedResult => x.status === 'rejected');
    assert.equal(ok.length, 10);
    assert.equal(new Set(ok.map((p) => p.fixed_ips[0].ip_address)).size, 10);
    assert.equal(new Set(ok.map((p) => p.mac_address)).size, 10);
    for (const f of failed) assert.equal((f.reason as { type: string }).type, 'IpAddressGenerationFailure');
    await expectRejectedUnchanged(
      s,
      () => c().create('ports', 'port', { network_id: n.id }),
      409,
      'IpAddressGenerationFailure',
    );
    // a freed address is found again (gap search)
    await c().delete('ports', ok[3].id);
    const again = await c().create<Port>('ports', 'port', { network_id: n.id });
    assert.equal(again.fixed_ips[0].ip_address, ok[3].fixed_ips[0].ip_address);
  });

  it('agents: register is idempotent per host, heartbeat, alive, delete', async () => {
    const body = {
      host: 'hs1',
      agent_type: 'hypernet agent',
      binary: 'hypernet-agent',
      configurations: { tunneling_ip: '192.0.2.10', cloud: 'a' },
    };
    const a1 = await c().create<{ id: string; alive: boolean }>('agents', 'agent', body);
    const a2 = await c().create<{ id: string; configurations: { cloud: string } }>('agents', 'agent', {
      ...body,
      configurations: { tunneling_ip: '192.0.2.10', cloud: 'b' },
    });
    assert.equal(a2.id, a1.id);
    assert.equal(a2.configurations.cloud, 'b');
    assert.equal(a1.alive, true);
    const rev = await s.store.read((tx) => tx.revision());
    const hb = await c().update<{ heartbeat_timestamp: string }>('agents', 'agent', a1.id, { heartbeat: true });
    assert.ok(hb.heartbeat_timestamp);
    assert.equal(await s.store.read((tx) => tx.revision()), rev, 'heartbeats are quiet');
    assert.equal((await c().list('agents')).length, 1);
    await c().delete('agents', a1.id);
    assert.equal((await c().list('agents')).length, 0);
  });
});
