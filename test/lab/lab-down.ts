/**
 * `hypernet lab down` as the lab CLI tests check it: run through the executable, it must leave no
 * namespace with the prefix, none of the recorded processes, no process naming the state directory,
 * and no state directory.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { realExec } from '../../src/common/exec.js';
import { listNetnsWithPrefix } from '../../src/lab/netns.js';
import { cmdlineOf, pidsMentioning } from '../../src/lab/processes.js';
import { hypernet } from './run-cli.js';

/** Runs `lab down` and asserts that nothing of the lab is left; returns its output. */
export async function labDownLeavesNothing(stateDir: string, prefix: string, pids: readonly number[]): Promise<string> {
  const r = await hypernet(['lab', 'down', '--state-dir', stateDir]);
  assert.equal(r.code, 0, r.out);
  assert.deepEqual(await listNetnsWithPrefix(realExec, prefix), []);
  for (const pid of pids) assert.equal(cmdlineOf(pid), null, `pid ${pid} still alive`);
  assert.deepEqual(pidsMentioning(`${stateDir}/`), []);
  assert.equal(existsSync(stateDir), false);
  return r.out;
}
