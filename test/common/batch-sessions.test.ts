/**
 * The long-lived iproute2 batch children (batch-session.ts, batch-sessions.ts) against real `ip` and
 * `bridge` in a namespace of this run: per-line failures numbered within each request, answers equal
 * to a one-shot run's, a child that exits mid-batch (failing `neigh replace`) loses no line, a device
 * made again under the same name behind the child's back (iproute2's stale ifindex cache) still
 * converges, listings come back whole and in order, and `tc` answers in the same dialect.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { foldAnswer } from '../../src/common/batch-session.js';
import { BatchSessions, sessionRoute, toExecResult } from '../../src/common/batch-sessions.js';
import { realExec, type Exec } from '../../src/common/exec.js';
import { parseBatchErrors } from '../../src/agent/datapath/driver.js';
import { addNetns, removeRun, runPrefix, sh, sweepStale } from '../agent/netns.js';
import { needsRoot } from '../../testkit/preconditions.js';

test('foldAnswer: failures numbered within the request, JSON apart, the marker ends it', () => {
  const acc = { answer: { output: [] as string[], errors: new Map<number, string>() }, msgs: [] as string[] };
  const done = foldAnswer(
    [
      'Cannot find device "x"',
      'Command failed -:11',
      '[{"ifname":"a"}]',
      'RTNETLINK answers: File exists',
      'Command failed -:13',
      'Object "hypernet-batch-end" is unknown, try "ip help".',
    ],
    10,
    14,
    acc,
  );
  assert.equal(done, false);
  assert.equal(foldAnswer(['Command failed -:14'], 10, 14, acc), true);
  assert.deepEqual(acc.answer.output, ['[{"ifname":"a"}]']);
  assert.deepEqual(
    [...acc.answer.errors],
    [
      [1, 'Cannot find device "x"'],
      [3, 'RTNETLINK answers: File exists'],
    ],
  );
});

test('sessionRoute: only the batch forms the datapath uses; toExecResult reads back as a batch run', () => {
  assert.equal(sessionRoute('ip', ['-force', '-batch', '-'], 'x\n')?.retry, true);
  assert.equal(sessionRoute('bridge', ['-force', '-batch', '-'], 'x\n')?.retry, true);
  assert.equal(sessionRoute('ip', ['-json', '-d', '-batch', '-'], 'x\n')?.retry, false);
  assert.equal(sessionRoute('ip', ['-force', '-batch', '-'], undefined), null);
  assert.equal(sessionRoute('bridge', ['-json', '-force', '-batch', '-'], 'x\n'), null);
  assert.equal(sessionRoute('ip', ['link', 'show'], undefined), null);
  assert.equal(sessionRoute('tc', ['-force', '-batch', '-'], 'x\n')?.retry, true);
  assert.equal(sessionRoute('tc', ['-batch', '-'], 'x\n'), null, 'only the form that answers every line');
  const maps = ['/sys/fs/bpf/hypernet/n/maps/hn_ports', '/sys/fs/bpf/hypernet/n/maps/hn_members'];
  assert.deepEqual(sessionRoute('/opt/hn/hn-bpfmap', ['-batch', ...maps], 'x\n'), {
    key: `/opt/hn/hn-bpfmap -batch ${maps.join(' ')}`,
    argv: ['/opt/hn/hn-bpfmap', '-batch', ...maps],
    retry: false,
  });
  assert.equal(sessionRoute('/opt/hn/hn-bpfmap', maps, 'x\n'), null, 'the one-shot form stays a program run');
  const r = toExecResult(['[]'], new Map([[2, 'RTNETLINK answers: No such device']]));
  assert.deepEqual([...parseBatchErrors(r.stderr)], [[2, 'RTNETLINK answers: No such device']]);
  assert.deepEqual([r.stdout, r.code], ['[]\n', 1]);
});

describe('batch sessions (root, namespaces)', { skip: needsRoot() }, () => {
  const prefix = runPrefix('bs');
  const ns = `${prefix}node`;
  let exec: Exec;
  let sessions: BatchSessions;

  before(async () => {
    await sweepStale();
    exec = await addNetns(ns);
    await sh(exec, ['ip link add u0 type veth peer name u1', 'ip addr add 192.0.2.1/24 dev u0', 'ip link set u0 up']);
    sessions = new BatchSessions(realExec, ['ip', 'netns', 'exec', ns]);
  });
  after(async () => {
    sessions?.close();
    await removeRun(prefix);
  });

  const ipBatch = (lines: string[]) =>
    sessions.exec('ip', ['-force', '-batch', '-'], { input: `${lines.join('\n')}\n`, allowFail: true });
  const bridgeBatch = (lines: string[]) =>
    sessions.exec('bridge', ['-force', '-batch', '-'], { input: `${lines.join('\n')}\n`, allowFail: true });

  test('a batch applies in one child; a failing line is reported with its number and the rest goes on', async () => {
    const r1 = await ipBatch([
      'link add name hnb-1 type bridge',
      'link add name hnv-1 type vxlan id 1 local 192.0.2.1 dstport 4789 nolearning',
      'link set dev hnv-1 master hnb-1',
    ]);
    assert.deepEqual([r1.code, r1.stderr], [0, '']);
    const r2 = await ipBatch(['link set dev nosuch up', 'link set dev hnb-1 up', 'link set dev hnv-1 up']);
    assert.equal(r2.code, 1);
    assert.deepEqual([...parseBatchErrors(r2.stderr).keys()], [1]);
    assert.match(parseBatchErrors(r2.stderr).get(1)!, /Cannot find device "nosuch"/);
    const r3 = await bridgeBatch([
      'fdb append 00:00:00:00:00:00 dev hnv-1 dst 192.0.2.2 self permanent',
      'fdb replace fa:16:3e:00:00:02 dev hnv-1 dst 192.0.2.2 self static',
      'link set dev hnv-1 learning off neigh_suppress on',
    ]);
    assert.deepEqual([r3.code, r3.stderr], [0, '']);
    const fdb = (await exec('bridge', ['fdb', 'show', 'dev', 'hnv-1'])).stdout;
    assert.match(fdb, /fa:16:3e:00:00:02 dst 192\.0\.2\.2 self static/);
    const links = JSON.parse((await exec('ip', ['-json', 'link', 'show', 'hnb-1'])).stdout) as { flags: string[] }[];
    assert.ok(links[0]!.flags.includes('UP'));
    // One child per program so far: the failure was a name that resolves to nothing (no restart).
    assert.equal(sessions.starts, 2);
  });

  test('a device made again behind the child (stale ifindex cache, ip exits on neigh replace) still converges', async () => {
    await ipBatch(['neigh replace 10.0.0.5 lladdr 02:00:00:00:00:05 dev hnb-1 nud permanent']);
    const starts = sessions.starts;
    await sh(exec, ['ip link del hnv-1', 'ip link del hnb-1', 'ip link add name hnb-1 type bridge']);
    await sh(exec, ['ip link add name hnv-1 type vxlan id 1 local 192.0.2.1 dstport 4789 nolearning']);
    // (Enslaving changes the bridge's MAC, which flushes its neighbours: the entry goes last.)
    const r = await ipBatch([
      'link set dev hnb-1 mtu 1400',
      'link set dev hnv-1 master hnb-1',
      'neigh replace 10.0.0.6 lladdr 02:00:00:00:00:06 dev hnb-1 nud permanent',
    ]);
    assert.deepEqual([r.code, r.stderr], [0, '']);
    const b = await bridgeBatch(['fdb replace fa:16:3e:00:00:03 dev hnv-1 dst 192.0.2.2 self static']);
    assert.deepEqual([b.code, b.stderr], [0, '']);
    const neigh = (await exec('ip', ['neigh', 'show', 'dev', 'hnb-1'])).stdout;
    assert.match(neigh, /10\.0\.0\.6 lladdr 02:00:00:00:00:06 PERMANENT/);
    const hnb = JSON.parse((await exec('ip', ['-json', 'link', 'show', 'hnb-1'])).stdout) as { mtu: number }[];
    assert.equal(hnb[0]!.mtu, 1400);
    assert.ok(sessions.starts > starts, 'the children with stale caches were replaced');
  });

  test('a line that kills the child is reported failed, as is every line after it; the next batch runs', async () => {
    // `neigh replace` with an address of the wrong family: ip reports the kernel's error and exits.
    const r = await ipBatch([
      'link set dev hnb-1 mtu 1450',
      'neigh replace 10.0.0.7 lladdr 02:00:00:00:00:07 dev nosuch nud permanent',
      'neigh replace 10.0.0.8 lladdr 02:00 dev hnb-1 nud permanent',
      'link set dev hnb-1 up',
    ]);
    const errors = parseBatchErrors(r.stderr);
    assert.equal(r.code, 1);
    assert.ok(!errors.has(1), r.stderr);
    assert.ok(errors.has(2) && errors.has(3), r.stderr);
    const next = await ipBatch(['link set dev hnb-1 mtu 1440']);
    assert.deepEqual([next.code, next.stderr], [0, '']);
  });

  test('listings come back whole and in order, also when long', async () => {
    for (let i = 0; i < 150; i++)
      await exec('ip', ['link', 'add', `tapbs${i}`, 'type', 'veth', 'peer', 'name', `pbs${i}`]);
    const r = await sessions.exec('ip', ['-json', '-d', '-batch', '-'], {
      input: 'link show nomaster\nlink show type bridge\nlink show type vxlan\n',
    });
    const docs = r.stdout.trim().split('\n');
    assert.equal(docs.length, 3);
    const names = (d: string) => (JSON.parse(d) as { ifname: string }[]).map((l) => l.ifname);
    assert.equal(names(docs[0]!).filter((n) => n.startsWith('tapbs')).length, 150);
    assert.deepEqual(names(docs[1]!), ['hnb-1']);
    assert.deepEqual(names(docs[2]!), ['hnv-1']);
  });

  test('tc: filters in one child, a failing line numbered within its request, the next request runs', async () => {
    const tcBatch = (lines: string[]) =>
      sessions.exec('tc', ['-force', '-batch', '-'], { input: `${lines.join('\n')}\n`, allowFail: true });
    const starts = sessions.starts;
    const r1 = await tcBatch(['qdisc replace dev u0 clsact', 'qdisc replace dev nosuch clsact']);
    assert.equal(r1.code, 1);
    assert.deepEqual([...parseBatchErrors(r1.stderr).keys()], [2], r1.stderr);
    const r2 = await tcBatch([
      'filter replace dev u0 ingress pref 1 handle 1 bpf da bytecode "1,6 0 0 0,"',
      'filter replace dev u0 egress pref 1 handle 1 bpf da bytecode "1,6 0 0 0,"',
    ]);
    assert.deepEqual([r2.code, r2.stderr], [0, '']);
    const shown = (await exec('tc', ['filter', 'show', 'dev', 'u0', 'egress'])).stdout;
    assert.match(shown, /bpf .*direct-action/);
    assert.equal(sessions.starts, starts + 1, 'one tc child for both requests');
  });
});
