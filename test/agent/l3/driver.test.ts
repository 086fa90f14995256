/**
 * diff.ts and driver.ts without root: the order of the operations from nothing, the exact commands
 * they run (a fake runner records them), what `read` makes of the kernel's JSON, that a failing
 * router does not stop the others, and that only what is ours is deleted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Exec, ExecResult } from '../../../src/common/exec.js';
import { compileL3, dnatPairs } from '../../../src/agent/l3/compile.js';
import { appliedActual } from '../../../src/agent/l3/applied.js';
import { diffL3 } from '../../../src/agent/l3/diff.js';
import { L3Driver } from '../../../src/agent/l3/driver.js';
import { L3Reconciler } from '../../../src/agent/l3/reconciler.js';
import { silentLogger } from '../../../src/common/log.js';
import { emptyActual } from '../../../src/agent/l3/types.js';
import { l3Model, nodeA, R1 } from './fixtures.js';

const NS = `hn-qr-${R1}`;
const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });

/** A runner answering reads from `answers` (by joined argv) and recording every call. */
function fakeExec(answers: Record<string, string>, fail: (line: string) => boolean = () => false) {
  const calls: string[] = [];
  const exec: Exec = async (cmd, args, opts) => {
    const line = [cmd, ...args].join(' ');
    calls.push(opts?.input ? `${line} <<${opts.input.split('\n')[0]}` : line);
    if (fail(line)) {
      if (opts?.allowFail) return { code: 1, stdout: '', stderr: 'Cannot find device' };
      throw new Error(`failed: ${line}`);
    }
    if (line in answers) return ok(answers[line]);
    return line.includes(' list table ') ? { code: 1, stdout: '', stderr: 'No such file' } : ok('[]');
  };
  return { exec, calls };
}

test('diff from nothing: namespace, veths, bridges, addresses, routes, NAT, node routes, proxy ARP', () => {
  const ops = diffL3(
    compileL3(nodeA, l3Model({ fips: [['f1', '203.0.113.20', '0e100000-0001', '10.0.1.10']] })),
    emptyActual(),
  );
  const veth = ['veth-add', 'outer-set', 'inner-set', 'addr-add'];
  assert.deepEqual(
    ops.map((o) => o.op),
    [
      'ns-add',
      ...veth,
      ...veth,
      ...veth,
      'addr-add',
      // The transit to cloud B's gateway node: made, addressed, its peer's entry and neighbour.
      'transit-add',
      'inner-set',
      'addr-add',
      'fdb-replace',
      'neigh-replace',
      'route-replace',
      'route-replace',
      'nft-replace',
      'host-route-replace',
      'host-route-replace',
      'proxy-add',
      'proxy-add',
      'bridge-nft',
    ],
  );
});

