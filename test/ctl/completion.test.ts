/** Shell completion: the generated bash script, run by a real bash, completes commands, flags and values. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Command } from 'commander';
import { register } from '../../src/ctl/command.js';
import { bashCompletion, completionTable, zshCompletion } from '../../src/ctl/completion.js';
import { skipOrFail } from '../../testkit/preconditions.js';

function program(): Command {
  const p = new Command('hypernet');
  p.command('server').option('--port <port>'); // another subsystem's command is completed too
  register(p);
  return p;
}

function complete(words: string[]): string[] {
  const script = bashCompletion(program());
  const cword = words.length - 1;
  const arr = words.map((w) => `'${w}'`).join(' ');
  const out = execFileSync(
    'bash',
    ['-c', `${script}\nCOMP_WORDS=(${arr}); COMP_CWORD=${cword}; _hypernet; printf '%s\\n' "\${COMPREPLY[@]}"`],
    { encoding: 'utf8' },
  );
  return out.split('\n').filter(Boolean).sort();
}

test('completion table covers every resource command and its flags', () => {
  const t = completionTable(program());
  for (const w of [
    'network',
    'subnet',
    'port',
    'security-group',
    'security-group-rule',
    'agents',
    'status',
    'completion',
    'server',
  ])
    assert.ok(t.get('hypernet')!.includes(w), w);
  assert.ok(t.get('hypernet subnet create')!.includes('--subnet-range'));
  assert.deepEqual(t.get('hypernet network list|-o'), ['table', 'json', 'yaml']);
});

test('bash completion works in a real bash', () => {
  assert.deepEqual(complete(['hypernet', 'sec']), ['security-group', 'security-group-rule']);
  assert.deepEqual(complete(['hypernet', 'network', '']), ['--help', 'create', 'delete', 'list', 'set', 'show']);
  assert.ok(complete(['hypernet', 'port', 'create', '--net']).includes('--network'));
  assert.deepEqual(complete(['hypernet', 'network', 'list', '--output', 'j']), ['json']);
  assert.deepEqual(complete(['hypernet', 'network', 'list', '-o', '']), ['json', 'table', 'yaml']);
});

test('zsh completion script is valid zsh when zsh is installed', (t) => {
  const script = zshCompletion(program());
  assert.match(script, /^#compdef hypernet/);
  try {
    execFileSync('zsh', ['-n', '-c', script]);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return skipOrFail(t, 'zsh not installed');
    throw e;
  }
});
