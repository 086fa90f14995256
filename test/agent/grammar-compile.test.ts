/**
 * The agent's compiles hold the API's grammar again (pure, no root): every protocol the API accepts
 * renders, and values an older server might have stored outside the grammar (a tunneling_ip with a
 * newline, a zone ID, a wrong-family DHCP option) are dropped, never rendered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileDatapath } from '../../src/agent/datapath/compile.js';
import { compileDhcp } from '../../src/agent/dhcp/index.js';
import { ruleText } from '../../src/agent/firewall/rules.js';
import { IP_PROTOCOLS } from '../../src/model/grammar/protocols.js';
import { agent, net, port, view } from '../../testkit/model-fixtures.js';
import { makeRule } from '../../testkit/firewall-fixtures.js';
import { dhcpPort, network, port as dhcpClient, subnet } from './dhcp/fixtures.js';

test('firewall: every protocol name the API accepts renders; refused ones are an error', () => {
  for (const [name, num] of IP_PROTOCOLS) {
    const ethertype = [41, 43, 44, 58, 59, 60].includes(num) ? 'IPv6' : 'IPv4';
    const text = ruleText(makeRule('sg', { direction: 'ingress', ethertype, protocol: name }));
    assert.ok(text, name);
    if (num !== 0) assert.match(text, new RegExp(`meta l4proto ${num === 1 && ethertype === 'IPv6' ? 58 : num} `));
  }
  assert.match(ruleText(makeRule('sg', { direction: 'ingress', protocol: '006' }))!, /meta l4proto 6 /);
  for (const protocol of ['nope', 'constructor', '256', 'ipv6-icmp']) {
    const rule = makeRule('sg', { direction: 'ingress', ethertype: 'IPv4', protocol });
    assert.throws(() => ruleText(rule), /protocol/, protocol);
  }
  const zoned = makeRule('sg', { direction: 'ingress', ethertype: 'IPv6', remote_ip_prefix: 'fe80::%eth0/64' });
  assert.equal(ruleText(zoned), null);
});

test('datapath: a tunneling_ip or address outside the grammar never reaches bridge/ip batch lines', () => {
  const node = { host: 'hostA', underlayIp: '192.0.2.1', underlayMtu: 1500 };
  const d = compileDatapath(
    node,
    view({
      networks: [net('n1', 100)],
      agents: [
        agent('a1', 'hostA', '192.0.2.1'),
        agent('a2', 'hostB', '192.0.2.2\nfdb del 00:00:00:00:00:00 dev hnv-100'),
        agent('a3', 'hostC', '198.51.100.3'),
      ],
      ports: [
        port('p1', 'n1', 'hostA', 'fa:16:3e:00:00:01', ['10.0.1.1']),
        port('p2', 'n1', 'hostB', 'fa:16:3e:00:00:02', ['10.0.1.2']),
        port('p3', 'n1', 'hostC', 'fa:16:3e:00:00:03', ['10.0.1.3', 'fe80::3%eth0'], {
          allowed_address_pairs: [{ ip_address: '10.0.1.30', mac_address: 'fa:16:3e:00:00:33 x' }],
        }),
      ],
    }),
  );
  assert.deepEqual(
    d.fdb.map((f) => f.dst),
    ['198.51.100.3', '198.51.100.3', null],
    'only hostC is a VTEP, only its valid MAC has an entry',
  );
  assert.deepEqual(
    d.neigh.map((n) => n.ip),
    ['10.0.1.3'],
  );
});

test('dhcp: DNS servers, host routes and gateway of the wrong family are skipped and reported', () => {
  const s = subnet('sub-a', 'net-a', '10.0.1.0/24', {
    gateway_ip: 'fd00::1',
    dns_nameservers: ['10.0.0.53', 'fd00::53', 'fe80::1%eth0'],
    host_routes: [
      { destination: '10.9.0.0/16', nexthop: '10.0.1.1' },
      { destination: 'fd00:9::/64', nexthop: 'fd00::1' },
    ],
  });
  const d = compileDhcp({
    host: 'node1',
    networks: [network('net-a', 1001)],
    subnets: [s],
    ports: [
      dhcpPort('dp-1', 'net-a', 'fa:16:3e:00:00:02', [['sub-a', '10.0.1.2']], 'node1'),
      dhcpClient('p1', 'net-a', 'fa:16:3e:00:00:11', [['sub-a', '10.0.1.11']], 'node1'),
    ],
    underlayMtu: 1500,
    netnsPrefix: 'hn-dhcp-',
  });
  const conf = d.networks[0]!.confText;
  assert.match(conf, /option:dns-server,10\.0\.0\.53\n/);
  assert.match(conf, /option:router\n/);
  assert.match(conf, /classless-static-route,10\.9\.0\.0\/16,10\.0\.1\.1\n/);
  assert.doesNotMatch(conf, /fd00|fe80|%/);
  assert.equal(d.problems.length, 4, d.problems.join('; '));
});