test('driver: read parses our objects, apply runs the commands in order', async () => {
  const links = JSON.stringify([
    {
      ifname: 'u0',
      address: '0a:00:00:00:00:01',
      mtu: 1500,
      flags: ['UP'],
      addr_info: [{ family: 'inet', local: '192.0.2.2', prefixlen: 26 }],
    },
    { ifname: 'hrpa1000000-00', address: '0a:00:00:00:00:02', mtu: 1450, flags: ['UP'], master: 'hnb-100' },
    { ifname: 'tap0e100000-00', address: '0a:00:00:00:00:03', mtu: 1450, flags: ['UP'], master: 'hnb-100' },
  ]);
  const nsAddrs = JSON.stringify([
    { ifname: 'lo', mtu: 65536, flags: ['UP'] },
    {
      ifname: 'qr-a1000000-00',
      address: 'FA:16:3E:AA:00:01',
      mtu: 1450,
      flags: ['UP'],
      addr_info: [{ family: 'inet', local: '10.0.1.1', prefixlen: 24 }],
    },
  ]);
  const { exec, calls } = fakeExec({
    'ip netns list': `${NS} (id: 3)\nhn-100\nother\n`,
    [`ip -n ${NS} -json addr show`]: nsAddrs,
    [`ip -n ${NS} -json route show table all proto static`]: JSON.stringify([
      { dst: '10.9.0.0/24', gateway: '10.0.1.5', dev: 'qr-a1000000-00' },
    ]),
    [`ip -n ${NS} -json rule show`]: JSON.stringify([
      { priority: 0, src: 'all', table: 'local' },
      { priority: 100, src: 'all', table: 'main', suppress_prefixlen: 0 },
      { priority: 200, src: '10.0.1.10', table: '100' },
      { priority: 32766, src: 'all', table: 'main' },
    ]),
    [`ip -n ${NS} -json neigh show nud permanent`]: JSON.stringify([
      { dst: '169.254.1.2', dev: 'qt-f0000000-00', lladdr: '02:AA:00:00:00:01', state: ['PERMANENT'] },
      { dst: '10.0.1.99', dev: 'qr-a1000000-00', lladdr: '02:aa:00:00:00:09', state: ['PERMANENT'] },
    ]),
    [`bridge -n ${NS} -json fdb show`]: JSON.stringify([
      { mac: '02:aa:00:00:00:01', dev: 'qt-f0000000-00', dst: '192.0.2.66', flags: ['self'], state: 'permanent' },
      { mac: '02:aa:00:00:00:01', dev: 'qt-f0000000-00', flags: ['self'], state: 'permanent' },
    ]),
    [`ip netns exec ${NS} nft list table ip hypernet_l3`]:
      'table ip hypernet_l3 {\n\tcomment "00ff"\n\tchain prerouting {\n\t\tip daddr 203.0.113.20 dnat to 10.0.1.10\n\t}\n}',
    'ip -json addr show': links,
    'ip -json route show proto static': JSON.stringify([
      { dst: '203.0.113.99', dev: 'hrgdead000-00' },
      { dst: '10.1.0.0/16', dev: 'u0' },
    ]),
    'ip -json neigh show proxy': JSON.stringify([
      { dst: '203.0.113.99', dev: 'u0' },
      { dst: '100.64.0.9', dev: 'u0' },
    ]),
  });
  const d = new L3Driver(exec, 'hn-', '192.0.2.2');
  const a = await d.read();
  assert.deepEqual([...a.namespaces.keys()], [NS]);
  assert.deepEqual(a.namespaces.get(NS)!.links.get('qr-a1000000-00'), {
    mac: 'fa:16:3e:aa:00:01',
    mtu: 1450,
    up: true,
    addrs: ['10.0.1.1/24'],
  });
  assert.deepEqual([...a.namespaces.get(NS)!.routes], ['10.9.0.0/24 via 10.0.1.5 dev qr-a1000000-00']);
  assert.equal(a.namespaces.get(NS)!.nftKey, '00ff');
  assert.deepEqual([...a.namespaces.get(NS)!.dnat], ['203.0.113.20 10.0.1.10']);
  // Only our rule priorities, the transit's neighbours and its entries with a destination.
  assert.deepEqual(
    [...a.namespaces.get(NS)!.rules],
    ['pref 100 lookup main suppress_prefixlength 0', 'pref 200 from 10.0.1.10 lookup 100'],
  );
  assert.deepEqual([...a.namespaces.get(NS)!.neigh], ['169.254.1.2 02:aa:00:00:00:01']);
  assert.deepEqual([...a.namespaces.get(NS)!.fdb], ['02:aa:00:00:00:01 192.0.2.66']);
  assert.deepEqual([...a.outers], [['hrpa1000000-00', { master: 'hnb-100', up: true }]]);
  assert.deepEqual(a.uplink, { name: 'u0', mac: '0a:00:00:00:00:01' });
  assert.deepEqual([...a.hostRoutes], ['203.0.113.99 dev hrgdead000-00']);
  assert.deepEqual([...a.proxies].sort(), ['100.64.0.9', '203.0.113.99']);

  // Router down, one interface left: the stale route, proxy (inside an external subnet) and host route
  // go; the proxy entry outside every external subnet is not ours and stays.
  const desired = compileL3(nodeA, l3Model({ up: false, interfaces: ['s1'] }));
  const ops = diffL3(desired, a);
  calls.length = 0;
  assert.deepEqual(await d.apply(ops, 'u0'), []);
  assert.ok(calls.includes(`ip -n ${NS} link set qr-a1000000-00 address fa:16:3e:aa:00:01 mtu 1450 down`));
  assert.ok(calls.includes(`ip -n ${NS} route del 10.9.0.0/24 via 10.0.1.5 dev qr-a1000000-00 proto static`));
  assert.ok(calls.includes('ip neigh del proxy 203.0.113.99 dev u0'));
  assert.ok(!calls.some((c) => c.includes('100.64.0.9')));
  assert.ok(calls.includes('ip route del 203.0.113.99 dev hrgdead000-00 proto static'));
  assert.ok(calls.some((c) => c.startsWith(`ip netns exec ${NS} nft -f - <<table ip hypernet_l3`)));
  assert.ok(
    calls.includes(
      'ip link add hrgba000000-00 mtu 1500 type veth peer name qg-ba000000-00 mtu 1500 address fa:16:3e:bb:00:0a',
    ),
  );
});

