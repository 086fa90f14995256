/**
 * The agentless WireGuard compile and diff (pure): one peer per WireGuard port bound here with
 * exactly its addresses, routes and proxy ARP, the security groups on the interface, the port MAC
 * hand-off; OpenVPN ports left to the OpenVPN servers; the diff adds before it removes and only
 * prunes proxies on our bridges. Also the client's wg-quick config.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileVpnSpecs } from '../../../src/agent/vpn/compile.js';
import { compileWga, type WgaNode } from '../../../src/agent/vpn/wg-compile.js';
import { diffWga } from '../../../src/agent/vpn/wg-diff.js';
import { ModelCache } from '../../../src/model/model-cache.js';
import type { VpnAgentConfig } from '../../../src/model/agentless.js';
import type { SecurityGroup } from '../../../src/model/types.js';
import { newPrivateKey, publicKeyOf } from '../../../src/model/wg-keypair.js';
import { compileWgClientConfig } from '../../../src/server/agentless/wg-client-config.js';
import { base, net, port, subnet } from '../../../testkit/model-fixtures.js';

const ID = (i: number) => `0000000${i}-aaaa-4000-8000-00000000000${i}`;
const key = (i: number) => publicKeyOf(Buffer.alloc(32, i).toString('base64'));
const node: WgaNode = { host: 'hs1', iface: 'hnwa0001', keyFile: '/s/wireguard/agentless.key' };
const entry = (i: number, vpn: 'wireguard' | 'openvpn' = 'wireguard') => ({
  port_id: ID(i),
  provider_ip: `198.51.100.${10 + i}`,
  mac_address: `fa:16:3e:00:00:0${i}`,
  listen_ip: '203.0.113.5',
  listen_port: vpn === 'wireguard' ? 51821 : 1194 + i,
  mtu: 1450,
  underlay_mtu: 1500,
  vpn_type: vpn,
  ...(vpn === 'wireguard' ? { client_public_key: key(i) } : {}),
});
const cfg = (ports: VpnAgentConfig['ports']): VpnAgentConfig => ({
  hyperswitch_id: 'hs1',
  ca_pem: 'ca',
  cert_pem: 'cert',
  key_pem: 'key',
  crl_pem: 'crl',
  ports,
  wireguard: { private_key: Buffer.alloc(32, 9).toString('base64'), public_key: key(9), listen_port: 51821 },
});
const sg: SecurityGroup = {
  ...base,
  id: 'sg1',
  name: 'web',
  stateful: true,
  security_group_rules: [
    {
      ...base,
      id: 'r1',
      security_group_id: 'sg1',
      direction: 'ingress',
      ethertype: 'IPv4',
      protocol: 'tcp',
      port_range_min: 22,
      port_range_max: 22,
      remote_ip_prefix: '10.1.0.0/24',
      remote_group_id: null,
      remote_address_group_id: null,
    },
  ],
} as unknown as SecurityGroup;

function model() {
  const n = { ...net('n1', 100), subnets: ['s1'] };
  const c = new ModelCache();
  c.applySnapshot({
    type: 'snapshot',
    revision: 1,
    networks: [n],
    subnets: [subnet('s1', 'n1', '10.1.0.0/24', '10.1.0.1')],
    ports: [
      port(ID(1), 'n1', 'hs1', 'FA:16:3E:00:00:01', ['10.1.0.11'], {
        security_groups: ['sg1'],
        allowed_address_pairs: [{ ip_address: '10.1.0.100', mac_address: 'fa:16:3e:00:00:01' }],
      }),
      port(ID(2), 'n1', 'other', 'fa:16:3e:00:00:02', ['10.1.0.12']),
      port(ID(3), 'n1', 'hs1', 'fa:16:3e:00:00:03', ['10.1.0.13']),
    ],
    security_groups: [sg],
    security_group_rules: [],
    agents: [],
    hypervms: [],
  });
  return c.view();
}

test('one peer per WireGuard port bound here, allowed IPs exactly its addresses', () => {
  const m = model();
  const d = compileWga(node, cfg([entry(1), entry(2), entry(3, 'openvpn')]), m, [sg])!;
  assert.deepEqual(d.portIds, [ID(1)], 'port 2 is bound elsewhere, port 3 is OpenVPN');
  assert.deepEqual(d.wg.peers, [
    { host: ID(1), publicKey: key(1), endpoint: null, allowedIps: ['10.1.0.11/32', '10.1.0.100/32'] },
  ]);
  assert.equal(d.wg.mtu, 1440);
  assert.equal(d.wg.listenPort, 51821);
  assert.equal(d.wg.publicKey, key(9));
  assert.deepEqual(d.routes, [
    { dst: '10.1.0.0/24', dev: 'hnb-100' },
    { dst: '10.1.0.100/32', dev: 'hnwa0001' },
    { dst: '10.1.0.11/32', dev: 'hnwa0001' },
  ]);
  assert.deepEqual(d.proxies, [{ ip: '10.1.0.11', dev: 'hnb-100' }]);
  assert.deepEqual(d.forwarding, ['hnwa0001', 'hnb-100']);
  // Security groups: the ingress rule towards the client, then everything else to or from it dropped.
  assert.match(
    d.nft,
    new RegExp(
      'oifname "hnwa0001" ip daddr \\{ 10\\.1\\.0\\.11/32, 10\\.1\\.0\\.100/32 \\} ' +
        'ip saddr 10\\.1\\.0\\.0/24 meta l4proto 6 th dport 22 accept',
    ),
  );
  assert.match(d.nft, /iifname "hnwa0001" drop\n {4}oifname "hnwa0001" drop/);
  assert.match(d.nft, /ether daddr fa:16:3e:00:00:01 ether daddr set \S+ meta pkttype set host/);
  assert.match(
    d.nft,
    /arp saddr ip 10\.1\.0\.11 ether saddr set fa:16:3e:00:00:01 arp saddr ether set fa:16:3e:00:00:01/,
  );
  assert.match(d.nft, /iifname "hnwa0001" ip saddr \{ 10\.1\.0\.11\/32, 10\.1\.0\.100\/32 \} ct zone set 100\n/);
  // The OpenVPN servers get only the OpenVPN port.
  assert.deepEqual(
    compileVpnSpecs(cfg([entry(1), entry(3, 'openvpn')]), m, 'hs1').map((s) => s.portId),
    [ID(3)],
  );
});

test('no WireGuard section: nothing to run (the reconciler then removes it all)', () => {
  const { wireguard: _, ...plain } = cfg([entry(3, 'openvpn')]);
  assert.equal(compileWga(node, plain, model(), [sg]), null);
  assert.equal(compileWga(node, null, model(), [sg]), null);
});

test('diff: adds before it removes, prunes only proxies on our bridges', () => {
  const d = compileWga(node, cfg([entry(1)]), model(), [sg])!;
  const ops = diffWga(d, {
    routes: [
      { dst: '10.1.0.11/32', dev: 'hnwa0001' },
      { dst: '10.1.0.99/32', dev: 'hnwa0001' },
    ],
    proxies: [
      { ip: '10.1.0.99', dev: 'hnb-100' },
      { ip: '192.0.2.7', dev: 'qg-uplink' },
    ],
    forwarding: ['hnwa0001'],
  });
  assert.deepEqual(
    ops.map((o) => o.op),
    ['forward', 'route-add', 'route-add', 'proxy-add', 'route-del', 'proxy-del'],
  );
  assert.deepEqual(ops.at(-1), { op: 'proxy-del', ip: '10.1.0.99', dev: 'hnb-100' });
  assert.deepEqual(diffWga(null, { routes: [{ dst: '10.1.0.11/32', dev: 'hnwa0001' }], proxies: [], forwarding: [] }), [
    { op: 'route-del', route: { dst: '10.1.0.11/32', dev: 'hnwa0001' } },
  ]);
});

test('client config: host addresses, hyperswitch peer with routes, keepalive, no DNS', () => {
  const priv = newPrivateKey();
  const text = compileWgClientConfig({
    portId: ID(1),
    privateKey: priv,
    addresses: ['10.1.0.11'],
    mtu: 1440,
    serverPublicKey: key(9),
    endpointIp: '203.0.113.5',
    endpointPort: 51821,
    routes: ['10.1.0.0/24'],
  });
  assert.match(text, /\[Interface\]\nPrivateKey = \S+\nAddress = 10\.1\.0\.11\/32\nMTU = 1440\n/);
  assert.match(text, /\[Peer\]\nPublicKey = \S+\nEndpoint = 203\.0\.113\.5:51821\nAllowedIPs = 10\.1\.0\.0\/24\n/);
  assert.match(text, /PersistentKeepalive = 25/);
  assert.doesNotMatch(text, /DNS/);
  assert.throws(() =>
    compileWgClientConfig({
      portId: ID(1),
      privateKey: 'not a key',
      addresses: [],
      mtu: 1440,
      serverPublicKey: key(9),
      endpointIp: '203.0.113.5',
      endpointPort: 51821,
      routes: [],
    }),
  );
});
