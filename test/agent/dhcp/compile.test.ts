/** Golden tests of compileDhcp and dhcpPortRequest: config text, hosts, local-only ports, options. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileDhcp, dhcpPortRequest } from '../../../src/agent/dhcp/index.js';
import { dhcpPort, network, port, subnet } from './fixtures.js';
import { view } from '../../../testkit/model-fixtures.js';

const N = network('net-a', 1001);
const S = subnet('sub-a', 'net-a', '10.0.1.0/24', {
  dns_nameservers: ['192.0.2.53', '198.51.100.53'],
  host_routes: [{ destination: '203.0.113.0/24', nexthop: '10.0.1.254' }],
});
const DHCP = dhcpPort('dp-1', 'net-a', 'FA:16:3E:00:00:02', [['sub-a', '10.0.1.2']], 'node1');
const P1 = port('p1', 'net-a', 'fa:16:3e:00:00:11', [['sub-a', '10.0.1.11']], 'node1');
const P2 = port('p2', 'net-a', 'fa:16:3e:00:00:12', [['sub-a', '10.0.1.12']], 'node2');

const compile = (over: Partial<Parameters<typeof compileDhcp>[0]> = {}) =>
  compileDhcp({
    host: 'node1',
    networks: [N],
    subnets: [S],
    ports: [DHCP, P1, P2],
    underlayMtu: 1500,
    netnsPrefix: 'hn-dhcp-',
    ...over,
  });

test('golden config, hosts and interface for a network with a local port', () => {
  const d = compile();
  assert.deepEqual(d.needsDhcpPort, []);
  assert.deepEqual(d.problems, []);
  assert.equal(d.networks.length, 1);
  const n = d.networks[0];
  assert.deepEqual(
    { ...n, confText: undefined, hostsText: undefined },
    {
      networkId: 'net-a',
      portId: 'dp-1',
      vni: 1001,
      bridge: 'hnb-1001',
      netns: 'hn-dhcp-1001',
      vethNode: 'hnd-1001',
      vethNs: 'hndi-1001',
      mac: 'fa:16:3e:00:00:02',
      addresses: ['10.0.1.2/24'],
      mtu: 1450,
      confText: undefined,
      hostsText: undefined,
    },
  );
  assert.equal(
    n.confText,
    [
      '# hypernet DHCP for network net-a (VNI 1001). Generated; do not edit.',
      'no-resolv',
      'no-hosts',
      'port=0',
      'bind-interfaces',
      'interface=hndi-1001',
      'dhcp-ignore=tag:!known',
      'dhcp-authoritative',
      'dhcp-option=option:mtu,1450',
      'dhcp-range=set:subnet-sub-a,10.0.1.0,static,255.255.255.0,86400s',
      'dhcp-option=tag:subnet-sub-a,option:router,10.0.1.1',
      'dhcp-option=tag:subnet-sub-a,option:dns-server,192.0.2.53,198.51.100.53',
      'dhcp-option=tag:subnet-sub-a,option:classless-static-route,203.0.113.0/24,10.0.1.254,0.0.0.0/0,10.0.1.1',
      '',
    ].join('\n'),
  );
  // Only the local port: p2 is bound to node2, the DHCP port itself is not a client.
  assert.equal(n.hostsText, 'fa:16:3e:00:00:11,10.0.1.11\n');
  assert.ok(Object.isFrozen(d) && Object.isFrozen(d.networks[0]) && Object.isFrozen(d.networks[0].addresses));
});

test("another node's ports are ignored; a node with no local ports serves nothing", () => {
  const d = compile({
    host: 'node2',
    ports: [DHCP, P1, P2, dhcpPort('dp-2', 'net-a', 'fa:16:3e:00:00:03', [['sub-a', '10.0.1.3']], 'node2')],
  });
  assert.equal(d.networks[0].hostsText, 'fa:16:3e:00:00:12,10.0.1.12\n');
  assert.equal(d.networks[0].mac, 'fa:16:3e:00:00:03');
  const none = compile({ host: 'node3' });
  assert.deepEqual(none.networks, []);
  assert.deepEqual(none.needsDhcpPort, []);
});

test('MTU option follows the underlay MTU minus 50; lease time is configurable', () => {
  const n = compile({ underlayMtu: 9001, leaseSeconds: 600 }).networks[0];
  assert.equal(n.mtu, 8951);
  assert.match(n.confText, /^dhcp-option=option:mtu,8951$/m);
  assert.match(n.confText, /^dhcp-range=set:subnet-sub-a,10\.0\.1\.0,static,255\.255\.255\.0,600s$/m);
});

test('gateway null: router option sent empty (dnsmasq must not offer itself); no default in 121', () => {
  const s = subnet('sub-a', 'net-a', '10.0.1.0/24', {
    gateway_ip: null,
    host_routes: [{ destination: '203.0.113.0/24', nexthop: '10.0.1.254' }],
  });
  const c = compile({ subnets: [s] }).networks[0].confText;
  assert.match(c, /^dhcp-option=tag:subnet-sub-a,option:router$/m);
  assert.match(c, /^dhcp-option=tag:subnet-sub-a,option:dns-server$/m);
  assert.match(c, /^dhcp-option=tag:subnet-sub-a,option:classless-static-route,203\.0\.113\.0\/24,10\.0\.1\.254$/m);
});

test('no host routes: no option 121', () => {
  const c = compile({ subnets: [subnet('sub-a', 'net-a', '10.0.1.0/24')] }).networks[0].confText;
  assert.doesNotMatch(c, /classless-static-route/);
  assert.match(c, /option:router,10\.0\.1\.1$/m);
});

test('subnets without DHCP, IPv6 subnets and ports of other networks get no host lines', () => {
  const off = subnet('sub-b', 'net-a', '10.0.2.0/24', { enable_dhcp: false });
  const v6 = subnet('sub-6', 'net-a', 'fd00::/64', { ip_version: 6, gateway_ip: 'fd00::1' });
  const p = port(
    'p3',
    'net-a',
    'fa:16:3e:00:00:13',
    [
      ['sub-b', '10.0.2.13'],
      ['sub-6', 'fd00::13'],
    ],
    'node1',
  );
  const d = compile({ subnets: [S, off, v6], ports: [DHCP, P1, p] });
  assert.equal(d.networks[0].hostsText, 'fa:16:3e:00:00:11,10.0.1.11\n');
  assert.doesNotMatch(d.networks[0].confText, /sub-b|sub-6/);
  // Only non-DHCP subnets: nothing to serve, no DHCP port asked for.
  const d2 = compile({
    subnets: [S, off],
    ports: [port('p4', 'net-a', 'fa:16:3e:00:00:14', [['sub-b', '10.0.2.14']], 'node1')],
  });
  assert.deepEqual(d2.networks, []);
  assert.deepEqual(d2.needsDhcpPort, []);
});

test('missing DHCP port is reported in needsDhcpPort; dhcpPortRequest gives the contract body', () => {
  const d = compile({ ports: [P1, P2] });
  assert.deepEqual(d.networks, []);
  assert.deepEqual(d.needsDhcpPort, ['net-a']);
  // Another host's DHCP port does not count.
  assert.deepEqual(
    compile({ ports: [dhcpPort('x', 'net-a', 'fa:16:3e:00:00:09', [['sub-a', '10.0.1.9']], 'node2'), P1] })
      .needsDhcpPort,
    ['net-a'],
  );
  assert.deepEqual(dhcpPortRequest('net-a', 'node1'), {
    port: {
      network_id: 'net-a',
      name: 'dhcp-node1',
      device_owner: 'network:dhcp',
      device_id: 'dhcp-node1',
      'binding:host_id': 'node1',
      admin_state_up: true,
    },
  });
  assert.deepEqual(dhcpPortRequest('net-a', 'node1', ['sub-a']).port.fixed_ips, [{ subnet_id: 'sub-a' }]);
});

test('two subnets: one address each on the interface, per-subnet options, one host line per IP', () => {
  const s2 = subnet('sub-b', 'net-a', '10.0.2.0/24', { gateway_ip: '10.0.2.254', dns_nameservers: ['192.0.2.53'] });
  const dp = dhcpPort(
    'dp-1',
    'net-a',
    'fa:16:3e:00:00:02',
    [
      ['sub-a', '10.0.1.2'],
      ['sub-b', '10.0.2.2'],
    ],
    'node1',
  );
  const p = port(
    'p5',
    'net-a',
    'fa:16:3e:00:00:15',
    [
      ['sub-a', '10.0.1.15'],
      ['sub-b', '10.0.2.15'],
    ],
    'node1',
  );
  const n = compile({ subnets: [S, s2], ports: [dp, p] }).networks[0];
  assert.deepEqual(n.addresses, ['10.0.1.2/24', '10.0.2.2/24']);
  assert.equal(n.hostsText, 'fa:16:3e:00:00:15,10.0.1.15\nfa:16:3e:00:00:15,10.0.2.15\n');
  assert.match(n.confText, /^dhcp-range=set:subnet-sub-b,10\.0\.2\.0,static,255\.255\.255\.0,86400s$/m);
  assert.match(n.confText, /^dhcp-option=tag:subnet-sub-b,option:router,10\.0\.2\.254$/m);
  // DHCP port lacking an IP in a subnet: that subnet is not served, and that is reported.
  const partial = compile({ subnets: [S, s2], ports: [DHCP, p] });
  assert.equal(partial.networks[0].hostsText, 'fa:16:3e:00:00:15,10.0.1.15\n');
  assert.equal(partial.problems.length, 1);
  assert.match(partial.problems[0], /sub-b/);
});

test('deterministic: input order does not change the output', () => {
  const n2 = network('net-b', 7);
  const s2 = subnet('sub-x', 'net-b', '10.9.0.0/16');
  const ports = [
    DHCP,
    P1,
    port('p6', 'net-a', 'fa:16:3e:00:00:01', [['sub-a', '10.0.1.99']], 'node1'),
    dhcpPort('dp-b', 'net-b', 'fa:16:3e:00:01:02', [['sub-x', '10.9.0.2']], 'node1'),
    port('p7', 'net-b', 'fa:16:3e:00:01:07', [['sub-x', '10.9.3.7']], 'node1'),
  ];
  const a = compile({ networks: [N, n2], subnets: [S, s2], ports });
  const b = compile({ networks: [n2, N], subnets: [s2, S], ports: [...ports].reverse() });
  assert.deepEqual(a, b);
  assert.deepEqual(
    a.networks.map((n) => n.vni),
    [7, 1001],
  );
  assert.equal(a.networks[0].addresses[0], '10.9.0.2/16');
  assert.match(a.networks[0].confText, /10\.9\.0\.0,static,255\.255\.0\.0,/);
  assert.equal(a.networks[1].hostsText, 'fa:16:3e:00:00:01,10.0.1.99\nfa:16:3e:00:00:11,10.0.1.11\n');
});

test('DHCP port status: ACTIVE where the network is served, DOWN where it is not or no longer needed', async () => {
  const { dhcpPortStatusUpdates } = await import('../../../src/agent/dhcp/status.js');
  const d = compile();
  const model = (dhcp: typeof DHCP) => view({ networks: [N], ports: [dhcp, P1, P2] });
  assert.deepEqual(dhcpPortStatusUpdates('node1', d, new Set([1001]), model(DHCP)), [
    { portId: 'dp-1', status: 'ACTIVE', vifType: 'tap' },
  ]);
  const active: typeof DHCP = { ...DHCP, status: 'ACTIVE', 'binding:vif_type': 'tap' };
  assert.deepEqual(dhcpPortStatusUpdates('node1', d, new Set([1001]), model(active)), [], 'already reported');
  assert.deepEqual(
    dhcpPortStatusUpdates('node1', d, new Set(), model(active)),
    [{ portId: 'dp-1', status: 'DOWN' }],
    'the apply failed',
  );
  const none = compile({ ports: [active] });
  assert.deepEqual(none.networks, [], 'no local port to serve');
  assert.deepEqual(
    dhcpPortStatusUpdates('node1', none, new Set([1001]), model(active)),
    [{ portId: 'dp-1', status: 'DOWN' }],
    'torn down',
  );
  assert.deepEqual(
    dhcpPortStatusUpdates('node2', d, new Set([1001]), model(DHCP)),
    [],
    "another host's DHCP port is not ours to report",
  );
});

test('hosts text follows every change of the local ports, also when port objects are replaced with the same content', () => {
  const P3 = port('p3', 'net-a', 'fa:16:3e:00:00:13', [['sub-a', '10.0.1.13']], 'node1');
  const first = compile({ ports: [DHCP, P1, P3, P2] }).networks[0]!.hostsText;
  assert.equal(first, 'fa:16:3e:00:00:11,10.0.1.11\nfa:16:3e:00:00:13,10.0.1.13\n');
  // A status report replaces the port objects; the content is the same.
  const again = compile({ ports: [DHCP, { ...P1, status: 'ACTIVE' }, { ...P3, status: 'ACTIVE' }, P2] }).networks[0]!
    .hostsText;
  assert.equal(again, first);
  const moved = compile({
    ports: [DHCP, P1, { ...P3, fixed_ips: [{ subnet_id: 'sub-a', ip_address: '10.0.1.99' }] }, P2],
  }).networks[0]!.hostsText;
  assert.equal(moved, 'fa:16:3e:00:00:11,10.0.1.11\nfa:16:3e:00:00:13,10.0.1.99\n');
  assert.equal(compile({ ports: [DHCP, P1, P2] }).networks[0]!.hostsText, 'fa:16:3e:00:00:11,10.0.1.11\n');
  // A second network on the node keeps its own hosts file.
  const N2 = network('net-b', 1002);
  const S2 = subnet('sub-b', 'net-b', '10.0.2.0/24');
  const D2 = dhcpPort('dp-2', 'net-b', 'fa:16:3e:00:00:22', [['sub-b', '10.0.2.2']], 'node1');
  const Q1 = port('q1', 'net-b', 'fa:16:3e:00:00:21', [['sub-b', '10.0.2.21']], 'node1');
  const both = compile({ networks: [N, N2], subnets: [S, S2], ports: [DHCP, P1, D2, Q1] });
  assert.deepEqual(
    both.networks.map((n) => n.hostsText),
    ['fa:16:3e:00:00:11,10.0.1.11\n', 'fa:16:3e:00:00:21,10.0.2.21\n'],
  );
});

test('a network crossing an encrypted tunnel: its MTU (option 26, veths) comes from mtuOf', () => {
  const d = compile({ mtuOf: (id) => (id === 'net-a' ? 1390 : 1450) });
  assert.equal(d.networks[0].mtu, 1390);
  assert.match(d.networks[0].confText, /^dhcp-option=option:mtu,1390$/m);
  assert.match(compile().networks[0].confText, /^dhcp-option=option:mtu,1450$/m);
});