test('driver: a failing router stops its own later operations only; deletions of what is gone pass', async () => {
  const { exec, calls } = fakeExec({}, (l) => l.startsWith('ip netns add hn-qr-f0') || l.startsWith('ip link del'));
  const d = new L3Driver(exec, 'hn-', '192.0.2.2');
  const ops = [
    ...diffL3(compileL3(nodeA, l3Model()), emptyActual()),
    { op: 'veth-del' as const, outer: 'hrpgone000-00' },
  ];
  const failed = await d.apply(ops, 'u0');
  assert.equal(failed.length, 1);
  assert.match(failed[0]!, /^ns-add /);
  assert.ok(!calls.some((c) => c.includes(`-n ${NS} `)), 'nothing more inside the router namespace');
  assert.ok(calls.includes('ip route replace 203.0.113.10 dev hrgba000000-00 proto static'), 'node routes still go');
  assert.ok(calls.includes('ip link del hrpgone000-00'), 'a deletion is tried and its failure tolerated');
});

test('reconciler: a pass that is not full skips the kernel when the desired state was applied', async () => {
  const { exec, calls } = fakeExec({});
  const r = new L3Reconciler({ exec, log: silentLogger(), node: nodeA });
  const m = l3Model();
  await r.reconcile(m, { full: true, modelChanged: true });
  assert.ok(
    calls.some((c) => c.startsWith('ip netns add ')),
    'the first pass applies',
  );
  calls.length = 0;
  await r.reconcile(m, { full: false, modelChanged: true });
  assert.equal(calls.length, 0, 'nothing read or changed');
  await r.reconcile(l3Model({ up: false }), { full: false, modelChanged: true });
  assert.ok(!calls.includes('ip netns list'), 'a changed router is diffed against what was applied, not read');
  assert.ok(calls.includes(`ip -n ${NS} link set qr-a1000000-00 address fa:16:3e:aa:00:01 mtu 1450 down`));
  calls.length = 0;
  await r.reconcile(l3Model({ up: false }), { full: true, modelChanged: false });
  assert.ok(calls.includes('ip netns list'), 'a full pass always reads');
});

test('a full pass takes the kernel read made ahead, unless the reconciler applied since', async () => {
  const { exec, calls } = fakeExec({});
  const r = new L3Reconciler({ exec, log: silentLogger(), node: nodeA });
  const reads = (): number => calls.filter((c) => c === 'ip -json addr show').length;
  await r.prepareFull();
  assert.equal(reads(), 1, 'read ahead');
  await r.reconcile(l3Model(), { full: true, modelChanged: true });
  assert.equal(reads(), 1, 'the full pass reads nothing more');
  await r.prepareFull();
  await r.reconcile(l3Model({ up: false }), { full: false, modelChanged: true });
  assert.equal(reads(), 2, 'a lighter pass diffs against what was applied: it reads nothing, and applies');
  await r.reconcile(l3Model({ up: false }), { full: true, modelChanged: false });
  assert.equal(reads(), 3, 'its apply spoilt the read made ahead: the full pass reads again');
});

