/**
 * `hypernet lab up --hypervms 1 --clouds 2` as a user runs it (root): the busybox image is built and
 * pushed, a HyperVM's LXC container comes up on cloud-a's node, pulls through the repository relay,
 * reaches the VM of the other cloud by hyper IP (ping matrix and a ping from inside the container),
 * shows in `lab status`; `lab down` leaves no namespace, container or process behind.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { realClock } from '../../src/common/clock.js';
import { realExec } from '../../src/common/exec.js';
import { canBuildHyperVmImage } from '../../src/lab/hypervm-image.js';
import { inContainer } from '../../src/lab/hypervms.js';
import { listNetnsWithPrefix } from '../../src/lab/netns.js';
import { pidsMentioning } from '../../src/lab/processes.js';
import { readState } from '../../src/lab/state.js';
import { downLab } from '../../src/lab/world.js';
import { isRoot, skipOrFail } from '../../testkit/preconditions.js';
import { hypernet } from './run-cli.js';

const prefix = 'hnJ-';
const stateDir = join(tmpdir(), 'hypernet-test', `hnJ-${process.pid}`);
const deps = { exec: realExec, clock: realClock };

after(async () => {
  if (isRoot()) await downLab(stateDir, prefix, deps);
});

test('lab up --hypervms 1: the container reaches the other cloud; lab down leaves nothing', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  if (!canBuildHyperVmImage()) return skipOrFail(t, 'needs busybox-static and umoci');
  const up = await hypernet(
    ['lab', 'up', '--state-dir', stateDir, '--prefix', prefix, '--api-port', '0', '--clouds', '2'].concat([
      '--vms-per-cloud',
      '1',
      '--hypervms',
      '1',
      '--no-router',
    ]),
    300_000,
  );
  assert.equal(up.code, 0, up.out);
  assert.match(up.out, /✓ HyperVMs \(1\)/);
  assert.match(up.out, /all reachable/);
  const state = readState(join(stateDir, 'lab.json'));
  const hv = state?.hypervms?.[0];
  assert.ok(hv, 'the HyperVM is recorded');
  assert.equal(hv.cloud, 'cloud-a');
  const b1 = state.vms.find((v) => v.name === 'vm-b1');
  assert.ok(b1);
  // From inside the container (its own busybox ping) to the VM in cloud-b, and back.
  const out = await realExec('ip', ['netns', 'exec', hv.ns, ...inContainer(hv), 'ping', '-c', '2', '-W', '2', b1.ip], {
    allowFail: true,
    timeoutMs: 15_000,
  });
  assert.equal(out.code, 0, out.stdout + out.stderr);
  const back = await realExec('ip', ['netns', 'exec', b1.ns, 'ping', '-n', '-c', '2', '-W', '2', hv.ip], {
    allowFail: true,
    timeoutMs: 15_000,
  });
  assert.equal(back.code, 0, back.stdout + back.stderr);

  const status = await hypernet(['lab', 'status', '--state-dir', stateDir]);
  assert.equal(status.code, 0, status.out);
  assert.match(status.out, new RegExp(`${hv.name} +\\| ${hv.ip.replace(/\./g, '\\.')} .*\\| ACTIVE +\\| yes`));

  const container = ['lxc-info', '-n', `hv-${hv.id}`, '-P', hv.lxcDir, '-s'];
  assert.match((await realExec('ip', ['netns', 'exec', hv.ns, ...container], { allowFail: true })).stdout, /RUNNING/);
  const down = await hypernet(['lab', 'down', '--state-dir', stateDir]);
  assert.equal(down.code, 0, down.out);
  assert.match(down.out, /HyperVM containers \(1\): stopped/);
  assert.deepEqual(await listNetnsWithPrefix(realExec, prefix), []);
  assert.deepEqual(pidsMentioning(`${stateDir}/`), [], 'no process names the state directory');
  const lxcLeft = await realExec('sh', ['-c', `ps -eo args | grep -F 'lxc' | grep -F '${stateDir}/' | grep -v grep`], {
    allowFail: true,
  });
  assert.equal(lxcLeft.stdout.trim(), '', 'no container process is left');
  assert.ok(!existsSync(join(stateDir, 'agents')), 'the containers directory is gone');
});
