/**
 * `hypernet lab up --networks 2` as a user runs it: two tenant subnets behind the lab's router, a VM
 * of each subnet in each cloud; the ping matrix (routed pairs, across clouds too) is all reachable,
 * `lab status` names each VM's network and the router's two interfaces, the floating IP answers the
 * external host. Afterwards no namespace with the run's prefix (`hnS-<pid>-`) is left.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { realExec } from '../../src/common/exec.js';
import { listNetnsWithPrefix } from '../../src/lab/netns.js';
import { readState } from '../../src/lab/state.js';
import { downLab } from '../../src/lab/world.js';
import { alive, listNetns } from '../../testkit/runs.js';
import { skipOrFail } from '../../testkit/preconditions.js';
import { deps, isRoot, TEST_ROOT } from '../net/fixture.js';
import { hypernet } from './run-cli.js';

const prefix = `hnS-${process.pid}-`;
const stateDir = join(TEST_ROOT, prefix.slice(0, -1));

/** Labs of earlier runs of this file that crashed (their PID is gone). */
async function sweepStale(): Promise<void> {
  const stale = new Set<string>();
  for (const ns of await listNetns()) {
    const m = /^hnS-(\d+)-/.exec(ns);
    if (m && !alive(Number(m[1]))) stale.add(m[0]);
  }
  for (const p of stale) await downLab(join(TEST_ROOT, p.slice(0, -1)), p, deps);
}

before(async () => {
  if (isRoot()) await sweepStale();
});
after(async () => {
  if (isRoot()) await downLab(stateDir, prefix, deps);
});

/** The first table row of a VM (the VM table comes before the ping matrix). */
const row = (out: string, name: string): string => out.split('\n').find((l) => l.startsWith(`| ${name} `)) ?? '';

test('lab up --networks 2: a VM of each subnet in each cloud, routed pairs in the matrix', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  const r = await hypernet(
    ['lab', 'up', '--state-dir', stateDir, '--prefix', prefix, '--api-port', '0', '--networks', '2'],
    240_000,
  );
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /tenant networks 10\.0\.1\.0\/24, 10\.0\.2\.0\/24/);
  // vm-a1 and vm-b1 on the first subnet, vm-a2 and vm-b2 on the second.
  assert.match(row(r.out, 'vm-a1'), /cloud-a .*10\.0\.1\.\d+ .*hyper-net /);
  assert.match(row(r.out, 'vm-a2'), /cloud-a .*10\.0\.2\.\d+ .*hyper-net-2 /);
  assert.match(row(r.out, 'vm-b2'), /cloud-b .*10\.0\.2\.\d+ .*hyper-net-2 /);
  assert.match(r.out, /interface .*10\.0\.1\.1 .*hyper-net \(10\.0\.1\.0\/24\)/);
  assert.match(r.out, /interface .*10\.0\.2\.1 .*hyper-net-2 \(10\.0\.2\.0\/24\)/);
  assert.match(r.out, /ping matrix \(all reachable\)/);
  // The matrix's vm-a1 row: it reached vm-a2 (routed, same node), vm-b1 (bridged) and vm-b2 (routed, other cloud).
  const matrixRow =
    r.out
      .split('\n')
      .filter((l) => /^\| vm-a1 /.test(l))
      .pop() ?? '';
  assert.match(matrixRow, /^\| vm-a1 +\| · +\| ✓ +\| ✓ +\| ✓ +\|/, r.out);
});

test('lab status names the networks and the router interfaces; traffic is routed', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  const r = await hypernet(['lab', 'status', '--state-dir', stateDir]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /lab is healthy/);
  assert.match(row(r.out, 'vm-b2'), /10\.0\.2\.\d+ .*hyper-net-2 .*eth0/);
  assert.match(r.out, /interface .*10\.0\.2\.1 .*hyper-net-2/);
  const state = readState(join(stateDir, 'lab.json'))!;
  assert.equal(state.networks?.length, 2);
  const b2 = state.vms.find((v) => v.name === 'vm-b2')!;
  // A routed packet arrives with one hop less: the VM sees TTL 63 from the other subnet, not 64.
  const p = await hypernet([
    'lab',
    'exec',
    '--state-dir',
    stateDir,
    'vm-a1',
    '--',
    'ping',
    '-c',
    '1',
    '-W',
    '2',
    b2.ip,
  ]);
  assert.equal(p.code, 0, p.out);
  assert.match(p.out, /ttl=63/);
  // The lab's floating IP (on vm-a1) answers the external host.
  const fip = state.l3?.floatingips[0];
  assert.ok(fip && state.l3?.externalHost, 'the lab has a floating IP and an external host');
  const e = await realExec('ip', ['netns', 'exec', state.l3!.externalHost!.ns, 'ping', '-c', '1', '-W', '2', fip.ip], {
    allowFail: true,
    timeoutMs: 10_000,
  });
  assert.equal(e.code, 0, `external host → ${fip.ip}: ${e.stdout}`);
});

test('lab down leaves no namespace of the run', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  const r = await hypernet(['lab', 'down', '--state-dir', stateDir]);
  assert.equal(r.code, 0, r.out);
  assert.deepEqual(await listNetnsWithPrefix(realExec, prefix), []);
});
