/**
 * The datapath driver against the real kernel, as root, in a namespace of this run: converge to a
 * desired state, read back (diff empty), repeat (no-op), repair drift through the reconcile loop,
 * adopt on restart without touching what matches, sweep stale objects, tear down. Every change goes
 * through the agent's long-lived `ip`/`bridge` batch children (common/batch-sessions.ts), as in the
 * agent: no change starts a program of its own (counted).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compileDatapath } from '../../../src/agent/datapath/compile.js';
import { applyOps } from '../../../src/agent/datapath/driver.js';
import { converge, DatapathReconciler } from '../../../src/agent/datapath/reconciler.js';
import { diffDatapath, ownedFdb } from '../../../src/agent/datapath/diff.js';
import { readKernel } from '../../../src/agent/datapath/kernel-parse.js';
import { KernelReader } from '../../../src/agent/datapath/kernel-reader.js';
import { Reconciler } from '../../../src/agent/loop/reconciler.js';
import { realClock } from '../../../src/common/clock.js';
import { BatchSessions } from '../../../src/common/batch-sessions.js';
import type { Exec } from '../../../src/common/exec.js';
import { silentLogger } from '../../../src/common/log.js';
import { agent, net, port, view } from '../../../testkit/model-fixtures.js';
import { addNetns, eventually, isRoot, removeRun, runPrefix, sh, sweepStale } from '../netns.js';
import { needsRoot } from '../../../testkit/preconditions.js';

const prefix = runPrefix('d');
const node = { host: 'hostA', underlayIp: '192.0.2.1', underlayMtu: 1500 };
const P1 = 'aaaaaaaa-bbbb-cccc-dddd-000000000001';
const model = view({
  networks: [net('n1', 100), net('n2', 200)],
  agents: [agent('a1', 'hostA', '192.0.2.1'), agent('a2', 'hostB', '192.0.2.2'), agent('a3', 'hostC', '198.51.100.3')],
  ports: [
    port(P1, 'n1', 'hostA', 'fa:16:3e:00:00:01', ['10.0.1.1']),
    port('p2', 'n1', 'hostB', 'fa:16:3e:00:00:02', ['10.0.1.2']),
    port('p3', 'n1', 'hostC', 'fa:16:3e:00:00:03', ['10.0.1.3']),
    port('p4', 'n2', 'hostA', 'fa:16:3e:00:00:04', ['10.0.2.4']), // its tap never appears
  ],
});
const desired = compileDatapath(node, model);

async function ifindexes(exec: Exec): Promise<Map<string, number>> {
  const r = await exec('ip', ['-json', 'link', 'show']);
  return new Map((JSON.parse(r.stdout) as { ifname: string; ifindex: number }[]).map((l) => [l.ifname, l.ifindex]));
}

describe('datapath driver (root, namespaces)', { skip: needsRoot() }, () => {
  let exec: Exec;
  let sessions: BatchSessions;
  /** Change batches that started a program of their own (none should). */
  let batchPrograms = 0;

  before(async () => {
    await sweepStale();
    const raw = await addNetns(`${prefix}node`);
    const counted: Exec = (cmd, args, opts) => {
      if (args.includes('-batch') && !args.includes('-json')) batchPrograms++;
      return raw(cmd, args, opts);
    };
    sessions = new BatchSessions(counted, ['ip', 'netns', 'exec', `${prefix}node`]);
    exec = sessions.exec;
    await sh(exec, [
      'ip link add u0 type veth peer name u1',
      'ip addr add 192.0.2.1/24 dev u0',
      'ip link set u0 up',
      'ip link set u1 up',
      'ip link add tapaaaaaaaa-bb type veth peer name wl0',
    ]);
  });
  after(async () => {
    sessions?.close();
    await removeRun(prefix);
  });

  test('converge builds the desired datapath; read back, the diff is empty', async () => {
    const r = await converge(exec, desired);
    assert.deepEqual(r.result.failed, []);
    assert.ok(r.ops.length > 10);
    assert.deepEqual(diffDatapath(desired, r.after), []);
    const k = r.after;
    assert.deepEqual(k.links.get('hnv-100')?.vxlan, { vni: 100, local: '192.0.2.1', port: 4789, learning: false });
    assert.equal(k.links.get('hnv-100')?.master, 'hnb-100');
    assert.deepEqual(k.bridgePorts.get('hnv-100'), {
      name: 'hnv-100',
      master: 'hnb-100',
      learning: false,
      neighSuppress: true,
    });
    // Taps are read without details (`ip -json link show`): kind null; bridges and VXLAN devices carry theirs.
    const tapMac = k.links.get('tapaaaaaaaa-bb')?.mac ?? null;
    assert.deepEqual(k.links.get('tapaaaaaaaa-bb'), {
      name: 'tapaaaaaaaa-bb',
      kind: null,
      mtu: 1450,
      mac: tapMac,
      up: true,
      master: 'hnb-100',
      vxlan: null,
    });
    // The bridge keeps its own fixed MAC, whatever its ports' MACs (a change would flush its neighbour entries).
    assert.equal(k.links.get('hnb-100')?.mac, '02:68:00:00:64:00');
    assert.equal(k.links.get('hnb-100')?.kind, 'bridge');
    const flood = k.fdb
      .filter((e) => e.dev === 'hnv-100' && e.mac === '00:00:00:00:00:00')
      .map((e) => e.dst)
      .sort();
    assert.deepEqual(flood, ['192.0.2.2', '198.51.100.3']);
    assert.ok(
      k.neigh.some((n) => n.dev === 'hnb-100' && n.ip === '10.0.1.3' && n.mac === 'fa:16:3e:00:00:03' && n.permanent),
    );
    assert.equal(
      k.links.get('hnb-200')?.kind,
      'bridge',
      'network with a local port whose tap is missing still gets its bridge',
    );
  });

  test('converge again is a no-op (zero operations)', async () => {
    const r = await converge(exec, desired);
    assert.deepEqual(r.ops, []);
    // The changes so far all went through the long-lived children (one per program).
    assert.equal(batchPrograms, 0);
    assert.equal(sessions.starts, 2);
  });

  test('drift is repaired by the reconcile loop (FDB entry and neighbour removed by hand)', async () => {
    const rec = new Reconciler([new DatapathReconciler({ exec, node, log: silentLogger() })], {
      clock: realClock,
      log: silentLogger(),
      model: () => model,
      resyncMs: 100,
    });
    rec.start();
    try {
      await eventually(async () => rec.runs > 0, 5_000);
      // Both deletions fail unless the entries were there: the drift is real. (Whether a read made
      // now still sees it is a race with the loop, whose repair takes a few ms through the children.)
      await sh(exec, [
        'bridge fdb del fa:16:3e:00:00:02 dev hnv-100 dst 192.0.2.2 self',
        'ip neigh del 10.0.1.2 dev hnb-100',
      ]);
      const runs = rec.runs;
      assert.ok(await eventually(async () => rec.runs > runs + 1, 5_000), 'the loop went on after the drift');
      assert.ok(
        await eventually(async () => diffDatapath(desired, await readKernel(exec)).length === 0, 5_000),
        'restored',
      );
    } finally {
      await rec.stop();
    }
  });

  test('restart adopts what matches (same ifindexes) and sweeps only stale objects of ours', async () => {
    const idx = await ifindexes(exec);
    await sh(exec, [
      'ip link add hnb-999 type bridge',
      'ip link add hnv-999 type vxlan id 999 local 192.0.2.1 dstport 4789',
      'bridge fdb append 00:00:00:00:00:00 dev hnv-100 dst 203.0.113.9',
      'ip neigh replace 10.0.1.99 lladdr fa:16:3e:00:00:99 dev hnb-100 nud permanent',
      'ip link add hnx-1 type bridge', // not ours by name: untouched
    ]);
    const fresh = compileDatapath(node, model); // a "new agent": nothing carried over
    const r = await converge(exec, fresh);
    assert.deepEqual(r.result.failed, []);
    assert.deepEqual(
      r.ops.map((o) => `${o.op} ${'name' in o ? o.name : `${o.dev} ${'dst' in o ? o.dst : o.ip}`}`).sort(),
      ['fdb-del hnv-100 203.0.113.9', 'link-del hnb-999', 'link-del hnv-999', 'neigh-del hnb-100 10.0.1.99'],
    );
    const now = await ifindexes(exec);
    for (const name of ['hnb-100', 'hnv-100', 'hnb-200', 'hnv-200', 'tapaaaaaaaa-bb'])
      assert.equal(now.get(name), idx.get(name), `${name} kept`);
    assert.ok(now.has('hnx-1'));
    assert.ok(!now.has('hnb-999') && !now.has('hnv-999'));
  });

  test('incremental equals recompute on the kernel: light passes through the children, then one full read', async () => {
    const reader = new KernelReader(exec);
    await converge(exec, desired, { reader, full: true, readAfter: 'links' });
    // Remote ports appear, move between hosts and go; hostC's VTEP changes; P1 keeps network 100 here.
    const steps: [string, string, string][][] = [
      [
        ['q1', 'hostB', '10.0.1.21'],
        ['q2', 'hostC', '10.0.1.22'],
      ],
      [
        ['q1', 'hostC', '10.0.1.21'],
        ['q3', 'hostB', '10.0.1.23'],
      ],
      [
        ['q2', 'hostB', '10.0.1.22'],
        ['q3', 'hostC', '10.0.1.23'],
      ],
      [['q3', 'hostB', '10.0.1.23']],
    ];
    let last = desired;
    for (const [i, ports] of steps.entries()) {
      const m = view({
        networks: [net('n1', 100)],
        agents: [
          agent('a1', 'hostA', '192.0.2.1'),
          agent('a2', 'hostB', '192.0.2.2'),
          agent('a3', 'hostC', i % 2 ? '198.51.100.33' : '198.51.100.3'),
        ],
        ports: [
          port(P1, 'n1', 'hostA', 'fa:16:3e:00:00:01', ['10.0.1.1']),
          ...ports.map(([id, host, ip]) => port(id, 'n1', host, `fa:16:3e:00:01:${ip.split('.')[3]}`, [ip])),
        ],
      });
      last = compileDatapath(node, m);
      const r = await converge(exec, last, { reader, full: false, readAfter: 'links' });
      assert.deepEqual(r.result.failed, [], `step ${i}`);
    }
    const fresh = await readKernel(exec);
    assert.deepEqual(diffDatapath(last, fresh), [], 'recomputed from a fresh read: nothing to do');
    const ours = (st: typeof fresh) => ({
      fdb: st.fdb
        .filter(ownedFdb)
        .map((e) => JSON.stringify(e))
        .sort(),
      neigh: st.neigh
        .filter((n) => n.permanent && n.dev.startsWith('hnb-'))
        .map((n) => JSON.stringify(n))
        .sort(),
    });
    assert.deepEqual(ours(reader.remembered!), ours(fresh), "the light passes' memory is what the kernel holds");
    assert.equal(batchPrograms, 0);
    // Back to the suite's state for the tests that follow.
    assert.deepEqual((await converge(exec, desired)).result.failed, []);
  });

  test('passes that are not full take enslaved links from memory and list the rest; a full pass sees everything', async () => {
    const reader = new KernelReader(exec);
    await sh(exec, ['ip link add tapcccccccc-dd type veth peer name wl2']);
    const model2 = view({
      networks: [net('n1', 100)],
      agents: [agent('a1', 'hostA', '192.0.2.1'), agent('a2', 'hostB', '192.0.2.2')],
      ports: [
        port(P1, 'n1', 'hostA', 'fa:16:3e:00:00:01', ['10.0.1.1']),
        port('cccccccc-dddd-eeee-ffff-000000000003', 'n1', 'hostA', 'fa:16:3e:00:00:03', ['10.0.1.3']),
        port('p2', 'n1', 'hostB', 'fa:16:3e:00:00:02', ['10.0.1.2']),
      ],
    });
    const d2 = compileDatapath(node, model2);
    const first = await converge(exec, d2, { reader, full: true, readAfter: 'links' });
    assert.deepEqual(first.result.failed, []);
    assert.equal(
      first.after.links.get('tapcccccccc-dd')?.master,
      'hnb-100',
      'enslaved, and remembered so (no full read after)',
    );
    // A new tap shows on a light pass, and is wired by it.
    await sh(exec, ['ip link add tapdddddddd-ee type veth peer name wl3']);
    const light = await reader.read(false);
    assert.ok(light.links.has('tapdddddddd-ee'), 'a tap in no bridge is listed');
    assert.equal(light.links.get('tapcccccccc-dd')?.master, 'hnb-100');
    // Released by hand: listed again (in no bridge) and re-enslaved by a light pass.
    await sh(exec, ['ip link set tapcccccccc-dd nomaster']);
    const r = await converge(exec, d2, { reader, full: false, readAfter: 'links' });
    assert.deepEqual(r.ops, [{ op: 'link-set', name: 'tapcccccccc-dd', master: 'hnb-100' }]);
    assert.equal(r.after.links.get('tapcccccccc-dd')?.master, 'hnb-100');
    // An FDB entry removed by hand: remembered by light passes, seen and repaired by a full one.
    await sh(exec, ['bridge fdb del fa:16:3e:00:00:02 dev hnv-100 dst 192.0.2.2 self']);
    assert.deepEqual((await converge(exec, d2, { reader, full: false })).ops, [], 'a light pass trusts its memory');
    const repaired = await converge(exec, d2, { reader, full: true });
    assert.deepEqual(repaired.ops, [{ op: 'fdb-add', mac: 'fa:16:3e:00:00:02', dev: 'hnv-100', dst: '192.0.2.2' }]);
    // Deleted by hand while enslaved: only a full read notices.
    await sh(exec, ['ip link del tapcccccccc-dd']);
    assert.ok((await reader.read(false)).links.has('tapcccccccc-dd'), 'remembered until the next full pass');
    assert.ok(!(await reader.read(true)).links.has('tapcccccccc-dd'), 'a full read sees it gone');
    assert.ok(!(await reader.read(false)).links.has('tapcccccccc-dd'), 'and the memory follows the full read');
    // Or the link monitor tells (it sees the deletion): forgotten at once.
    await converge(exec, d2, { reader, full: false });
    await sh(exec, ['ip link del tapdddddddd-ee']);
    reader.forgetLink('tapdddddddd-ee');
    assert.ok(!(await reader.read(false)).links.has('tapdddddddd-ee'));
  });

  test("a full read made ahead gets the agent's changes made meanwhile (seen by its listings or not); a failed change spoils it", async () => {
    // The prefetch's listings run at once, but their answers are held until the change below is made:
    // the link and neighbour listings predate it, the FDB listing (after the links) follows it.
    let hold: Promise<void> | null = null;
    const neighSeen: string[] = [];
    const held: Exec = async (cmd, args, o) => {
      const r = await exec(cmd, args, o);
      if (cmd === 'ip' && args.includes('neigh')) neighSeen.push(r.stdout);
      if (hold) await hold;
      return r;
    };
    const reader = new KernelReader(held);
    const before = await readKernel(exec);
    let release!: () => void;
    hold = new Promise<void>((res) => (release = res));
    const ahead = reader.prefetchFull();
    await eventually(async () => neighSeen.length === 1, 2_000);
    const ops = [
      { op: 'neigh-set', ip: '10.0.1.77', mac: 'fa:16:3e:00:00:77', dev: 'hnb-100' },
      { op: 'fdb-add', mac: 'fa:16:3e:00:00:77', dev: 'hnv-100', dst: '192.0.2.2' },
    ] as const;
    assert.deepEqual((await applyOps(exec, [...ops])).failed, []);
    reader.applied(before, [...ops], true);
    hold = null;
    release();
    await ahead;
    assert.ok(!neighSeen[0]!.includes('10.0.1.77'), 'the neighbour listing predates the change');
    const got = await reader.read(true);
    assert.ok(
      got.neigh.some((n) => n.ip === '10.0.1.77' && n.mac === 'fa:16:3e:00:00:77' && n.permanent),
      'the recorded change is applied to the read',
    );
    assert.equal(
      got.fdb.filter((e) => e.mac === 'fa:16:3e:00:00:77' && e.dst === '192.0.2.2').length,
      1,
      'seen by the listing and recorded: once',
    );
    const now = await readKernel(exec);
    const sorted = <T>(xs: readonly T[]) => xs.map((x) => JSON.stringify(x)).sort();
    assert.deepEqual(sorted(got.fdb), sorted(now.fdb), 'the FDB a read now gives');
    assert.deepEqual(
      sorted(got.neigh.filter((n) => n.permanent)),
      sorted(now.neigh.filter((n) => n.permanent)),
      'the permanent neighbours a read now gives',
    );
    // A change that failed (or is unknown) spoils the prefetched read: the full read is made inline.
    await reader.prefetchFull();
    const undo = [
      { op: 'neigh-del', ip: '10.0.1.77', dev: 'hnb-100' },
      { op: 'fdb-del', mac: 'fa:16:3e:00:00:77', dev: 'hnv-100', dst: '192.0.2.2' },
    ] as const;
    await applyOps(exec, [...undo]);
    reader.applied(got, [...undo], false);
    const calls = neighSeen.length;
    const fresh = await reader.read(true);
    assert.equal(neighSeen.length, calls + 1, 'read again');
    assert.ok(!fresh.neigh.some((n) => n.ip === '10.0.1.77'));
    // A tap that appeared after the links were listed and was wired meanwhile: not lost.
    hold = new Promise<void>((res) => (release = res));
    neighSeen.length = 0;
    const ahead2 = reader.prefetchFull();
    await eventually(async () => neighSeen.length === 1, 2_000);
    await sh(exec, ['ip link add tapffffffff-00 type veth peer name wl5', 'ip link set tapffffffff-00 up']);
    const wire = [{ op: 'link-set', name: 'tapffffffff-00', master: 'hnb-100' }] as const;
    assert.deepEqual((await applyOps(exec, [...wire])).failed, []);
    reader.applied(await readKernel(exec), [...wire], true);
    hold = null;
    release();
    await ahead2;
    assert.equal(
      (await reader.read(true)).links.get('tapffffffff-00')?.master,
      'hnb-100',
      'the wired tap is seen enslaved',
    );
    assert.equal(neighSeen.length, 1, 'taken from memory, not read again inline');
    await sh(exec, ['ip link del tapffffffff-00']);
    // A tap the link monitor saw go while the read waited is gone from it.
    await sh(exec, ['ip link add tapeeeeeeee-ff type veth peer name wl4']);
    await reader.prefetchFull();
    await sh(exec, ['ip link del tapeeeeeeee-ff']);
    reader.forgetLink('tapeeeeeeee-ff');
    assert.ok(!(await reader.read(true)).links.has('tapeeeeeeee-ff'));
  });

  test('a neighbour entry already gone does not stop the rest of its batch', async () => {
    const r = await applyOps(exec, [
      { op: 'neigh-del', ip: '10.0.1.250', dev: 'hnb-100' },
      { op: 'neigh-set', ip: '10.0.1.251', mac: 'fa:16:3e:00:00:fb', dev: 'hnb-100' },
      { op: 'neigh-del', ip: '10.0.1.251', dev: 'hnb-100' },
      { op: 'bridge-add', name: 'hnb-4094', mtu: 1450, mac: '02:68:00:0f:fe:00' },
      // Gone already (a VM's tap goes with its namespace): the end state holds, nothing failed.
      { op: 'link-set', name: 'tapgone00000', master: null },
      { op: 'link-del', name: 'hnv-4093' },
    ]);
    assert.deepEqual(r.failed, []);
    assert.equal(r.applied, 6);
    assert.ok(!(await exec('ip', ['neigh', 'show', 'dev', 'hnb-100'])).stdout.includes('10.0.1.251'));
    assert.ok((await readKernel(exec)).links.has('hnb-4094'), 'the line after the deletes ran');
    await sh(exec, ['ip link del hnb-4094']);
  });

  test('empty desired state tears down our devices, releases the tap, leaves the rest', async () => {
    const r = await converge(exec, compileDatapath(node, view({})));
    assert.deepEqual(r.result.failed, []);
    const names = [...r.after.links.keys()];
    assert.deepEqual(
      names.filter((n) => /^hn[bv]-/.test(n)),
      [],
    );
    assert.equal(r.after.links.get('tapaaaaaaaa-bb')?.master, null);
    assert.ok(names.includes('hnx-1') && names.includes('u0'));
    assert.deepEqual((await converge(exec, compileDatapath(node, view({})))).ops, []);
    assert.equal(batchPrograms, 0, 'no change batch started a program of its own');
  });
});
