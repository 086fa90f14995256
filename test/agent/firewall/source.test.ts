/**
 * Who takes part in source filtering (source.ts, no root): the owner of a pair of hosts is one of
 * them and the same from both ends; ports of hosts without the capability, in a migration, on a
 * network with a stateless port or sharing a MAC stay two-sided; and the compiled sets put owned
 * peers in the peer maps and the others in peer_macs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFirewall } from '../../../src/agent/firewall/compile.js';
import { firewallInput } from '../../../src/agent/firewall/reconciler.js';
import { SOURCE_FILTERING, ownerOf, sourceInput } from '../../../src/agent/firewall/source.js';
import type { Port, SecurityGroup } from '../../../src/model/types.js';
import { defaultGroup, makeGroup, makePort } from '../../../testkit/firewall-fixtures.js';
import { agent, net, view } from '../../../testkit/model-fixtures.js';

const groups: SecurityGroup[] = [defaultGroup('default'), { ...makeGroup('loose', []), stateful: false }];
const p = (n: number, host: string, extra: Partial<Port> = {}) =>
  makePort(
    {
      id: `0000000${n}-0000-4000-8000-00000000000${n}`,
      mac_address: `fa:16:3e:00:00:0${n}`,
      security_groups: ['default'],
      'binding:host_id': host,
      ...extra,
    },
    [`10.0.0.${10 + n}`],
  );
const model = (ports: Port[], capable = ['h1', 'h2', 'h3']) =>
  view({
    networks: [net('net1', 1001), net('net2', 1002)],
    ports,
    agents: ['h1', 'h2', 'h3'].map((h, i) => ({
      ...agent(`a${i}`, h, `192.0.2.${i + 1}`),
      configurations: {
        tunneling_ip: `192.0.2.${i + 1}`,
        cloud: 'c',
        capabilities: capable.includes(h) ? [SOURCE_FILTERING] : [],
      },
    })),
  });

test('the owner of a pair is one of its hosts, the same from either end', () => {
  const hosts = Array.from({ length: 20 }, (_, i) => `host-${i}`);
  let first = 0;
  for (const a of hosts)
    for (const b of hosts) {
      if (a === b) continue;
      const o = ownerOf(a, b);
      assert.ok(o === a || o === b);
      assert.equal(ownerOf(b, a), o);
      if (o === (a < b ? a : b)) first++;
    }
  // Spread over the pairs, not always the first name.
  assert.ok(first > 100 && first < 280, String(first));
});

test('ports that stay two-sided', () => {
  const ports = [
    p(1, 'h1'),
    p(2, 'h2'),
    p(3, 'h3'), // host without the capability
    p(4, 'h2', {
      'binding:inactive': [
        { host: 'h3', status: 'INACTIVE', vif_type: 'tap', vif_details: {}, vnic_type: 'normal', profile: {} },
      ],
    }),
    p(5, 'h2', { port_security_enabled: false }),
    p(6, 'h2', { network_id: 'net2' }), // no port of h1 on net2
  ];
  const s = sourceInput('h1', model(ports, ['h1', 'h2']), groups);
  assert.deepEqual([...s.local], [ports[0]!.id]);
  assert.deepEqual(
    s.peers.map((x) => x.port.id),
    [ports[1]!.id],
  );
  assert.equal(s.peers[0]!.owned, ownerOf('h1', 'h2') === 'h1');
  // Without the capability on this host, nothing takes part.
  assert.deepEqual(sourceInput('h3', model(ports, ['h1', 'h2']), groups), { local: new Set(), peers: [] });
});

test('a stateless port or a shared MAC keeps the network two-sided', () => {
  const stateless = sourceInput(
    'h1',
    model([p(1, 'h1'), p(2, 'h2'), p(3, 'h2', { security_groups: ['loose'] })]),
    groups,
  );
  assert.deepEqual(stateless, { local: new Set(), peers: [] });
  const shared = [
    p(1, 'h1'),
    p(2, 'h2', { allowed_address_pairs: [{ ip_address: '10.0.0.99', mac_address: 'fa:16:3e:00:00:01' }] }),
    p(3, 'h2'),
  ];
  const s = sourceInput('h1', model(shared), groups);
  assert.deepEqual([...s.local], []);
  assert.deepEqual(
    s.peers.map((x) => x.port.id),
    [shared[2]!.id],
  );
});

test('owned peers get profile chains, the others are trusted by MAC', () => {
  const other = ['h2', 'h3'].find((h) => ownerOf('h1', h) === 'h1');
  const trusted = ['h2', 'h3'].find((h) => ownerOf('h1', h) !== 'h1');
  const ports = [p(1, 'h1'), p(2, 'h2'), p(3, 'h3')];
  const c = compileFirewall(firewallInput('h1', model(ports), 'br-netfilter', groups, true));
  const peerOf = (h: string | undefined) => ports.find((x) => x['binding:host_id'] === h);
  const owned = peerOf(other);
  const trust = peerOf(trusted);
  assert.deepEqual(
    c.sets.get('peer_ingress')!.elements.map((e) => e.split(' : ')[0]),
    owned ? [`"hnv-1001" . ${owned.mac_address}`] : [],
  );
  assert.deepEqual(c.sets.get('peer_macs')!.elements, trust ? [`"hnb-1001" . ${trust.mac_address}`] : []);
  assert.deepEqual(c.sets.get('local_macs')!.elements, ['"hnb-1001" . fa:16:3e:00:00:01']);
  // Off: the two-sided ruleset, without any of it.
  const off = compileFirewall(firewallInput('h1', model(ports), 'br-netfilter', groups, false));
  assert.equal(off.sets.has('peer_macs'), false);
  assert.ok(!off.baseKey.includes('peer'));
});

test('bridge-ct mode owns its pairs but skips nothing (no untracking sets or rules)', () => {
  const ports = [p(1, 'h1'), p(2, 'h2'), p(3, 'h3')];
  const c = compileFirewall(firewallInput('h1', model(ports), 'bridge-ct', groups, true));
  const owned = ports.filter((x) => x['binding:host_id'] !== 'h1' && ownerOf('h1', x['binding:host_id']) === 'h1');
  assert.equal(c.sets.get('peer_ingress')!.elements.length, owned.length);
  assert.equal(c.sets.has('peer_macs'), false);
  assert.ok(!c.baseKey.includes('notrack'));
  assert.ok([...c.sets.values()].every((s) => s.family === 'bridge'));
});
