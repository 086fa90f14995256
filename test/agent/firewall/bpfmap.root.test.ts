/**
 * hn-bpfmap (native/bpfmap.c), the tc-BPF driver's map writer, on a real pinned hash map (root, a
 * pin of its own under /sys/fs/bpf, removed afterwards): updates and deletes land as bpftool reads
 * them back, a delete of a missing key counts as done, and malformed or mis-sized lines stop it with
 * the line number and a non-zero exit.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BPFMAP_PATH, ensureBpffs } from '../../../src/agent/firewall/bpf/driver.js';
import { realExec } from '../../../src/common/exec.js';
import { needsRoot, skipUnless } from '../../../testkit/preconditions.js';
import { existsSync } from 'node:fs';

const skip = needsRoot() || skipUnless(existsSync(BPFMAP_PATH), 'hn-bpfmap is not built (npm run build)');

describe('hn-bpfmap writes pinned BPF maps', { skip }, () => {
  const map = `/sys/fs/bpf/hnbm-${process.pid}`;
  const write = (lines: string[]) => realExec(BPFMAP_PATH, [map], { input: `${lines.join('\n')}\n`, allowFail: true });
  /** The map's entries as "key value" hex texts, sorted. */
  const dump = async () => {
    const r = await realExec('bpftool', ['-j', 'map', 'dump', 'pinned', map]);
    const hex = (xs: string[]) => xs.map((x) => x.replace(/^0x/, '')).join('');
    return (JSON.parse(r.stdout) as Array<{ key: string[]; value: string[] }>)
      .map((e) => `${hex(e.key)} ${hex(e.value)}`)
      .sort();
  };

  before(async () => {
    await ensureBpffs(realExec);
    await realExec('rm', ['-f', map]);
    await realExec('bpftool', [
      'map',
      'create',
      map,
      'type',
      'hash',
      'key',
      '8',
      'value',
      '4',
      'entries',
      '8',
      'name',
      'hnbm',
    ]);
  });
  after(async () => {
    await realExec('rm', ['-f', map]);
  });

  it('updates, replaces and deletes entries; a missing key deletes as done', async () => {
    const r = await write([
      'u 0 0700000000000000 01000000',
      'u 0 0800000001000000 02000000',
      'u 0 0700000000000000 03000000',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'ok 3');
    assert.deepEqual(await dump(), ['0700000000000000 03000000', '0800000001000000 02000000']);
    const d = await write(['d 0 0800000001000000', 'd 0 0900000000000000']);
    assert.equal(d.code, 0, d.stderr);
    assert.deepEqual(await dump(), ['0700000000000000 03000000']);
  });

  it('stops at a malformed or mis-sized line, naming it', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['u 0 07000000000000 01000000'], /line 1: map 0 takes 8-byte keys and 4-byte values, got 7 and 4/],
      [['u 0 0100000000000000 0100000000'], /line 1: .* got 8 and 5/],
      [['u 0 0100000000000000 01000000', 'u 0 01zz000000000000 01000000'], /line 2: malformed hex/],
      [['u 1 0100000000000000 01000000'], /line 1: not 'u N KEY VALUE'/],
      [['x 0 0100000000000000'], /line 1: not 'u N KEY VALUE'/],
    ];
    for (const [lines, message] of cases) {
      const r = await write(lines);
      assert.equal(r.code, 1, lines.join(' | '));
      assert.match(r.stderr, message);
    }
    const missing = await realExec(BPFMAP_PATH, [`${map}-none`], { input: '', allowFail: true });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No such file or directory/);
  });
});
