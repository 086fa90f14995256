/**
 * Input validation over real HTTP: what the API accepts is what the agent can render (one protocol
 * table, one address grammar), subnets are checked as Neutron checks them, strings that reach
 * command lines have a strict grammar, and every error, also for odd URLs and query keys, is a
 * NeutronError with a 4xx status. Each refused request must also leave the store unchanged.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Network, Port, SecurityGroup, SecurityGroupRule, Subnet } from '../../src/model/types.js';
import { expectFault, expectRejectedUnchanged, startTestServer, type TestServer } from './helpers.js';

describe('input validation', () => {
  let s: TestServer;
  let net: Network;
  let v4: Subnet;
  let v6: Subnet;
  let sg: SecurityGroup;
  before(async () => {
    s = await startTestServer();
    net = await s.client().create<Network>('networks', 'network', { name: 'val' });
    v4 = await s.client().create<Subnet>('subnets', 'subnet', { network_id: net.id, cidr: '10.9.0.0/24' });
    v6 = await s
      .client()
      .create<Subnet>('subnets', 'subnet', { network_id: net.id, cidr: 'fd00:9::/64', ip_version: 6 });
    sg = await s.client().create<SecurityGroup>('security-groups', 'security_group', { name: 'val' });
  });
  after(async () => s.stop());
  const c = () => s.client();
  const rejected = (fn: () => Promise<unknown>, type = 'InvalidInput', status = 400) =>
    expectRejectedUnchanged(s, fn, status, type);
  const rule = (r: Record<string, unknown>) =>
    c().create<SecurityGroupRule>('security-group-rules', 'security_group_rule', {
      security_group_id: sg.id,
      direction: 'ingress',
      ...r,
    });

  it('accepts every Neutron protocol name, and normalises numeric protocols', async () => {
    for (const protocol of ['ipip', 'hopopt', 'ipv6-encap', 'ipv6-frag', 'ipv6-route', 'ipv6-opts', 'ipv6-nonxt']) {
      const r = await rule({ protocol, ethertype: protocol === 'ipip' || protocol === 'hopopt' ? 'IPv4' : 'IPv6' });
      assert.equal(r.protocol, protocol);
    }
    const tcp = await rule({ protocol: '006', port_range_min: 22, port_range_max: 22 });
    assert.equal(tcp.protocol, '6', 'leading zeros dropped');
    for (const protocol of ['6', 6, 'tcp', 'TCP']) {
      await rejected(() => rule({ protocol, port_range_min: 22, port_range_max: 22 }), 'SecurityGroupRuleExists', 409);
    }
  });

  it('refuses unknown protocols and IPv6-only protocols in IPv4 rules, as Neutron', async () => {
    for (const protocol of ['constructor', 'toString', '256', '0x6', '1e1', ' 6', 'ipv6']) {
      await rejected(() => rule({ protocol }), 'SecurityGroupRuleInvalidProtocol');
    }
    for (const protocol of ['icmpv6', 'ipv6-icmp', '58', 58, 'ipv6-frag', '44']) {
      await rejected(() => rule({ protocol, ethertype: 'IPv4' }), 'SecurityGroupEthertypeConflictWithProtocol');
    }
    const ok = await rule({ protocol: 'icmpv6', ethertype: 'IPv6' });
    assert.equal(ok.protocol, 'icmpv6');
  });

  it('refuses IPv6 zone IDs in every address field', async () => {
    const port = (body: Record<string, unknown>) => c().create<Port>('ports', 'port', { network_id: net.id, ...body });
    await rejected(() => port({ allowed_address_pairs: [{ ip_address: 'fe80::1%eth0' }] }));
    await rejected(() => port({ allowed_address_pairs: [{ ip_address: 'fe80::%eth0/64' }] }));
    await rejected(() => port({ fixed_ips: [{ subnet_id: v6.id, ip_address: 'fd00:9::5%eth0' }] }));
    const sub = (body: Record<string, unknown>) =>
      c().create<Subnet>('subnets', 'subnet', { network_id: net.id, cidr: 'fd00:8::/64', ip_version: 6, ...body });
    await rejected(() => sub({ gateway_ip: 'fd00:8::1%eth0' }));
    await rejected(() => sub({ dns_nameservers: ['fd00:8::53%eth0'] }));
    await rejected(() => sub({ host_routes: [{ destination: 'fd00:7::/64', nexthop: 'fd00:8::2%eth0' }] }));
    await rejected(
      () => sub({ allocation_pools: [{ start: 'fd00:8::10%1', end: 'fd00:8::20' }] }),
      'InvalidAllocationPool',
    );
    await rejected(() => rule({ ethertype: 'IPv6', remote_ip_prefix: 'fe80::%eth0/64' }));
  });

  it('checks and canonicalises allowed address pairs', async () => {
    const port = (ip_address: string) =>
      c().create<Port>('ports', 'port', { network_id: net.id, allowed_address_pairs: [{ ip_address }] });
    for (const bad of ['10.0.0.1/abc', '10.0.0.1/33', '10.0.0.1/024', 'fd00::1/129', '10.0.0.1/', '10.0.0.1/24/1']) {
      await rejected(() => port(bad));
    }
    assert.equal((await port('10.9.0.77/24')).allowed_address_pairs[0].ip_address, '10.9.0.0/24');
    assert.equal((await port('10.9.0.78/32')).allowed_address_pairs[0].ip_address, '10.9.0.78/32');
    assert.equal((await port('FD00:9:0::0:79')).allowed_address_pairs[0].ip_address, 'fd00:9::79');
  });

  it('validates agent configurations that reach command lines', async () => {
    const agent = (body: Record<string, unknown>) =>
      c().call('POST', '/v2.0/agents', { agent: { host: 'val-node', ...body } });
    await expectFault(
      () => agent({ configurations: { tunneling_ip: '192.0.2.1\nfdb del x', cloud: 'a' } }),
      400,
      'InvalidInput',
    );
    await expectFault(
      () => agent({ configurations: { tunneling_ip: 'fe80::1%eth0', cloud: 'a' } }),
      400,
      'InvalidInput',
    );
    await expectFault(
      () => agent({ configurations: { tunneling_ip: '192.0.2.1', cloud: 'a b' } }),
      400,
      'InvalidInput',
    );
    await expectFault(() => agent({ host: 'node\n1' }), 400, 'InvalidInput');
    await expectFault(
      () => agent({ configurations: { tunneling_ip: '192.0.2.1', capabilities: ['a b'] } }),
      400,
      'InvalidInput',
    );
    assert.deepEqual(await c().list('agents'), [], 'nothing registered');
    const ok = await agent({ configurations: { tunneling_ip: '192.0.2.1', cloud: 'cloud-a' } });
    assert.equal((ok as { agent: { host: string } }).agent.host, 'val-node');
    await rejected(() => c().create<Port>('ports', 'port', { network_id: net.id, 'binding:host_id': 'a;b' }));
  });

  it('validates subnets as Neutron does: versions, sizes, special ranges', async () => {
    const sub = (cidr: string, body: Record<string, unknown> = {}) =>
      c().create<Subnet>('subnets', 'subnet', { network_id: net.id, cidr, ...body });
    await rejected(() => sub('10.8.0.0/24', { dns_nameservers: ['fd00::53'] }));
    await rejected(() => sub('10.8.0.0/24', { host_routes: [{ destination: 'fd00:7::/64', nexthop: '10.8.0.9' }] }));
    await rejected(() => sub('10.8.0.0/24', { host_routes: [{ destination: '10.7.0.0/24', nexthop: 'fd00::9' }] }));
    await rejected(() => sub('10.8.0.0/24', { gateway_ip: 'fd00::1' }));
    await rejected(() => sub('fd00:8::/64', { ip_version: 6, dns_nameservers: ['10.0.0.53'] }));
    for (const cidr of ['10.8.0.0/31', '10.8.0.1/32', 'fd00:8::/127', 'fd00:8::1/128']) {
      await rejected(() => sub(cidr));
      await rejected(() => sub(cidr, { enable_dhcp: false }));
    }
    for (const cidr of ['224.0.0.0/24', '239.1.0.0/16', '127.0.0.0/8', '0.0.0.0/0', '::/0', 'ff02::/64', '::1/128']) {
      await rejected(() => sub(cidr));
    }
    // The smallest allowed subnets still hold a gateway and a port inside the CIDR.
    const n2 = await c().create<Network>('networks', 'network', { name: 'small' });
    const s30 = await c().create<Subnet>('subnets', 'subnet', { network_id: n2.id, cidr: '10.7.0.0/30' });
    assert.equal(s30.gateway_ip, '10.7.0.1');
    assert.deepEqual(s30.allocation_pools, [{ start: '10.7.0.2', end: '10.7.0.2' }]);
    const s126 = await c().create<Subnet>('subnets', 'subnet', {
      network_id: n2.id,
      cidr: 'fd00:7::/126',
      ip_version: 6,
    });
    assert.deepEqual(s126.allocation_pools, [{ start: 'fd00:7::2', end: 'fd00:7::3' }]);
    const p = await c().create<Port>('ports', 'port', { network_id: n2.id });
    assert.deepEqual(p.fixed_ips.map((f) => f.ip_address).sort(), ['10.7.0.2', 'fd00:7::2']);
    // Updates are checked against the subnet's version too.
    await rejected(() => c().update('subnets', 'subnet', v4.id, { dns_nameservers: ['fd00::53'] }));
    await rejected(() =>
      c().update('subnets', 'subnet', v4.id, { host_routes: [{ destination: '::/0', nexthop: 'fd00::1' }] }),
    );
  });

  it('refuses lone surrogates in any string, big VNIs and bad tags', async () => {
    await rejected(() => c().create('networks', 'network', { name: 'a\ud800b' }));
    await rejected(() => c().create('networks', 'network', { description: '\udc00' }));
    await rejected(() => c().create('networks', 'network', { tags: ['ok', 'x\ud83d'] }));
    await rejected(() => c().create('ports', 'port', { network_id: net.id, 'binding:profile': { k: '\ud800' } }));
    await rejected(() => c().create('networks', 'network', { 'provider:segmentation_id': 16_777_216 }));
    for (const tag of ['a,b', 'a/b', 'a\nb', ''])
      await rejected(() => c().create('networks', 'network', { tags: [tag] }));
    await rejected(() => c().call('PUT', `/v2.0/networks/${net.id}/tags`, { tags: ['a\nb'] }));
    await rejected(() => c().call('PUT', `/v2.0/networks/${net.id}/tags/a%0Ab`));
    await rejected(() => c().call('PUT', `/v2.0/networks/${net.id}/tags/a%2Cb`));
    const top = await c().create<Network>('networks', 'network', { 'provider:segmentation_id': 16_777_215 });
    assert.equal(top['provider:segmentation_id'], 16_777_215);
  });

  it('takes a page limit in decimal digits only, as Neutron', async () => {
    for (const limit of ['1e3', '0x10', ' 5', '+5', '-1', '1.5']) {
      await rejected(() => c().list('networks', { limit }), 'HTTPBadRequest');
    }
    assert.equal((await c().list('networks', { limit: '1' })).length, 1);
    assert.ok((await c().list('networks', { limit: '0' })).length >= 1, 'limit 0 means no limit');
  });

  it('answers odd URLs and query keys with a NeutronError and a 4xx', async () => {
    const paths = [
      '/v2.0/networks?toString=1',
      '/v2.0/networks?__proto__=1',
      '/v2.0/networks?constructor=1&hasOwnProperty=2',
      `/v2.0/networks/${net.id}?toString=1&fields=constructor`,
      '/v2.0/watch?toString=1&since=x',
      '/v2.0/watch?__proto__=1&since=x',
      `/v2.0/networks/${'a'.repeat(2000)}`,
      `/v2.0/networks/${'a'.repeat(300)}`,
      '/v2.0/networks/%zz',
      '/v2.0/networks%',
      '/ui/%25',
      '/ui/%zz',
    ];
    for (const p of paths) {
      const r = await c().raw('GET', p);
      const body = r.body as { NeutronError?: { type: string; message: string; detail: string } };
      if (r.status === 200) {
        // GET-one ignores unknown query keys, and `fields` only picks the object's own attributes.
        assert.deepEqual(body, { network: {} }, p);
        continue;
      }
      assert.ok(r.status >= 400 && r.status < 500, `${p}: ${r.status}`);
      assert.equal(typeof body.NeutronError?.type, 'string', `${p}: ${JSON.stringify(body)}`);
      assert.equal(typeof body.NeutronError?.message, 'string', p);
      assert.equal(typeof body.NeutronError?.detail, 'string', p);
    }
  });
});