test('reconciler: after a failed apply, the next pass reads the kernel again', async () => {
  let failing = true;
  const { exec, calls } = fakeExec({}, (l) => failing && l.includes('link set qr-') && l.endsWith(' down'));
  const r = new L3Reconciler({ exec, log: silentLogger(), node: nodeA });
  await r.reconcile(l3Model(), { full: true, modelChanged: true });
  await assert.rejects(r.reconcile(l3Model({ up: false }), { full: false, modelChanged: true }), /l3: inner-set/);
  failing = false;
  calls.length = 0;
  await r.reconcile(l3Model({ up: false }), { full: false, modelChanged: true });
  assert.ok(calls.includes('ip netns list'), 'what failed is not trusted: the kernel is read');
});

test('a floating IP moved or dropped: its connections are flushed after the new table, both directions', async () => {
  const fipTo = (fixed: string) => l3Model({ fips: [['f1', '203.0.113.20', '0e100000-0001', fixed]] });
  const before = compileL3(nodeA, fipTo('10.0.1.10'));
  const routerOf = (d: typeof before) => d.routers.find((r) => r.netns === NS)!;
  assert.deepEqual(dnatPairs(routerOf(before).nft), ['203.0.113.20 10.0.1.10']);
  const kernel = appliedActual(before, { name: 'u0', mac: '0a:00:00:00:00:01' });
  const opsOf = (d: typeof before) => diffL3(d, kernel).filter((o) => o.op === 'nft-replace' || o.op === 'ct-flush');
  // Unchanged: nothing. Moved to another fixed address, or gone: the table, then the flush.
  assert.deepEqual(opsOf(before), []);
  const moved = opsOf(compileL3(nodeA, fipTo('10.0.1.11')));
  assert.deepEqual(
    moved.map((o) => o.op),
    ['nft-replace', 'ct-flush'],
  );
  assert.deepEqual(moved[1], { op: 'ct-flush', netns: NS, ip: '203.0.113.20' });
  assert.deepEqual(
    opsOf(compileL3(nodeA, l3Model())).map((o) => o.op),
    ['nft-replace', 'ct-flush'],
  );
  // The same pair read back from what `nft list table` prints.
  assert.deepEqual(dnatPairs('\t\tip daddr 203.0.113.20 dnat to 10.0.1.10\n'), ['203.0.113.20 10.0.1.10']);

  // conntrack exits 1 when it deleted nothing: not a failure. Anything else is.
  const flush = { op: 'ct-flush' as const, netns: NS, ip: '203.0.113.20' };
  const calls: string[] = [];
  const conntrack =
    (stderr: string): Exec =>
    async (cmd, args, opts) => {
      calls.push([cmd, ...args].join(' '));
      assert.ok(opts?.allowFail, 'the driver judges the exit itself');
      return { code: 1, stdout: '', stderr };
    };
  const nothing = 'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.';
  assert.deepEqual(await new L3Driver(conntrack(nothing), 'hn-', '192.0.2.2').apply([flush], 'u0'), []);
  assert.deepEqual(calls, [
    `ip netns exec ${NS} conntrack -D -f ipv4 --orig-dst 203.0.113.20`,
    `ip netns exec ${NS} conntrack -D -f ipv4 --reply-dst 203.0.113.20`,
  ]);
  const failed = await new L3Driver(conntrack('conntrack: command not found'), 'hn-', '192.0.2.2').apply([flush], 'u0');
  assert.equal(failed.length, 1);
  assert.match(failed[0]!, /^ct-flush .*command not found/);
});
