/** apply.ts: batching by program, order kept, per-line failures mapped back (fake Exec, no root). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyOps, parseBatchErrors } from '../../../src/agent/datapath/driver.js';
import type { Exec } from '../../../src/common/exec.js';
import type { Op } from '../../../src/agent/datapath/ops.js';

test('parseBatchErrors: failing line numbers with their messages', () => {
  const e = parseBatchErrors(
    'Cannot find device "x"\nCommand failed -:1\nRTNETLINK answers: File exists\nCommand failed -:3\n',
  );
  assert.deepEqual(
    [...e],
    [
      [1, 'Cannot find device "x"'],
      [3, 'RTNETLINK answers: File exists'],
    ],
  );
});

test('applyOps: consecutive ops of one program share a batch; failures do not stop the rest', async () => {
  const calls: { cmd: string; args: readonly string[]; input?: string }[] = [];
  const exec: Exec = async (cmd, args, opts) => {
    calls.push({ cmd, args, input: opts?.input });
    if (cmd === 'bridge')
      return { stdout: '', stderr: 'RTNETLINK answers: No such device\nCommand failed -:2\n', code: 1 };
    return { stdout: '', stderr: '', code: 0 };
  };
  const ops: Op[] = [
    { op: 'bridge-add', name: 'hnb-7', mtu: 1450, mac: '02:68:00:00:07:00' },
    { op: 'link-set', name: 'hnb-7', up: true },
    { op: 'bport-set', name: 'hnv-7', learning: false, neighSuppress: true },
    { op: 'fdb-add', mac: '00:00:00:00:00:00', dev: 'hnv-7', dst: '192.0.2.2' },
    { op: 'neigh-set', ip: '10.0.0.2', mac: 'fa:16:3e:00:00:02', dev: 'hnb-7' },
  ];
  const r = await applyOps(exec, ops);
  assert.deepEqual(
    calls.map((c) => [c.cmd, c.args.join(' '), c.input]),
    [
      [
        'ip',
        '-force -batch -',
        'link add name hnb-7 address 02:68:00:00:07:00 mtu 1450 type bridge\nlink set dev hnb-7 up\n',
      ],
      [
        'bridge',
        '-force -batch -',
        'link set dev hnv-7 learning off neigh_suppress on\nfdb append 00:00:00:00:00:00 dev hnv-7 dst 192.0.2.2 self permanent\n',
      ],
      ['ip', '-force -batch -', 'neigh replace 10.0.0.2 lladdr fa:16:3e:00:00:02 dev hnb-7 nud permanent\n'],
    ],
  );
  assert.equal(r.applied, 4);
  assert.deepEqual(
    r.failed.map((f) => [f.op.op, f.error]),
    [['fdb-add', 'RTNETLINK answers: No such device']],
  );
});

test('applyOps: no operations, no commands', async () => {
  let n = 0;
  const r = await applyOps(async () => {
    n++;
    return { stdout: '', stderr: '', code: 0 };
  }, []);
  assert.deepEqual([n, r.applied, r.failed.length], [0, 0, 0]);
});
