/** diffDhcp: adopt when equal, reload on hosts-only change, restart on config/address change, remove stale. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileDhcp, diffDhcp } from '../../../src/agent/dhcp/index.js';
import type { DhcpActual, DhcpNetworkActual } from '../../../src/agent/dhcp/index.js';
import { dhcpPort, network, port, subnet } from './fixtures.js';

const desired = compileDhcp({
  host: 'node1',
  networks: [network('net-a', 1001)],
  subnets: [subnet('sub-a', 'net-a', '10.0.1.0/24')],
  ports: [
    dhcpPort('dp', 'net-a', 'fa:16:3e:00:00:02', [['sub-a', '10.0.1.2']], 'node1'),
    port('p1', 'net-a', 'fa:16:3e:00:00:11', [['sub-a', '10.0.1.11']], 'node1'),
  ],
  underlayMtu: 1500,
  netnsPrefix: 'hn-dhcp-',
});
const d = desired.networks[0];

const inSync: DhcpNetworkActual = {
  vni: 1001,
  netnsExists: true,
  vethNode: { master: 'hnb-1001', up: true, mtu: 1450 },
  vethNs: { mac: d.mac, up: true, mtu: 1450, addresses: [...d.addresses] },
  confText: d.confText,
  hostsText: d.hostsText,
  leasesText: null,
  pid: 4242,
  cmdlineMatches: true,
};
const actual = (n: Partial<DhcpNetworkActual>, more: DhcpNetworkActual[] = []): DhcpActual => ({
  bridges: ['hnb-1001'],
  networks: [{ ...inSync, ...n }, ...more],
});

test('everything in place: nothing to do (adopt the running dnsmasq)', () => {
  const p = diffDhcp(desired, actual({}));
  assert.deepEqual(p.remove, []);
  assert.deepEqual(p.networks[0], {
    vni: 1001,
    networkId: 'net-a',
    bridgeMissing: false,
    createNetns: false,
    createVeth: false,
    configureVeth: false,
    addAddresses: [],
    delAddresses: [],
    writeConf: false,
    writeHosts: false,
    process: 'none',
    releaseLeases: [],
  });
});

test('nothing there: create all and start', () => {
  const p = diffDhcp(desired, { bridges: ['hnb-1001'], networks: [] }).networks[0];
  assert.equal(p.createNetns && p.createVeth && p.configureVeth && p.writeConf && p.writeHosts, true);
  assert.deepEqual(p.addAddresses, ['10.0.1.2/24']);
  assert.equal(p.process, 'start');
});

test('hosts-only change is a reload; config change or address change is a restart', () => {
  assert.equal(diffDhcp(desired, actual({ hostsText: '' })).networks[0].process, 'reload');
  assert.equal(diffDhcp(desired, actual({ confText: 'old' })).networks[0].process, 'restart');
  assert.equal(diffDhcp(desired, actual({ cmdlineMatches: false })).networks[0].process, 'restart');
  const p = diffDhcp(desired, actual({ vethNs: { ...inSync.vethNs!, addresses: ['10.0.1.3/24'] } })).networks[0];
  assert.deepEqual([p.addAddresses, p.delAddresses, p.process], [['10.0.1.2/24'], ['10.0.1.3/24'], 'restart']);
  assert.equal(diffDhcp(desired, actual({ pid: null })).networks[0].process, 'start');
});

test('veth drift is repaired; a lost veth end recreates the pair', () => {
  const detached = diffDhcp(desired, actual({ vethNode: { master: null, up: true, mtu: 1450 } })).networks[0];
  assert.deepEqual([detached.createVeth, detached.configureVeth, detached.process], [false, true, 'none']);
  const lost = diffDhcp(desired, actual({ vethNs: null })).networks[0];
  assert.deepEqual([lost.createVeth, lost.configureVeth, lost.process], [true, true, 'restart']);
});

test('bridge missing is reported; stale VNIs are removed; empty desired removes all', () => {
  assert.equal(diffDhcp(desired, { ...actual({}), bridges: [] }).networks[0].bridgeMissing, true);
  const stale = { ...inSync, vni: 7 };
  assert.deepEqual(diffDhcp(desired, actual({}, [stale])).remove, [7]);
  assert.deepEqual(diffDhcp({ ...desired, networks: [] }, actual({}, [stale])).remove, [7, 1001]);
});

test('leases of MAC/IP pairs no longer in the hosts file are released, others kept', () => {
  const [host] = d.hostsText.split('\n');
  const [mac, ip] = host.split(',');
  const leases = [
    `1900000000 ${mac} ${ip} * 01:${mac}`,
    '1900000000 fa:16:3e:99:99:99 10.0.1.77 * *', // port deleted: its lease must go
    `1900000000 fa:16:3e:99:99:98 ${ip} * *`, // the same IP now belongs to another MAC
  ].join('\n');
  const p = diffDhcp(desired, actual({ leasesText: leases }));
  assert.deepEqual(p.networks[0].releaseLeases, [
    { mac: 'fa:16:3e:99:99:99', ip: '10.0.1.77' },
    { mac: 'fa:16:3e:99:99:98', ip },
  ]);
  assert.equal(p.networks[0].process, 'none');
});
