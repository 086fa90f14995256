/** Golden tests for diff.ts: desired vs actual → ordered operations, pure, no root. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileDatapath } from '../../../src/agent/datapath/compile.js';
import { diffDatapath } from '../../../src/agent/datapath/diff.js';
import type { ActualState } from '../../../src/agent/datapath/types.js';
import { agent, captured, net, port, view } from '../../../testkit/model-fixtures.js';

const node = { host: 'hostA', underlayIp: '192.0.2.1', underlayMtu: 1500 };
const P1 = 'aaaaaaaa-bbbb-cccc-dddd-000000000001';
const model = view({
  networks: [net('n1', 100)],
  agents: [agent('a1', 'hostA', '192.0.2.1'), agent('a2', 'hostB', '192.0.2.2')],
  ports: [
    port(P1, 'n1', 'hostA', 'fa:16:3e:00:00:01', ['10.0.1.1']),
    port('p2', 'n1', 'hostB', 'fa:16:3e:00:00:02', ['10.0.1.2']),
  ],
});
const desired = compileDatapath(node, model);

const empty: ActualState = { links: new Map(), bridgePorts: new Map(), fdb: [], neigh: [] };

test('diff: from nothing, in order bridge → vxlan → (tap missing: no op) → fdb/neigh', () => {
  assert.deepEqual(diffDatapath(desired, empty), [
    { op: 'bridge-add', name: 'hnb-100', mtu: 1450, mac: '02:68:00:00:64:00' },
    { op: 'link-set', name: 'hnb-100', up: true },
    { op: 'vxlan-add', name: 'hnv-100', vni: 100, local: '192.0.2.1', mtu: 1450 },
    { op: 'link-set', name: 'hnv-100', master: 'hnb-100' },
    { op: 'bport-set', name: 'hnv-100', learning: false, neighSuppress: true },
    { op: 'link-set', name: 'hnv-100', up: true },
    { op: 'fdb-add', mac: '00:00:00:00:00:00', dev: 'hnv-100', dst: '192.0.2.2' },
    { op: 'fdb-add', mac: 'fa:16:3e:00:00:02', dev: 'hnv-100', dst: '192.0.2.2' },
    { op: 'fdb-add', mac: 'fa:16:3e:00:00:02', dev: 'hnv-100', dst: null },
    { op: 'neigh-set', ip: '10.0.1.2', mac: 'fa:16:3e:00:00:02', dev: 'hnb-100' },
  ]);
});

test('diff: captured kernel adopts what matches, sweeps only stale objects of ours', async () => {
  assert.deepEqual(diffDatapath(desired, await captured()), [
    { op: 'fdb-del', mac: '00:00:00:00:00:00', dev: 'hnv-100', dst: '198.51.100.7' },
    { op: 'link-del', name: 'hnv-200' },
  ]);
});

test('diff: empty desired state tears down our devices only (entries go with them)', async () => {
  const none = compileDatapath(node, view({}));
  assert.deepEqual(diffDatapath(none, await captured()), [
    { op: 'link-del', name: 'hnv-100' },
    { op: 'link-del', name: 'hnv-200' },
    { op: 'link-del', name: 'hnb-100' },
  ]);
});

test('diff: drift is repaired (entry removed by hand, tap detached, port down)', async () => {
  const a = await captured();
  const links = new Map(a.links);
  links.set('tapaaaaaaaa-bb', { ...links.get('tapaaaaaaaa-bb')!, master: null, up: false, mtu: 1500 });
  links.delete('hnv-200');
  const drifted: ActualState = {
    ...a,
    links,
    fdb: a.fdb.filter((e) => !(e.mac === 'fa:16:3e:00:00:02' && e.dst === '192.0.2.2') && e.dst !== '198.51.100.7'),
    neigh: [],
  };
  assert.deepEqual(diffDatapath(desired, drifted), [
    { op: 'link-set', name: 'tapaaaaaaaa-bb', master: 'hnb-100', mtu: 1450, up: true },
    { op: 'fdb-add', mac: 'fa:16:3e:00:00:02', dev: 'hnv-100', dst: '192.0.2.2' },
    { op: 'neigh-set', ip: '10.0.1.2', mac: 'fa:16:3e:00:00:02', dev: 'hnb-100' },
  ]);
});

test('diff: vxlan with wrong local IP is recreated and its entries re-added', async () => {
  const a = await captured();
  const links = new Map(a.links);
  const vx = links.get('hnv-100')!;
  links.set('hnv-100', { ...vx, vxlan: { ...vx.vxlan!, local: '192.0.2.99' } });
  links.delete('hnv-200');
  const ops = diffDatapath(desired, { ...a, links, fdb: a.fdb.filter((e) => e.dst !== '198.51.100.7') });
  assert.deepEqual(
    ops.map((o) => o.op),
    ['link-del', 'vxlan-add', 'link-set', 'bport-set', 'link-set', 'fdb-add', 'fdb-add', 'fdb-add'],
  );
});

test('diff: a remote MAC moved to another VTEP is replaced, not deleted', async () => {
  const moved = compileDatapath(
    node,
    view({
      networks: [net('n1', 100)],
      agents: [agent('a1', 'hostA', '192.0.2.1'), agent('a2', 'hostB', '203.0.113.2')],
      ports: [...model.ports.values()],
    }),
  );
  const a = await captured();
  const links = new Map(a.links);
  links.delete('hnv-200');
  assert.deepEqual(diffDatapath(moved, { ...a, links }), [
    { op: 'fdb-add', mac: '00:00:00:00:00:00', dev: 'hnv-100', dst: '203.0.113.2' },
    { op: 'fdb-add', mac: 'fa:16:3e:00:00:02', dev: 'hnv-100', dst: '203.0.113.2' },
    { op: 'fdb-del', mac: '00:00:00:00:00:00', dev: 'hnv-100', dst: '192.0.2.2' },
    { op: 'fdb-del', mac: '00:00:00:00:00:00', dev: 'hnv-100', dst: '198.51.100.7' },
  ]);
});

test('diff: a tap of a deleted port is released from our bridge; foreign links untouched', async () => {
  const onlyRemote = compileDatapath(
    node,
    view({ networks: [net('n1', 100)], ports: [port('px', 'n1', 'hostA', 'fa:16:3e:00:00:09', [])] }),
  );
  const a = await captured();
  const ops = diffDatapath(onlyRemote, a);
  assert.ok(ops.some((o) => o.op === 'link-set' && o.name === 'tapaaaaaaaa-bb' && o.master === null));
  assert.ok(!ops.some((o) => 'name' in o && ['u0', 'u1', 'wl0', 'lo'].includes(o.name)));
});

test('diff: a bridge with another MAC gets its fixed one back, and its neighbour entries are written again (the change flushed them)', async () => {
  const a = await captured();
  const br = a.links.get('hnb-100')!;
  const moved: ActualState = { ...a, links: new Map([...a.links, ['hnb-100', { ...br, mac: '02:00:00:00:00:01' }]]) };
  const ops = diffDatapath(desired, moved);
  assert.deepEqual(
    ops.filter((o) => 'name' in o && o.name === 'hnb-100'),
    [{ op: 'link-set', name: 'hnb-100', mac: '02:68:00:00:64:00' }],
  );
  const neigh = ops
    .filter((o) => o.op === 'neigh-set')
    .map((o) => (o.op === 'neigh-set' ? o.ip : ''))
    .sort();
  assert.deepEqual(neigh, desired.neigh.map((n) => n.ip).sort(), 'every wanted neighbour entry is set again');
  assert.ok(
    ops.findIndex((o) => o.op === 'link-set' && o.name === 'hnb-100') < ops.findIndex((o) => o.op === 'neigh-set'),
    'after the MAC change',
  );
});
