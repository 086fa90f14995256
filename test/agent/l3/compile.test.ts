/** compile.ts: (node, model) → the desired L3 state of a node, pure, no root. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileL3, routedNetworkIds } from '../../../src/agent/l3/compile.js';
import { port } from '../../../testkit/model-fixtures.js';
import { l3Model, nodeA, R1 } from './fixtures.js';

const NS = `hn-qr-${R1}`;
const nodeB = { ...nodeA, host: 'hostB', underlayIp: '192.0.2.66', cloud: 'cloud-b' };
const fip1: [string, string, string, string] = ['f1', '203.0.113.20', '0e100000-0001', '10.0.1.10'];

test('a node hosting the router: interfaces, its cloud’s gateway with the floating IP, routes and NAT', () => {
  const d = compileL3(nodeA, l3Model({ fips: [fip1], routes: [{ destination: '10.9.0.0/24', nexthop: '10.0.2.20' }] }));
  assert.equal(d.routers.length, 1);
  const r = d.routers[0]!;
  assert.equal(r.netns, NS);
  assert.deepEqual(
    r.ifaces.map((f) => [f.kind, f.inner, f.outer, f.bridge, f.mac, f.addrs, f.mtu]),
    [
      ['interface', 'qr-a1000000-00', 'hrpa1000000-00', 'hnb-100', 'fa:16:3e:aa:00:01', ['10.0.1.1/24'], 1450],
      ['interface', 'qr-a2000000-00', 'hrpa2000000-00', 'hnb-100', 'fa:16:3e:aa:00:02', ['10.0.2.1/24'], 1450],
      [
        'gateway',
        'qg-ba000000-00',
        'hrgba000000-00',
        null,
        'fa:16:3e:bb:00:0a',
        ['203.0.113.10/32', '203.0.113.20/32'],
        1500,
      ],
    ],
  );
  assert.deepEqual(r.routes, [
    '169.254.0.1 dev qg-ba000000-00',
    'default via 169.254.0.1 dev qg-ba000000-00',
    '10.9.0.0/24 via 10.0.2.20 dev qr-a2000000-00',
  ]);
  assert.match(r.nft, /ip daddr 203\.0\.113\.20 dnat to 10\.0\.1\.10\n/);
  assert.match(
    r.nft,
    /oifname "qg-ba000000-00" ip saddr 10\.0\.1\.10 snat to 203\.0\.113\.20\n\t\toifname "qg-ba000000-00" snat to 203\.0\.113\.10\n/,
  );
  assert.match(r.nft, new RegExp(`comment "${r.nftKey}"`));
  assert.deepEqual(d.hostRoutes, ['203.0.113.10 dev hrgba000000-00', '203.0.113.20 dev hrgba000000-00']);
  assert.deepEqual(d.proxies, ['203.0.113.10', '203.0.113.20']);
  assert.deepEqual(d.fips, [
    { fipId: 'f1', ip: '203.0.113.20', routerId: R1 },
    { fipId: `gateway:${R1}`, ip: '203.0.113.10', routerId: R1 },
  ]);
  assert.match(d.bridgeNft, /iifname "hnv-\*" oifname "hrp\*" drop/);
  // Routed only by the node: not tracked there (the router namespace tracks it).
  assert.match(
    d.bridgeNft,
    /table ip hypernet_l3 \{[\s\S]*iifname "hrg\*" notrack\n\t\tip daddr \{ 203\.0\.113\.10, 203\.0\.113\.20 \} notrack/,
  );
});

test('another cloud: its own gateway; a floating IP of cloud A is not served there', () => {
  const d = compileL3(nodeB, l3Model({ fips: [fip1] }));
  const r = d.routers[0]!;
  assert.deepEqual(r.ifaces.at(-1)!.addrs, ['203.0.113.74/32']);
  assert.deepEqual(d.fips, [{ fipId: `gateway:${R1}`, ip: '203.0.113.74', routerId: R1 }], 'only its gateway');
  assert.doesNotMatch(r.nft, /dnat/);
  assert.match(r.nft, /snat to 203\.0\.113\.74/);
});

test('one node of a cloud answers for the gateway address: the first by host id hosting the router', () => {
  const vmA2 = port('0e400000-0004', 'n1', 'hostA2', 'fa:16:3e:00:04:40', [], {
    fixed_ips: [{ subnet_id: 's1', ip_address: '10.0.1.12' }],
  });
  const m = l3Model({ ports: [vmA2] });
  const a2 = compileL3({ ...nodeA, host: 'hostA2' }, m);
  assert.deepEqual(a2.proxies, [], 'hostA2 SNATs to the same address but does not answer for it');
  assert.deepEqual(a2.hostRoutes, ['203.0.113.10 dev hrgba000000-00']);
  assert.deepEqual(compileL3(nodeA, m).proxies, ['203.0.113.10']);
});

test('a node without a port on the router’s subnets hosts nothing, and owns no bridge table', () => {
  const d = compileL3({ ...nodeA, host: 'hostC' }, l3Model({ fips: [fip1] }));
  assert.deepEqual([d.routers, d.hostRoutes, d.proxies, d.bridgeNft], [[], [], [], '']);
  assert.deepEqual(routedNetworkIds('hostC', l3Model()), []);
  assert.deepEqual(routedNetworkIds('hostA', l3Model()), ['n1']);
});

test('admin_state_up=false: links down, no routes, no floating IP served', () => {
  const d = compileL3(nodeA, l3Model({ fips: [fip1], up: false }));
  assert.equal(d.routers[0]!.up, false);
  assert.deepEqual([d.routers[0]!.routes, d.fips, d.hostRoutes, d.proxies], [[], [], [], []]);
});

test('enable_snat=false: floating IPs keep their 1:1 NAT, the rest is not SNATed', () => {
  const nft = compileL3(nodeA, l3Model({ fips: [fip1], snat: false })).routers[0]!.nft;
  assert.match(nft, /snat to 203\.0\.113\.20/);
  assert.doesNotMatch(nft, /snat to 203\.0\.113\.10/);
});

test('what does not parse or does not fit is left out, not rendered', () => {
  const d = compileL3(
    nodeA,
    l3Model({
      fips: [
        ['bad', '203.0.113.20; flush ruleset', '0e100000-0001', '10.0.1.10'],
        ['f2', '203.0.113.21', '0e100000-0001', '10.0.1.99'],
      ],
      routes: [
        { destination: '10.9.0.0/24', nexthop: '192.0.2.9' },
        { destination: 'not a cidr', nexthop: '10.0.1.5' },
        { destination: '10.8.0.5/32', nexthop: '10.0.1.5' },
      ],
    }),
  );
  assert.deepEqual(
    d.fips.map((f) => f.fipId),
    [`gateway:${R1}`],
  );
  assert.deepEqual(d.routers[0]!.routes.slice(2), ['10.8.0.5 via 10.0.1.5 dev qr-a1000000-00']);
});

test('egress transit: a second node of cloud A, and a cloud without a gateway, leave through a gateway node', () => {
  const vmA2 = { ...port('0e400000-0004', 'n1', 'hostA2', 'fa:16:3e:00:04:40', []) };
  vmA2.fixed_ips = [{ subnet_id: 's1', ip_address: '10.0.1.12' }];
  const m = l3Model({ ports: [vmA2], fips: [['f4', '203.0.113.21', '0e400000-0004', '10.0.1.12']] });
  const nodeA2 = { ...nodeA, host: 'hostA2', underlayIp: '192.0.2.3' };
  const a2 = compileL3(nodeA2, m).routers[0]!;
  const macOf = (h: string) => compileL3({ ...nodeA, host: h }, m).routers[0]!.transit!.mac;
  // Gateway nodes by cloud: cloud-a → hostA (hop .1), cloud-b → hostB (hop .2).
  assert.deepEqual(a2.transit!.peers, [
    { hop: '169.254.1.1', mac: macOf('hostA'), dst: '192.0.2.2' },
    { hop: '169.254.1.2', mac: macOf('hostB'), dst: '192.0.2.66' },
  ]);
  assert.notEqual(macOf('hostA'), macOf('hostA2'));
  assert.ok(a2.routes.includes('default via 169.254.1.1 dev qt-f0000000-00'), 'to cloud A’s gateway node');
  // Its floating IP is served here, so that address leaves through the local gateway veth.
  assert.ok(a2.routes.includes('default via 169.254.0.1 dev qg-ba000000-00 table 100'));
  assert.deepEqual(a2.rules, ['pref 100 lookup main suppress_prefixlength 0', 'pref 200 from 10.0.1.12 lookup 100']);
  assert.ok(!compileL3(nodeA2, m).proxies.includes('203.0.113.10'), 'the gateway node answers for the address');

  // A cloud where the router has no gateway: out through the first cloud's gateway node.
  const agentC = { ...m.agents.get('ag-a')!, id: 'ag-c', host: 'hostC' };
  agentC.configurations = { ...agentC.configurations, tunneling_ip: '198.51.100.7', cloud: 'cloud-c' };
  const vmC = { ...port('0e500000-0005', 'n1', 'hostC', 'fa:16:3e:00:05:50', []) };
  vmC.fixed_ips = [{ subnet_id: 's2', ip_address: '10.0.2.50' }];
  const mc = l3Model({ ports: [vmC] });
  (mc.agents as Map<string, typeof agentC>).set('ag-c', agentC);
  const c = compileL3({ ...nodeA, host: 'hostC', underlayIp: '198.51.100.7', cloud: 'cloud-c' }, mc).routers[0]!;
  assert.ok(!c.ifaces.some((f) => f.kind === 'gateway'), 'no gateway veth in cloud C');
  assert.deepEqual(c.routes, ['default via 169.254.1.1 dev qt-f0000000-00']);
  assert.deepEqual(c.rules, []);
});

test('a floating IP of another cloud: served by that cloud’s gateway node, its fixed address routed back there', () => {
  const m = l3Model({ fips: [['f2', '203.0.113.21', '0e200000-0002', '10.0.2.20']] });
  const a = compileL3(nodeA, m);
  assert.ok(
    a.fips.some((f) => f.fipId === 'f2' && f.ip === '203.0.113.21'),
    'announced by cloud A’s gateway node',
  );
  assert.ok(a.proxies.includes('203.0.113.21'));
  assert.match(a.routers[0]!.nft, /ip daddr 203\.0\.113\.21 dnat to 10\.0\.2\.20/);
  const b = compileL3(nodeB, m).routers[0]!;
  assert.ok(!b.nft.includes('203.0.113.21'), 'not NATed on the port’s node');
  assert.deepEqual(b.rules, ['pref 100 lookup main suppress_prefixlength 0', 'pref 200 from 10.0.2.20 lookup 101']);
  assert.ok(b.routes.includes('default via 169.254.1.1 dev qt-f0000000-00 table 101'));
  assert.ok(b.routes.includes('default via 169.254.0.1 dev qg-bb000000-00'), 'the rest leaves in cloud B');
  assert.ok(!compileL3({ ...nodeA, host: 'hostA2', underlayIp: '192.0.2.3' }, m).fips.some((f) => f.fipId === 'f2'));
});
