/**
 * CryptReconciler with a recording runner (no root): wireguard-go's tuning (socket buffers, RPS)
 * failing leaves the node up with a warning, while a failed `wg set` is the pass's error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Exec } from '../../../src/common/exec.js';
import type { Logger } from '../../../src/common/log.js';
import { CryptReconciler } from '../../../src/agent/crypt/reconciler.js';
import type { Agent } from '../../../src/model/types.js';
import { agent, net, port, view } from '../../../testkit/model-fixtures.js';

const PEER_KEY = 'qzgTXeKQ8PKQPoFSFsr4ouby44vwTvNQb7v3eGCT/ig=';

function ag(host: string, ip: string, cloud: string, key?: string): Agent {
  const a = agent(`id-${host}`, host, ip);
  return {
    ...a,
    created_at: `2026-01-01T00:00:0${ip.slice(-1)}Z`,
    configurations: { ...a.configurations, cloud },
    ...(key ? { 'hypernet:wireguard_public_key': key } : {}),
  };
}

/** A wireguard-go interface that exists once created; `fails` picks the programs that fail. */
function fakeWg(fails: (cmd: string, args: readonly string[]) => boolean): { exec: Exec; calls: string[] } {
  let created = false;
  const calls: string[] = [];
  const exec: Exec = async (cmd, args) => {
    calls.push(`${cmd} ${args.join(' ')}`);
    const out = (stdout: string, code = 0) => ({ stdout, stderr: code ? 'boom' : '', code });
    if (fails(cmd, args)) return out('', 1);
    if (cmd === 'ip' && args.includes('type')) return out('', 1); // the kernel module probe: none here
    if (cmd === 'wireguard-go') created = true;
    if (cmd === 'ip' && args[0] === '-j') return created ? out('[{"mtu":1440,"flags":["UP"]}]') : out('', 1);
    if (cmd === 'wg' && args[0] === 'show') return created ? out('priv\tpub\t51820\toff\n') : out('', 1);
    return out('');
  };
  return { exec, calls };
}

function setup(fails: (cmd: string, args: readonly string[]) => boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'hnF-crypt-rec-'));
  const warnings: unknown[] = [];
  const log = {
    info: () => undefined,
    warn: (o: unknown) => warnings.push(o),
    child: () => log,
  } as unknown as Logger;
  const { exec, calls } = fakeWg(fails);
  const node = {
    host: 'a',
    underlayIp: '192.0.2.1',
    underlayMtu: 1500,
    iface: 'hnwg0',
    listenPort: 51820,
    socketBuffer: 7 << 20,
    rpsCpus: '00000003',
  };
  const rec = new CryptReconciler({ exec, node, stateDir: dir, mode: 'auto', log });
  const agents = [ag('a', '192.0.2.1', 'cloud-a', rec.keys.publicKey), ag('b', '198.51.100.1', 'cloud-b', PEER_KEY)];
  const model = view({
    networks: [net('n1', 100)],
    agents,
    ports: [
      port('p-a', 'n1', 'a', 'fa:16:3e:00:00:01', ['10.0.0.1']),
      port('p-b', 'n1', 'b', 'fa:16:3e:00:00:02', ['10.0.0.2']),
    ],
  });
  return { rec, model, calls, warnings, done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('a failed tuning of wireguard-go is a warning: the node is up', async () => {
  const s = setup((cmd) => cmd.endsWith('hn-wgbuf') || cmd === 'unshare');
  try {
    await s.rec.reconcile(s.model);
    assert.ok(s.calls.some((c) => c.startsWith('wireguard-go hnwg0')));
    assert.ok(s.calls.some((c) => /hn-wgbuf hnwg0 7340032$/.test(c)));
    assert.ok(s.calls.some((c) => c.startsWith('unshare') && c.endsWith('hnwg0 queues/rx-0/rps_cpus 00000003')));
    assert.equal(s.rec.status.state, 'up');
    assert.equal(s.warnings.length, 1);
    assert.match(JSON.stringify(s.warnings[0]), /sockbuf: .*rps: /);
  } finally {
    s.done();
  }
});

test('a failed wg set is the pass error, shown in the status', async () => {
  const s = setup((cmd, args) => cmd === 'wg' && args[0] === 'set');
  try {
    await assert.rejects(s.rec.reconcile(s.model), /set-key: wg set hnwg0/);
    assert.equal(s.rec.status.state, 'error');
  } finally {
    s.done();
  }
});

test('the guard table is applied by its own step, after the peers', async () => {
  const s = setup(() => false);
  try {
    await s.rec.reconcile(s.model);
    assert.ok(s.calls.some((c) => c.startsWith('wg set hnwg0 peer')));
    assert.ok(!s.calls.some((c) => c.startsWith('nft')), 'the crypt step leaves the guard alone');
    await s.rec.guard.reconcile(s.model);
    assert.deepEqual(
      s.calls.filter((c) => c.startsWith('nft')),
      ['nft -f -'],
    );
    // Applied once: the next step with the same compile runs nothing.
    await s.rec.guard.reconcile(s.model);
    assert.equal(s.calls.filter((c) => c.startsWith('nft')).length, 1);
  } finally {
    s.done();
  }
});

test('a failed guard table is its step error, and is tried again', async () => {
  let fail = true;
  const s = setup((cmd) => cmd === 'nft' && fail);
  try {
    await s.rec.reconcile(s.model);
    await assert.rejects(s.rec.guard.reconcile(s.model), /nft -f -: boom/);
    fail = false;
    await s.rec.guard.reconcile(s.model);
    assert.equal(s.calls.filter((c) => c.startsWith('nft')).length, 2);
  } finally {
    s.done();
  }
});

test('a port leaving a pair changes only the guard: the crypt step reads nothing, the guard follows', async () => {
  const s = setup(() => false);
  try {
    await s.rec.reconcile(s.model);
    await s.rec.guard.reconcile(s.model);
    // b's port goes: the pair is plaintext now, b stays a peer (its cloud may still need one).
    const left = view({
      networks: [net('n1', 100)],
      agents: [...s.model.agents.values()],
      ports: [port('p-a', 'n1', 'a', 'fa:16:3e:00:00:01', ['10.0.0.1'])],
    });
    const before = s.calls.length;
    await s.rec.reconcile(left, { full: false, modelChanged: true });
    assert.deepEqual(s.calls.slice(before), [], 'no read of the interface, no wg set');
    await s.rec.guard.reconcile(left, { full: false, modelChanged: true });
    assert.deepEqual(s.calls.slice(before), ['nft -f -']);
  } finally {
    s.done();
  }
});
