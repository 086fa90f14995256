/**
 * `hypernet lab up|status|exec|down` as a user runs them (the real executable, real server and agent
 * processes), with a per-run prefix, state directory and a free API port; afterwards nothing is left:
 * no namespace with the prefix, no recorded process, no state directory.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { realExec } from '../../src/common/exec.js';
import { readPidDir } from '../../src/lab/processes.js';
import { hypernet } from './run-cli.js';
import { labDownLeavesNothing } from './lab-down.js';
import { readState } from '../../src/lab/state.js';
import { deps, isRoot, runNames, sweepStaleRuns } from '../net/fixture.js';
import { downLab } from '../../src/lab/world.js';
import { skipOrFail } from '../../testkit/preconditions.js';

const { prefix, stateDir } = runNames('c');

let pids: number[] = [];

before(async () => {
  if (!isRoot()) return;
  await sweepStaleRuns();
});
after(async () => {
  if (isRoot()) await downLab(stateDir, prefix, deps);
});

test('lab up builds the world, prints table and matrix, and returns', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  const r = await hypernet([
    'lab',
    'up',
    '--state-dir',
    stateDir,
    '--prefix',
    prefix,
    '--api-port',
    '0',
    '--vms-per-cloud',
    '1',
  ]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /✓ namespaces and underlay \(\d+ ms\)/);
  assert.match(r.out, /✓ agents \(2\)/);
  assert.match(r.out, /vm-a1 .*cloud-a .*10\.0\.1\.\d+ .*fa:16:3e/);
  assert.match(r.out, /all reachable/);
  assert.match(r.out, /openstack --os-auth-type none --os-endpoint http:\/\/127\.0\.0\.1:\d+ network list/);
  pids = [...readPidDir(`${stateDir}/pids`).values()];
  assert.ok(pids.length >= 3 + 2, `server, 2 agents, 2 dhclients recorded: ${pids}`);
});

test('lab up again says it is already up', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  const r = await hypernet(['lab', 'up', '--state-dir', stateDir, '--prefix', prefix, '--api-port', '0']);
  assert.equal(r.code, 1);
  assert.match(r.out, /already up/);
});

test('lab status reports processes, namespaces, VMs and agents healthy', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  const r = await hypernet(['lab', 'status', '--state-dir', stateDir]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /lab is healthy/);
  assert.match(r.out, new RegExp(`${prefix}hs-a`));
});

test('lab exec runs a command in a VM: cross-cloud ping', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  const state = readState(`${stateDir}/lab.json`)!;
  const b1 = state.vms.find((v) => v.name === 'vm-b1')!;
  const r = await hypernet([
    'lab',
    'exec',
    '--state-dir',
    stateDir,
    'vm-a1',
    '--',
    'ping',
    '-c',
    '2',
    '-i',
    '0.2',
    '-W',
    '2',
    b1.ip,
  ]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /2 received/);
});

test('the openstack CLI lists the lab network through the TCP API', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  const state = readState(`${stateDir}/lab.json`)!;
  const r = await realExec(
    'openstack',
    ['--os-auth-type', 'none', '--os-endpoint', state.apiUrl!, 'network', 'list', '-f', 'value', '-c', 'Name'],
    {
      allowFail: true,
      timeoutMs: 60_000,
    },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /hyper-net/);
});

test('lab down removes every namespace, process and file; a second down is a no-op', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  await labDownLeavesNothing(stateDir, prefix, pids);
  const again = await hypernet(['lab', 'down', '--state-dir', stateDir, '--prefix', prefix]);
  assert.equal(again.code, 0);
  assert.match(again.out, /namespaces removed: none/);
});
