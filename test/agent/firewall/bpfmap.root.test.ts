/**
 * hn-bpfmap (native/bpfmap.c), the tc-BPF driver's map writer, on a real pinned hash map (root, a
 * pin of its own under /sys/fs/bpf, removed afterwards): updates and deletes land as bpftool reads
 * them back, a delete of a missing key counts as done, and malformed or mis-sized lines stop it with
 * the line number and a non-zero exit. In its batch mode, on the agent's long-lived child
 * (common/batch-sessions.ts), every line is answered, failures are numbered within each request, and a
 * map pinned anew between requests is the one written.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BPFMAP_PATH, ensureBpffs } from '../../../src/agent/firewall/bpf/driver.js';
import { realExec } from '../../../src/common/exec.js';
import { BatchSessions } from '../../../src/common/batch-sessions.js';
import { parseBatchErrors } from '../../../src/agent/datapath/driver.js';
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

  const create = () =>
    realExec('bpftool', [
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
  before(async () => {
    await ensureBpffs(realExec);
    await realExec('rm', ['-f', map]);
    await create();
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

  it('batch mode: every line answered, failures numbered per request, a map pinned anew is written', async () => {
    const sessions = new BatchSessions(realExec);
    try {
      const batch = (lines: string[]) =>
        sessions.exec(BPFMAP_PATH, ['-batch', map], { input: `${lines.join('\n')}\n`, allowFail: true });
      await realExec('rm', ['-f', map]);
      await create();
      const r1 = await batch(['u 0 0100000000000000 01000000']);
      assert.deepEqual([r1.code, r1.stderr], [0, '']);
      // The map is removed and pinned again (an agent reloading its programs): the same child writes the new one.
      await realExec('rm', ['-f', map]);
      await create();
      const r2 = await batch(['u 0 0300000000000000 03000000', 'd 0 0900000000000000']);
      assert.deepEqual([r2.code, r2.stderr], [0, '']);
      assert.deepEqual(await dump(), ['0300000000000000 03000000']);
      assert.equal(sessions.starts, 1, 'one child for both requests');
      const r3 = await batch(['u 0 0100000000000000 01000000', 'u 0 01 01', 'u 0 0200000000000000 02000000']);
      assert.equal(r3.code, 1);
      const errors = parseBatchErrors(r3.stderr);
      assert.deepEqual([...errors.keys()], [2], 'numbered within the request');
      assert.match(errors.get(2)!, /map 0 takes 8-byte keys and 4-byte values, got 1 and 1/);
      // Run once, off a session, a failed line makes the exit status.
      const once = await realExec(BPFMAP_PATH, ['-batch', map], { input: 'u 0 01 01\n', allowFail: true });
      assert.equal(once.code, 1);
      assert.match(once.stderr, /Command failed -:1/);
      assert.deepEqual(
        await dump(),
        ['0100000000000000 01000000', '0200000000000000 02000000', '0300000000000000 03000000'],
        'the lines around it',
      );
    } finally {
      sessions.close();
    }
  });
});
