/**
 * `hypernet lab down` after a crash: the lab's record (lab.json) is gone and its server was killed,
 * yet down still stops every process the lab started (by pid file, and by its state directory in their
 * command lines, e.g. the agents' dnsmasq) and sweeps every namespace with the prefix.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { realExec } from '../../src/common/exec.js';
import { listNetnsWithPrefix } from '../../src/lab/netns.js';
import { HYPERNET_BIN, pidFile, pidsMentioning, readPidFile } from '../../src/lab/processes.js';
import { downLab } from '../../src/lab/world.js';
import { deps, isRoot, newWorld, sweepStaleRuns } from '../net/fixture.js';
import { skipOrFail } from '../../testkit/preconditions.js';

const world = newWorld('k', { vmsPerCloud: 1 });
const { paths, prefix } = world.plan;

before(async () => {
  if (isRoot()) await sweepStaleRuns();
});
after(async () => {
  if (isRoot()) await downLab(paths.stateDir, prefix, deps);
});

test('lab down cleans up a crashed lab without its lab.json', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  await world.up();
  assert.ok(pidsMentioning(paths.marker).length >= 5, 'server, agents, dhclients and dnsmasq run');
  assert.ok((await listNetnsWithPrefix(realExec, prefix)).length >= 5);
  // The crash: the server dies hard and the record is lost.
  process.kill(readPidFile(pidFile(paths.pidDir, 'server'))!, 'SIGKILL');
  rmSync(paths.stateFile);
  const r = spawnSync(
    process.execPath,
    [HYPERNET_BIN, 'lab', 'down', '--state-dir', paths.stateDir, '--prefix', prefix],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(await listNetnsWithPrefix(realExec, prefix), []);
  assert.deepEqual(pidsMentioning(paths.marker), []);
  assert.match(r.stdout, /namespaces removed: .*hs-a/);
});
