/** Unit tests of the dashboard's pure parts: watch-model updates, NDJSON splitting, topology, search. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Model } from '../../src/ui/web/model.js';
import { LineSplitter } from '../../src/ui/web/ndjson.js';
import { topologyElements } from '../../src/ui/web/topology.js';
import { matchRows } from '../../src/ui/web/tables.js';
import type { Snapshot } from '../../src/model/watch.js';
import { WATCHED_KINDS } from '../../src/model/types.js';
import { agent, network, port, subnet } from '../ctl/fixtures.js';

function snapshot(): Snapshot {
  return {
    type: 'snapshot',
    revision: 10,
    networks: [network('n1', 'blue', ['s1'])],
    subnets: [subnet('s1', 'n1', '10.0.1.0/24')],
    ports: [port('p1', 'n1', 'hs-a', 'DOWN', '10.0.1.5')],
    security_groups: [],
    security_group_rules: [],
    agents: [agent('hs-a', 'cloud-a', true)],
  };
}

test('model: snapshot, then events in revision order; stale events ignored', () => {
  const m = new Model();
  assert.deepEqual(m.apply(snapshot()), [...WATCHED_KINDS], 'a snapshot changes every watched kind');
  assert.equal(m.revision, 10);
  assert.equal(m.get('port', 'p1')?.status, 'DOWN');
  assert.deepEqual(
    m.apply({
      type: 'event',
      revision: 11,
      kind: 'port',
      op: 'update',
      id: 'p1',
      object: port('p1', 'n1', 'hs-a', 'ACTIVE'),
    }),
    ['port'],
  );
  assert.equal(m.get('port', 'p1')?.status, 'ACTIVE');
  assert.deepEqual(
    m.apply({
      type: 'event',
      revision: 11,
      kind: 'port',
      op: 'update',
      id: 'p1',
      object: port('p1', 'n1', 'hs-a', 'DOWN'),
    }),
    [],
  );
  assert.equal(m.get('port', 'p1')?.status, 'ACTIVE');
  m.apply({ type: 'event', revision: 12, kind: 'network', op: 'delete', id: 'n1', object: network('n1', 'blue') });
  assert.equal(m.list('network').length, 0);
  assert.deepEqual(m.apply({ type: 'heartbeat', revision: 12 }), []);
  // polled agents give the fresher alive flag; a later agent event wins again
  m.setAgents([agent('hs-a', 'cloud-a', false)]);
  assert.equal(m.get('agent', 'agent-hs-a')?.alive, false);
  m.apply({
    type: 'event',
    revision: 13,
    kind: 'agent',
    op: 'update',
    id: 'agent-hs-a',
    object: agent('hs-a', 'cloud-a', true),
  });
  assert.equal(m.get('agent', 'agent-hs-a')?.alive, true);
  m.apply({
    type: 'event',
    revision: 14,
    kind: 'agent',
    op: 'delete',
    id: 'agent-hs-a',
    object: agent('hs-a', 'cloud-a', true),
  });
  m.setAgents([agent('hs-a', 'cloud-a', false)]); // a poll answered before the delete arrived
  assert.equal(m.list('agent').length, 0, 'a deleted agent does not come back from a stale poll');
});

test('ndjson: lines split across chunks', () => {
  const s = new LineSplitter();
  assert.deepEqual(s.push('{"a":1}\n{"b"'), ['{"a":1}']);
  assert.deepEqual(s.push(':2}\n\n'), ['{"b":2}']);
  assert.deepEqual(s.push('{"c":3}'), []);
  assert.deepEqual(s.push('\n'), ['{"c":3}']);
});

test('topology: clouds contain agents contain ports; a network across clouds is ONE node', () => {
  const els = topologyElements({
    agents: [agent('hs-a', 'cloud-a', true), agent('hs-b', 'cloud-b', false)],
    networks: [network('n1', 'blue', ['s1'])],
    subnets: [subnet('s1', 'n1', '10.0.1.0/24')],
    ports: [
      port('p1', 'n1', 'hs-a', 'ACTIVE', '10.0.1.5'),
      port('p2', 'n1', 'hs-b', 'DOWN', '10.0.1.6'),
      port('p3', 'n1', '', 'DOWN', '10.0.1.7'),
    ],
  });
  const byId = new Map(els.map((e) => [e.data.id, e.data]));
  assert.equal(byId.get('cloud:cloud-a')?.kind, 'cloud');
  assert.equal(byId.get('agent:hs-a')?.parent, 'cloud:cloud-a');
  assert.equal(byId.get('agent:hs-b')?.alive, 'down');
  assert.equal(byId.get('port:p1')?.parent, 'agent:hs-a');
  assert.equal(byId.get('port:p2')?.parent, 'agent:hs-b');
  assert.equal(byId.get('port:p3')?.parent, undefined, 'unbound port outside every cloud');
  assert.equal(byId.get('port:p1')?.label, '10.0.1.5');
  assert.equal(byId.get('port:p1')?.status, 'ACTIVE');
  const nets = els.filter((e) => e.data.kind === 'network');
  assert.equal(nets.length, 1);
  assert.equal(nets[0].data.parent, undefined, 'the network is outside the clouds');
  assert.equal(nets[0].data.label, 'blue\n10.0.1.0/24');
  const edges = els.filter((e) => e.group === 'edges');
  assert.deepEqual(
    edges.map((e) => [e.data.source, e.data.target]),
    [
      ['port:p1', 'net:n1'],
      ['port:p2', 'net:n1'],
      ['port:p3', 'net:n1'],
    ],
  );
});

test('table search: every word must match some cell', () => {
  const rows = [
    ['p1', 'web', 'ACTIVE'],
    ['p2', 'db', 'DOWN'],
  ];
  assert.deepEqual(matchRows(rows, ''), rows);
  assert.deepEqual(matchRows(rows, 'down'), [rows[1]]);
  assert.deepEqual(matchRows(rows, 'web active'), [rows[0]]);
  assert.deepEqual(matchRows(rows, 'web down'), []);
});

test('topology: a hyperswitch agent is labelled as one; its agentless ports sit in it, marked', () => {
  const hs = {
    id: 'hsv-1',
    flavor: '1G',
    device_id: 'vm-9',
    tenant_id: 't1',
    project_id: 't1',
    instance_id: 'i-1',
    instance_type: 'lab.1G',
    private_ip: '203.0.113.1',
    mgnt_ip: '203.0.113.1',
    data_ip: '203.0.113.2',
    vms_ip_0: '203.0.113.65',
    vms_ip_1: null,
    vms_ip_2: null,
    status: 'running',
    cloud: 'agentless',
  } as const;
  const al = {
    id: 'eni-1',
    port_id: 'p1',
    flavor: '1G',
    device_id: 'vm-9',
    index: 0,
    user_data: '',
    project_id: 't1',
    tenant_id: 't1',
    private_ip: '203.0.113.70',
    hyperswitch_id: 'hsv-1',
    cloud: 'agentless',
    vpn_type: 'openvpn',
  } as const;
  const els = topologyElements({
    agents: [agent('hsv-1', 'agentless', true), agent('hs-a', 'cloud-a', true)],
    networks: [network('n1', 'blue')],
    subnets: [],
    ports: [port('p1', 'n1', 'hsv-1', 'ACTIVE', '10.0.1.5'), port('p2', 'n1', 'hs-a', 'ACTIVE', '10.0.1.6')],
    hyperswitches: [hs],
    agentlessPorts: [al],
  });
  const byId = new Map(els.map((e) => [e.data.id, e.data]));
  assert.equal(byId.get('agent:hsv-1')?.role, 'hyperswitch');
  assert.match(String(byId.get('agent:hsv-1')?.label), /^hyperswitch hsv-1\nvm vm-9\n/);
  assert.equal(byId.get('agent:hs-a')?.role, undefined);
  assert.equal(byId.get('port:p1')?.parent, 'agent:hsv-1');
  assert.equal(byId.get('port:p1')?.agentless, 'eni-1');
  assert.equal(byId.get('port:p1')?.label, '10.0.1.5\n203.0.113.70 (VPN)');
  assert.equal(byId.get('port:p2')?.agentless, undefined);
});
