/**
 * The encrypted overlay's pure parts: which pairs are encrypted under each policy (the pair rule:
 * encrypted if any network the two share asks), inner addresses, the tunnel destinations the
 * datapath gets (an encrypted pair without a usable key is cut, never plaintext), the WireGuard
 * desired state and its guard table, and the DHCP MTU of networks crossing encrypted pairs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileWg, tunnelDestinations } from '../../../src/agent/crypt/compile.js';
import { compileDatapath } from '../../../src/agent/datapath/compile.js';
import {
  encryptionPlan,
  innerAddresses,
  isWgKey,
  networkPolicy,
  overlayMtu,
  policyEncrypts,
} from '../../../src/model/encryption.js';
import type { Agent, Network } from '../../../src/model/types.js';
import { agent, net, port, view } from '../../../testkit/model-fixtures.js';

const KEYS = {
  a1: 'HPu4agnfCrLt5tkdILy/YQkvTc8yxOt8FintexJkjiE=',
  a2: 'nSlFaIxqURc+SWvGIOgRRI0ODpxAS4/NTkpEOznGJDw=',
  b: 'qzgTXeKQ8PKQPoFSFsr4ouby44vwTvNQb7v3eGCT/ig=',
};
const node = { host: 'a1', underlayIp: '192.0.2.1', underlayMtu: 1500, iface: 'hnwg0', listenPort: 51820 };

function ag(host: keyof typeof KEYS | 'nokey', ip: string, cloud: string, extra: Partial<Agent> = {}): Agent {
  const a = agent(`id-${host}`, host, ip);
  return {
    ...a,
    created_at: `2026-01-01T00:00:0${ip.slice(-1)}Z`,
    configurations: { ...a.configurations, cloud },
    ...(host !== 'nokey' ? { 'hypernet:wireguard_public_key': KEYS[host] } : {}),
    ...extra,
  };
}
const withPolicy = (n: Network, p: Network['hypernet:encryption_effective']): Network => ({
  ...n,
  'hypernet:encryption_effective': p,
});
const agents = [ag('a1', '192.0.2.1', 'cloud-a'), ag('a2', '192.0.2.2', 'cloud-a'), ag('b', '192.0.2.3', 'cloud-b')];
const ports = (netId: string, hosts: string[]) =>
  hosts.map((h, i) => port(`${netId}-${h}`, netId, h, `fa:16:3e:00:0${i}:${netId.slice(-1)}0`, [`10.0.${i}.1`]));

test('policy: cross-cloud encrypts pairs of different (or unknown) clouds, all every pair, none no pair', () => {
  assert.equal(policyEncrypts('cross-cloud', 'a', 'a'), false);
  assert.equal(policyEncrypts('cross-cloud', 'a', 'b'), true);
  assert.equal(policyEncrypts('cross-cloud', '', ''), true);
  assert.equal(policyEncrypts('all', 'a', 'a'), true);
  assert.equal(policyEncrypts('none', 'a', 'b'), false);
  // The presented effective policy wins; an older server's network (no attribute) gets the default.
  assert.equal(networkPolicy(net('n', 1)), 'cross-cloud');
  assert.equal(networkPolicy({ ...net('n', 1), 'hypernet:encryption': 'all' }), 'all');
  assert.equal(networkPolicy(withPolicy({ ...net('n', 1), 'hypernet:encryption': null }, 'none')), 'none');
});

test('pair rule: a pair is encrypted when any network the two share asks for it', () => {
  const model = view({
    networks: [withPolicy(net('n1', 1), 'none'), withPolicy(net('n2', 2), 'all'), withPolicy(net('n3', 3), 'none')],
    agents,
    ports: [...ports('n1', ['a1', 'a2', 'b']), ...ports('n2', ['a1', 'a2']), ...ports('n3', ['a2', 'b'])],
  });
  const plan = encryptionPlan(model);
  assert.equal(plan.encrypted('a1', 'a2'), true, 'n2 (all) forces a1–a2 for n1 too');
  assert.equal(plan.encrypted('a2', 'a1'), true);
  assert.equal(plan.encrypted('a1', 'b'), false);
  assert.equal(plan.encrypted('a2', 'b'), false);
  // n1 (none) shares the encrypted a1–a2 pair: its workloads need the smaller MTU too.
  assert.equal(plan.crossesEncryption('n1'), true);
  assert.equal(plan.crossesEncryption('n3'), false);
  assert.equal(overlayMtu(1500, '192.0.2.1', true), 1390);
  assert.equal(overlayMtu(1500, '2001:db8::1', true), 1370);
  assert.equal(overlayMtu(1500, '192.0.2.1', false), 1450);
});

test('inner addresses: one per keyed agent, stable for older agents when a colliding one joins', () => {
  const inner = innerAddresses(agents);
  assert.equal(inner.size, 3);
  for (const ip of inner.values()) assert.match(ip, /^100\.127\.\d+\.\d+$/);
  assert.equal(new Set(inner.values()).size, 3);
  // A newcomer with the same id (hash) as a1 takes the next slot; a1 keeps its address.
  const twin = { ...ag('a2', '192.0.2.9', 'cloud-z'), id: 'id-a1', host: 'twin', created_at: '2027-01-01T00:00:00Z' };
  const more = innerAddresses([...agents, twin]);
  assert.equal(more.get('a1'), inner.get('a1'));
  assert.notEqual(more.get('twin'), inner.get('a1'));
  assert.equal(innerAddresses([ag('nokey', '192.0.2.5', 'x')]).size, 0);
});

test('tunnel destinations: encrypted peers by inner address, plaintext by underlay, no key → cut', () => {
  const model = view({
    networks: [net('n1', 100)],
    agents: [...agents, ag('nokey', '198.51.100.7', 'cloud-c')],
    ports: ports('n1', ['a1', 'a2', 'b', 'nokey']),
  });
  const inner = innerAddresses(model.agents.values());
  const dst = tunnelDestinations(node, model, true);
  assert.equal(dst.get('a2'), '192.0.2.2');
  assert.equal(dst.get('b'), inner.get('b'));
  assert.equal(dst.has('nokey'), false, 'a pair that must be encrypted but has no key is cut');
  // This node without the encrypted overlay: every pair that must be encrypted is cut.
  const off = tunnelDestinations(node, model, false);
  assert.deepEqual([...off.keys()].sort(), ['a1', 'a2']);
  // The datapath's FDB follows: b's MACs go to its inner address.
  const d = compileDatapath(node, model, dst);
  assert.ok(d.fdb.some((e) => e.dst === inner.get('b')));
  assert.ok(!d.fdb.some((e) => e.dst === '192.0.2.3' || e.dst === '198.51.100.7'));
});

test('a disabled agent is revoked: no peer, no tunnel', () => {
  const model = view({
    networks: [net('n1', 100)],
    agents: [agents[0], agents[1], ag('b', '192.0.2.3', 'cloud-b', { admin_state_up: false })],
    ports: ports('n1', ['a1', 'a2', 'b']),
  });
  assert.equal(tunnelDestinations(node, model, true).has('b'), false);
  const keys = { privateKeyFile: '/k', publicKey: KEYS.a1 };
  assert.deepEqual(compileWg(node, model, keys).peers, []);
});

test('compileWg: peering follows the clouds and policies, not where the ports are', () => {
  const keys = { privateKeyFile: '/k', publicKey: KEYS.a1 };
  // b has no port on n1 (its workload left): the pair is plaintext now, but stays a WireGuard peer.
  const left = view({ networks: [net('n1', 100)], agents, ports: ports('n1', ['a1', 'a2']) });
  const d = compileWg(node, left, keys);
  assert.equal(tunnelDestinations(node, left, true).get('b'), '192.0.2.3');
  assert.deepEqual(
    d.peers.map((p) => p.host),
    ['b'],
  );
  assert.deepEqual(d.plainPeers, ['192.0.2.2', '192.0.2.3']);
  // When the workload comes back, only the guard and the destination change: the peer is the same.
  const back = view({ networks: [net('n1', 100)], agents, ports: ports('n1', ['a1', 'a2', 'b']) });
  const e = compileWg(node, back, keys);
  assert.deepEqual(e.peers, d.peers);
  assert.deepEqual(e.plainPeers, ['192.0.2.2']);
  // No network asks for encryption: no peers at all.
  const none = view({ networks: [withPolicy(net('n1', 100), 'none')], agents, ports: ports('n1', ['a1', 'b']) });
  assert.deepEqual(compileWg(node, none, keys).peers, []);
});

test('compileWg: peers with endpoint and allowed addresses, the plaintext peers in the guard', () => {
  const model = view({ networks: [net('n1', 100)], agents, ports: ports('n1', ['a1', 'a2', 'b']) });
  const inner = innerAddresses(agents);
  const d = compileWg(node, model, { privateKeyFile: '/state/wireguard/private.key', publicKey: KEYS.a1 });
  assert.equal(d.mtu, 1440);
  assert.equal(d.address, `${inner.get('a1')}/16`);
  assert.deepEqual(d.peers, [
    { host: 'b', publicKey: KEYS.b, endpoint: '192.0.2.3:51820', allowedIps: [`${inner.get('b')}/32`, '192.0.2.3/32'] },
  ]);
  assert.deepEqual(d.plainPeers, ['192.0.2.2']);
  assert.equal(
    d.nft,
    [
      'table inet hypernet_wg {',
      '  set plain4 {',
      '    type ipv4_addr',
      '    elements = { 192.0.2.2 }',
      '  }',
      '  set plain6 {',
      '    type ipv6_addr',
      '  }',
      '  chain input {',
      '    type filter hook input priority -10; policy accept;',
      '    udp dport 4789 iifname "hnwg0" accept',
      '    udp dport 4789 ip saddr @plain4 accept',
      '    udp dport 4789 ip6 saddr @plain6 accept',
      '    udp dport 4789 counter drop',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  assert.throws(() =>
    compileWg({ ...node, iface: 'wg0; rm -rf /' }, model, { privateKeyFile: '/k', publicKey: KEYS.a1 }),
  );
});

test('WireGuard key grammar: base64 of exactly 32 bytes', () => {
  for (const k of Object.values(KEYS)) assert.ok(isWgKey(k));
  assert.ok(!isWgKey('HPu4agnfCrLt5tkdILy/YQkvTc8yxOt8FintexJkjiB='), 'non-zero padding bits');
  assert.ok(!isWgKey(`${KEYS.a1}\n`));
  assert.ok(!isWgKey('short='));
  assert.ok(!isWgKey(42));
});
