/**
 * NftSession: the pure line protocol, and a real long-lived `nft -i` in a namespace of this run —
 * transactions apply atomically, a failed one rejects with nft's message and leaves nothing
 * behind, the session survives errors and restarts after its child dies. Needs root for the
 * kernel part.
 */
import { after, before, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { answerErrors, NftSession, oneLine } from '../../../src/agent/firewall/nft-session.js';
import { realExec } from '../../../src/common/exec.js';
import { NodeEnv, sweepStale } from '../../../testkit/firewall-netenv.js';
import { needsRoot } from '../../../testkit/preconditions.js';

test('oneLine joins one command per line, drops comments and blank lines, refuses block syntax', () => {
  assert.equal(
    oneLine('# delta\nadd element bridge t s { 1.2.3.4 }\n\nflush chain bridge t c\n'),
    'add element bridge t s { 1.2.3.4 }; flush chain bridge t c',
  );
  assert.equal(
    oneLine('add set bridge t s { type ipv4_addr; flags interval; }'),
    'add set bridge t s { type ipv4_addr; flags interval; }',
  );
  assert.equal(oneLine(''), '');
  assert.throws(() => oneLine('table bridge t {\n\tchain c {\n\t}\n}\n'), /block syntax/);
});

test('answerErrors: only an answer with an Error line is a failure', () => {
  assert.equal(answerErrors(''), '');
  assert.equal(answerErrors('Warning: something'), '');
  assert.match(
    answerErrors('Error: Could not process rule: No such file or directory\nadd rule …\n   ^^^'),
    /^Error: Could not process rule/,
  );
  assert.match(
    answerErrors('In file included from <cmdline>:1:1-29:\n/tmp/x/s.nft:6:3-7: Error: No symbol type information'),
    /Error: No symbol type information/,
  );
});

describe('NftSession on the kernel', { skip: needsRoot() }, () => {
  const env = new NodeEnv();
  let session: NftSession;
  const tables = async () => (await env.node('nft', ['list', 'tables'])).stdout.trim();

  before(async () => {
    await sweepStale();
    await env.create([]);
    session = new NftSession(['ip', 'netns', 'exec', env.nodeNs, 'nft', '-i']);
  });
  after(async () => {
    session.close();
    await env.destroy();
  });

  it('applies a transaction of several commands', async () => {
    await session.run(
      'add table bridge t\nadd set bridge t s { type ipv4_addr; flags interval; }\nadd element bridge t s { 10.0.0.1, 10.0.1.0/24 }\nadd chain bridge t c\nadd rule bridge t c ip saddr @s accept\n',
    );
    const out = (await env.node('nft', ['list', 'table', 'bridge', 't'])).stdout;
    assert.match(out, /elements = \{ 10\.0\.0\.1, 10\.0\.1\.0\/24 \}/);
    assert.match(out, /ip saddr @s accept/);
  });

  it('a failing transaction rejects with nft’s error and applies none of its commands', async () => {
    await assert.rejects(
      session.run('add table bridge u\nadd rule bridge t nochain accept\n'),
      /Error: .*No such file or directory/s,
    );
    assert.doesNotMatch(await tables(), /table bridge u/, 'the first command of the failed batch was not applied');
    await session.run('add element bridge t s { 10.0.2.1 }');
    assert.match(
      (await env.node('nft', ['list', 'set', 'bridge', 't', 's'])).stdout,
      /10\.0\.2\.1/,
      'the session still works after an error',
    );
    assert.equal(session.starts, 1, 'one child for all of it');
  });

  it('answers a query with what nft printed, and rejects a failing one', async () => {
    assert.match(
      (await session.query('list set bridge t s')).replace(/\s+/g, ' '),
      /elements = \{ 10\.0\.0\.1, 10\.0\.1\.0\/24, 10\.0\.2\.1 \}/,
    );
    await assert.rejects(session.query('list set bridge t nosuchset'), /Error: /);
    await session.run('add element bridge t s { 10.0.2.2 }');
    assert.match(await session.query('list set bridge t s'), /10\.0\.2\.2/, 'answers stay in order after an error');
  });

  it('applies a script in block syntax as one transaction; a failing one applies none of it', async () => {
    await session.runScript(
      'table bridge w {\n\tset s {\n\t\ttype ipv4_addr\n\t\telements = { 10.9.0.1,\n\t\t\t10.9.0.2 }\n\t}\n' +
        '\tchain c {\n\t\ttype filter hook forward priority 0; policy accept;\n\t\tip saddr @s accept\n\t}\n}\n',
    );
    assert.match((await env.node('nft', ['list', 'set', 'bridge', 'w', 's'])).stdout, /10\.9\.0\.1, 10\.9\.0\.2/);
    await assert.rejects(
      session.runScript('table bridge w\ndelete table bridge w\ntable bridge v {\n\tchain c {\n\t\tbogus\n\t}\n}\n'),
      /Error: /,
    );
    const t = await tables();
    assert.match(t, /table bridge w/, 'the failed script deleted nothing');
    assert.doesNotMatch(t, /table bridge v/);
    assert.equal(session.starts, 1);
  });

  it('starts a new child when the old one died, and refuses work once closed', async () => {
    const pids = (await realExec('ip', ['netns', 'pids', env.nodeNs])).stdout.trim().split('\n').filter(Boolean);
    assert.equal(pids.length, 1, 'the nft -i child lives in the namespace');
    await realExec('kill', ['-KILL', pids[0]!]);
    await new Promise((r) => setTimeout(r, 100));
    await session.run('add element bridge t s { 10.0.3.1 }');
    assert.equal(session.starts, 2);
    assert.match((await env.node('nft', ['list', 'set', 'bridge', 't', 's'])).stdout, /10\.0\.3\.1/);
    session.close();
    await assert.rejects(session.run('add element bridge t s { 10.0.4.1 }'), /closed/);
  });
});
