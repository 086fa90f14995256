/**
 * ExecBroker: programs run from the broker process behave as with realExec (output, input,
 * exit codes, ExecError, ENOENT, timeouts); a dead broker is replaced; a closed one refuses work.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExecError } from '../../src/common/exec.js';
import { ExecBroker, fromAnswer } from '../../src/common/exec-broker.js';

test('fromAnswer: results, ExecError and errno errors as realExec gives them', () => {
  const req = { cmd: 'ip', args: ['link'] };
  assert.deepEqual(fromAnswer(req, { id: 1, ok: true, result: { stdout: 'x', stderr: '', code: 0 } }), {
    stdout: 'x',
    stderr: '',
    code: 0,
  });
  const e = fromAnswer(req, { id: 1, ok: false, kind: 'exec', result: { stdout: '', stderr: 'bad', code: 2 } });
  assert.ok(e instanceof ExecError && e.result.code === 2 && /ip link exited 2: bad/.test(e.message));
  const n = fromAnswer(req, {
    id: 1,
    ok: false,
    kind: 'error',
    message: 'spawn nope ENOENT',
    code: 'ENOENT',
  }) as NodeJS.ErrnoException;
  assert.equal(n.code, 'ENOENT');
});

test('the broker runs programs like realExec, concurrently, and is replaced when it dies', async () => {
  const b = new ExecBroker();
  try {
    assert.equal((await b.exec('echo', ['hello'])).stdout, 'hello\n');
    assert.equal((await b.exec('cat', [], { input: 'from stdin' })).stdout, 'from stdin');
    assert.equal((await b.exec('sh', ['-c', 'echo err >&2; exit 3'], { allowFail: true })).code, 3);
    await assert.rejects(
      b.exec('sh', ['-c', 'echo oops >&2; exit 4']),
      (e: unknown) => e instanceof ExecError && e.result.code === 4 && e.result.stderr === 'oops\n',
    );
    await assert.rejects(b.exec('/nonexistent/program', []), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
    const t0 = Date.now();
    const r = await b.exec('sleep', ['5'], { timeoutMs: 200, allowFail: true });
    assert.notEqual(r.code, 0, 'killed at the timeout');
    assert.ok(Date.now() - t0 < 3_000);
    // concurrent calls all come back with their own output
    const outs = await Promise.all(Array.from({ length: 20 }, (_, i) => b.exec('echo', [String(i)])));
    assert.deepEqual(
      outs.map((o) => o.stdout),
      Array.from({ length: 20 }, (_, i) => `${i}\n`),
    );
    assert.equal(b.starts, 1);
    // kill the broker while a call runs: that call fails, the next one starts a new broker
    const running = b.exec('sleep', ['2']);
    const pid = Number((await b.exec('sh', ['-c', 'echo $PPID'])).stdout.trim());
    process.kill(pid, 'SIGKILL');
    await assert.rejects(running, /exec broker ended/);
    assert.equal((await b.exec('echo', ['again'])).stdout, 'again\n');
    assert.equal(b.starts, 2);
  } finally {
    b.close();
  }
  await assert.rejects(b.exec('echo', ['late']), /closed/);
});
