/** realExec: a program that exits before reading all of its input is reported by its exit status, not by EPIPE. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExecError, realExec } from '../../src/common/exec.js';

test('realExec: input the program never reads is no error of its own', async () => {
  // Far more than a pipe holds, so the write is still going when the program has exited.
  const input = 'x'.repeat(8 << 20);
  for (let i = 0; i < 5; i++) {
    assert.deepEqual(await realExec('true', [], { input }), { stdout: '', stderr: '', code: 0 });
    const r = await realExec('sh', ['-c', 'head -c 3; echo " stop" >&2; exit 4'], { input, allowFail: true });
    assert.deepEqual(r, { stdout: 'xxx', stderr: ' stop\n', code: 4 });
    await assert.rejects(realExec('false', [], { input }), (e) => e instanceof ExecError && e.result.code === 1);
  }
});
