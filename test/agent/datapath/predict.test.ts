/** datapath/kernel-predict.ts (pure, no root): the state after entry operations, as the next diff sees it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileDatapath } from '../../../src/agent/datapath/compile.js';
import { diffDatapath } from '../../../src/agent/datapath/diff.js';
import { entryOps } from '../../../src/agent/datapath/fast-entries.js';
import { withEntryOps } from '../../../src/agent/datapath/kernel-predict.js';
import type { ActualState } from '../../../src/agent/datapath/types.js';
import { agent, captured, net, port, view } from '../../../testkit/model-fixtures.js';

const node = { host: 'hostA', underlayIp: '192.0.2.1', underlayMtu: 1500 };
const agents = [
  agent('a1', 'hostA', '192.0.2.1'),
  agent('a2', 'hostB', '192.0.2.2'),
  agent('a3', 'hostC', '192.0.2.3'),
];
const P1 = 'aaaaaaaa-bbbb-cccc-dddd-000000000001';

/** Entry ops toward `model` from `actual`, the predicted state after them, and what a diff still finds. */
function step(model: ReturnType<typeof view>, actual: ActualState) {
  const desired = compileDatapath(node, model);
  const ops = entryOps(diffDatapath(desired, actual), actual);
  const after = withEntryOps(actual, ops);
  return { ops, after, left: entryOps(diffDatapath(desired, after), after) };
}

test('predict: after the entry ops of a diff, the same diff finds no entry to change (captured kernel with stale entries)', async () => {
  const model = view({
    networks: [net('n1', 100)],
    agents,
    ports: [
      port(P1, 'n1', 'hostA', 'fa:16:3e:00:00:01', ['10.0.1.1']),
      port('p2', 'n1', 'hostB', 'fa:16:3e:00:00:02', ['10.0.1.2']),
      port('p3', 'n1', 'hostC', 'fa:16:3e:00:00:03', ['10.0.1.3']),
    ],
  });
  const actual = await captured();
  const { ops, after, left } = step(model, actual);
  assert.ok(
    ops.some((o) => o.op === 'fdb-add') && ops.some((o) => o.op === 'fdb-del' || o.op === 'neigh-del'),
    'the sample differs from the model both ways',
  );
  assert.deepEqual(left, []);
  // Links and bridge ports are never touched by entry operations.
  assert.equal(after.links, actual.links);
  assert.equal(after.bridgePorts, actual.bridgePorts);
});

test('predict: a MAC moved to another VTEP keeps one entry (replace), the flood list gets one more (append), deletes and neighbours follow', async () => {
  const before = step(
    view({
      networks: [net('n1', 100)],
      agents,
      ports: [
        port(P1, 'n1', 'hostA', 'fa:16:3e:00:00:01', ['10.0.1.1']),
        port('p2', 'n1', 'hostB', 'fa:16:3e:00:00:02', ['10.0.1.2']),
        port('p4', 'n1', 'hostB', 'fa:16:3e:00:00:04', ['10.0.1.4']),
      ],
    }),
    await captured(),
  ).after;
  const moved = view({
    networks: [net('n1', 100)],
    agents,
    ports: [
      port(P1, 'n1', 'hostA', 'fa:16:3e:00:00:01', ['10.0.1.1']),
      port('p2', 'n1', 'hostC', 'fa:16:3e:00:00:02', ['10.0.1.2']),
    ],
  });
  const { ops, after, left } = step(moved, before);
  assert.deepEqual(left, []);
  assert.ok(
    ops.some((o) => o.op === 'fdb-add' && o.mac === 'fa:16:3e:00:00:02' && o.dst === '192.0.2.3'),
    'p2 repointed',
  );
  assert.ok(
    ops.some((o) => o.op === 'neigh-del' && o.ip === '10.0.1.4'),
    'p4 neighbour removed',
  );
  const p2 = after.fdb.filter((e) => e.mac === 'fa:16:3e:00:00:02' && e.dev === 'hnv-100' && !e.master);
  assert.deepEqual(
    p2.map((e) => e.dst),
    ['192.0.2.3'],
    'one VTEP entry for the moved MAC',
  );
  const flood = after.fdb
    .filter((e) => e.mac === '00:00:00:00:00:00' && e.dev === 'hnv-100')
    .map((e) => e.dst)
    .sort();
  assert.ok(flood.includes('192.0.2.3'), 'flood entry toward hostC appended');
  assert.ok(!after.fdb.some((e) => e.mac === 'fa:16:3e:00:00:04'), 'p4 FDB entry gone');
  assert.ok(!after.neigh.some((n) => n.ip === '10.0.1.4'));
});

test('predict: refuses operations that are not entry operations', () => {
  const empty: ActualState = { links: new Map(), bridgePorts: new Map(), fdb: [], neigh: [] };
  assert.throws(() => withEntryOps(empty, [{ op: 'link-del', name: 'hnv-100' }]), /not an entry operation/);
});

test('link memory: link-set operations that succeeded are applied to the remembered links, deleted links go', async () => {
  const { withLinkOps } = await import('../../../src/agent/datapath/kernel-reader.js');
  const actual = await captured();
  const [tap] = [...actual.links.values()].filter((l) => l.name.startsWith('tap'));
  assert.ok(tap && actual.links.has('hnv-100'), 'the sample has a tap and hnv-100');
  const links = withLinkOps(actual.links, [
    { op: 'link-set', name: tap.name, master: 'hnb-7', mtu: 1400, up: false },
    { op: 'link-del', name: 'hnv-100' },
    { op: 'link-set', name: 'no-such-link', master: 'hnb-7' },
  ]);
  assert.deepEqual(links.get(tap.name), { ...tap, master: 'hnb-7', mtu: 1400, up: false });
  assert.ok(!links.has('hnv-100'));
  assert.ok(!links.has('no-such-link'), 'a link not known stays unknown');
  assert.equal(withLinkOps(links, [{ op: 'link-set', name: tap.name, master: null }]).get(tap.name)?.master, null);
  assert.equal(actual.links.get(tap.name), tap, 'the input is not changed');
});

test('predictAfter: links and entries follow the operations; a created device or bridge-port flags need a read', async () => {
  const { predictAfter } = await import('../../../src/agent/datapath/kernel-reader.js');
  const actual = await captured();
  const after = predictAfter(actual, [
    { op: 'link-set', name: 'tapaaaaaaaa-bb', master: 'hnb-100', up: true },
    { op: 'fdb-add', mac: 'fa:16:3e:00:00:09', dev: 'hnv-100', dst: '192.0.2.9' },
    { op: 'neigh-set', ip: '10.0.1.9', mac: 'fa:16:3e:00:00:09', dev: 'hnb-100' },
  ]);
  assert.ok(after);
  assert.equal(after.links.get('tapaaaaaaaa-bb')?.master, 'hnb-100');
  assert.ok(after.fdb.some((e) => e.mac === 'fa:16:3e:00:00:09' && e.dst === '192.0.2.9'));
  assert.ok(after.neigh.some((n) => n.ip === '10.0.1.9' && n.permanent));
  assert.equal(predictAfter(actual, [{ op: 'bridge-add', name: 'hnb-7', mtu: 1450, mac: '02:68:00:00:07:00' }]), null);
  assert.equal(
    predictAfter(actual, [{ op: 'bport-set', name: 'hnv-100', learning: false, neighSuppress: true }]),
    null,
  );
});
