/**
 * The pure parts of the metadata feature: compileMetadata (a proxy per DHCP-served network, the
 * identity behind each local workload address), the DHCP host route to 169.254.169.254, and
 * diffMetadata's plan.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileDhcp } from '../../../src/agent/dhcp/index.js';
import { compileMetadata } from '../../../src/agent/metadata/compile.js';
import { diffMetadata } from '../../../src/agent/metadata/diff.js';
import type { MetadataActual } from '../../../src/agent/metadata/types.js';
import { dhcpPort, network, port, subnet } from '../dhcp/fixtures.js';

const NA = network('net-a', 1001);
const NB = network('net-b', 1002);
const SA = subnet('sub-a', 'net-a', '10.0.1.0/24');
const SB = subnet('sub-b', 'net-b', '10.0.1.0/24'); // the same CIDR as net-a: another tenant
const PORTS = [
  dhcpPort('dp-a', 'net-a', 'fa:16:3e:00:00:02', [['sub-a', '10.0.1.2']], 'node1'),
  dhcpPort('dp-b', 'net-b', 'fa:16:3e:00:01:02', [['sub-b', '10.0.1.2']], 'node1'),
  port('pa', 'net-a', 'fa:16:3e:00:00:11', [['sub-a', '10.0.1.11']], 'node1', { project_id: 'ta' }),
  port('pb', 'net-b', 'fa:16:3e:00:01:11', [['sub-b', '10.0.1.11']], 'node1', { project_id: 'tb' }),
  port('remote', 'net-a', 'fa:16:3e:00:00:12', [['sub-a', '10.0.1.12']], 'node2'),
  port('nodev', 'net-a', 'fa:16:3e:00:00:13', [['sub-a', '10.0.1.13']], 'node1', { device_id: '' }),
];
const dhcp = (metadata: boolean) =>
  compileDhcp({
    host: 'node1',
    networks: [NA, NB],
    subnets: [SA, SB],
    ports: PORTS,
    underlayMtu: 1500,
    netnsPrefix: 'hnD-x-',
    metadata,
  });

test('a proxy per served network; the same address in two networks names two ports', () => {
  const d = compileMetadata({ host: 'node1', dhcp: dhcp(true), ports: PORTS });
  assert.deepEqual(d.networks, [
    { networkId: 'net-a', vni: 1001, netns: 'hnD-x-1001' },
    { networkId: 'net-b', vni: 1002, netns: 'hnD-x-1002' },
  ]);
  assert.deepEqual(d.identities.get('net-a')?.get('10.0.1.11'), { instanceId: 'vm-pa', tenantId: 'ta', portId: 'pa' });
  assert.deepEqual(d.identities.get('net-b')?.get('10.0.1.11'), { instanceId: 'vm-pb', tenantId: 'tb', portId: 'pb' });
  // Not another node's port, not a port without a device, not the DHCP port itself.
  for (const ip of ['10.0.1.12', '10.0.1.13', '10.0.1.2']) assert.equal(d.identities.get('net-a')?.has(ip), false, ip);
});

test('DHCP gives the metadata host route via its own address only when metadata runs', () => {
  const line = dhcp(true)
    .networks[0].confText.split('\n')
    .find((l) => l.includes('classless-static-route'));
  // The metadata route via the DHCP port, then the default route RFC 3442 clients need with it.
  assert.equal(
    line,
    'dhcp-option=tag:subnet-sub-a,option:classless-static-route,169.254.169.254/32,10.0.1.2,0.0.0.0/0,10.0.1.1',
  );
  assert.doesNotMatch(dhcp(false).networks[0].confText, /169\.254\.169\.254/);
});

test('diff: start where absent, adopt what matches, restart a stale one, stop the unwanted', () => {
  const desired = compileMetadata({ host: 'node1', dhcp: dhcp(true), ports: PORTS });
  const actual: MetadataActual = {
    networks: [
      { vni: 1001, netnsExists: true, addressed: true, pid: 41, proxyMatches: true },
      { vni: 1002, netnsExists: true, addressed: false, pid: 42, proxyMatches: false },
      { vni: 1003, netnsExists: false, addressed: false, pid: 43, proxyMatches: false },
    ],
  };
  const plan = diffMetadata(desired, actual);
  assert.deepEqual(
    plan.networks.map((n) => [n.vni, n.netnsMissing, n.addAddress, n.proxy]),
    [
      [1001, false, false, 'none'],
      [1002, false, true, 'restart'],
    ],
  );
  assert.deepEqual(plan.stop, [1003]);
  const fresh = diffMetadata(desired, { networks: [] });
  assert.deepEqual(
    fresh.networks.map((n) => [n.netnsMissing, n.addAddress, n.proxy]),
    [
      [true, false, 'none'],
      [true, false, 'none'],
    ],
  );
});
