/**
 * The WireGuard driver: commands rendered for each op and the apply's failure handling with a
 * recording runner (no root); `wg show dump` parsing; and, as root in a namespace of this run, the
 * implementation choice (forcing the kernel module where there is none fails closed with a clear
 * error; auto picks what works) and a real wireguard-go interface converged from nothing and again.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Exec, ExecResult } from '../../../src/common/exec.js';
import { realExec } from '../../../src/common/exec.js';
import { applyWg, chooseImpl, parseDump, readWg, WgUnavailableError } from '../../../src/agent/crypt/driver.js';
import { diffWg } from '../../../src/agent/crypt/diff.js';
import { loadKeys, publicKeyOf, rotate } from '../../../src/agent/crypt/keys.js';
import type { DesiredWg, WgOp } from '../../../src/agent/crypt/types.js';
import { renderGuard } from '../../../src/agent/crypt/compile.js';
import { WG_SOCKET_BUFFER } from '../../../src/agent/native/wgbuf.js';
import { addNetns, removeRun, runPrefix, sweepStale } from '../netns.js';
import { needsRoot } from '../../../testkit/preconditions.js';

const K2 = 'nSlFaIxqURc+SWvGIOgRRI0ODpxAS4/NTkpEOznGJDw=';
const K3 = 'qzgTXeKQ8PKQPoFSFsr4ouby44vwTvNQb7v3eGCT/ig=';

function recorder(fail: (cmd: string, args: readonly string[]) => boolean = () => false) {
  const calls: string[] = [];
  const exec: Exec = async (cmd, args) => {
    calls.push(`${cmd} ${args.join(' ')}`);
    const code = fail(cmd, args) ? 1 : 0;
    return { stdout: '', stderr: code ? 'boom' : '', code } satisfies ExecResult;
  };
  return { exec, calls };
}

const peer = { host: 'b', publicKey: K2, endpoint: '192.0.2.3:51820', allowedIps: ['100.127.0.3/32', '192.0.2.3/32'] };
const ops: WgOp[] = [
  { op: 'create', iface: 'hnwg0', impl: 'userspace' },
  { op: 'set-key', iface: 'hnwg0', privateKeyFile: '/k', listenPort: 51820 },
  { op: 'link', iface: 'hnwg0', mtu: 1440 },
  { op: 'addr-add', iface: 'hnwg0', cidr: '100.127.0.1/16' },
  { op: 'peer-set', iface: 'hnwg0', peer },
  { op: 'nft', text: 'table inet hypernet_wg {}\n' },
];

test('apply renders each op as one program run, in order', async () => {
  const { exec, calls } = recorder();
  const r = await applyWg(exec, ops);
  assert.equal(r.applied, ops.length);
  assert.deepEqual(calls, [
    'wireguard-go hnwg0',
    'wg set hnwg0 listen-port 51820 private-key /k',
    'ip link set dev hnwg0 mtu 1440 up',
    'sysctl -qw net.ipv4.conf.hnwg0.rp_filter=2',
    'ip addr replace 100.127.0.1/16 dev hnwg0',
    `wg set hnwg0 peer ${K2} endpoint 192.0.2.3:51820 allowed-ips 100.127.0.3/32,192.0.2.3/32`,
    'nft -f -',
  ]);
  const kernel = recorder();
  await applyWg(kernel.exec, [{ op: 'create', iface: 'hnwg0', impl: 'kernel' }]);
  assert.deepEqual(kernel.calls, ['ip link add dev hnwg0 type wireguard']);
  const nudge = recorder();
  await applyWg(nudge.exec, [{ op: 'handshake', iface: 'hnwg0', publicKeys: [K2, K3] }]);
  assert.deepEqual(nudge.calls, [
    `wg set hnwg0 peer ${K2} persistent-keepalive 1 peer ${K3} persistent-keepalive 1`,
    `wg set hnwg0 peer ${K2} persistent-keepalive off peer ${K3} persistent-keepalive off`,
  ]);
  const queue = recorder();
  await applyWg(queue.exec, [{ op: 'link', iface: 'hnwg0', mtu: 1440, txQueueLen: 2000 }]);
  assert.equal(queue.calls[0], 'ip link set dev hnwg0 mtu 1440 txqueuelen 2000 up');
});

test('a failed create fails what needs the interface, but the guard is still applied', async () => {
  const { exec, calls } = recorder((cmd) => cmd === 'wireguard-go');
  const r = await applyWg(exec, ops);
  assert.equal(r.applied, 1);
  assert.deepEqual(
    r.failed.map((f) => f.op.op),
    ['create', 'set-key', 'link', 'addr-add', 'peer-set'],
  );
  assert.deepEqual(calls, ['wireguard-go hnwg0', 'nft -f -']);
});

test('parseDump reads the interface line and the peers', () => {
  const d = parseDump(
    'PRIV\tPUB\t51820\toff\n' +
      `${K2}\t(none)\t192.0.2.3:51820\t100.127.0.3/32,192.0.2.3/32\t1796588333\t1108\t1052\toff\n` +
      'OTHER=\t(none)\t(none)\t(none)\t0\t0\t0\toff\n',
  );
  assert.deepEqual(d, {
    publicKey: 'PUB',
    listenPort: 51820,
    peers: [
      {
        publicKey: K2,
        endpoint: '192.0.2.3:51820',
        allowedIps: ['100.127.0.3/32', '192.0.2.3/32'],
        latestHandshake: 1796588333,
        rxBytes: 1108,
        txBytes: 1052,
      },
      { publicKey: 'OTHER=', endpoint: null, allowedIps: [], latestHandshake: 0, rxBytes: 0, txBytes: 0 },
    ],
  });
  assert.equal(parseDump(''), null);
});

test('keys: private key file 0600, public key as wg computes it, rotation keeps the previous pair', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hnwg-keys-'));
  try {
    // A state dir made here keeps the usual mode (dnsmasq, as another user, reads files under it).
    const state = join(dir, 'state');
    const k = loadKeys(state);
    assert.equal(statSync(k.privateKeyFile).mode & 0o777, 0o600);
    assert.equal(statSync(join(state, 'wireguard')).mode & 0o777, 0o700);
    assert.equal(statSync(state).mode & 0o005, 0o005 & ~process.umask());
    assert.equal(k.previous, null);
    assert.deepEqual(loadKeys(state).publicKey, k.publicKey, 'loaded, not made again');
    const wg = await realExec('wg', ['pubkey'], {
      input: (await import('node:fs')).readFileSync(k.privateKeyFile, 'utf8'),
      allowFail: true,
    });
    if (wg.code === 0) assert.equal(wg.stdout.trim(), k.publicKey);
    const r = rotate(state);
    const after = loadKeys(state);
    assert.equal(after.publicKey, r.publicKey);
    assert.notEqual(after.publicKey, k.publicKey);
    assert.equal(after.previous?.publicKey, k.publicKey);
    assert.throws(() => publicKeyOf('not a key'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('driver in a namespace (root, real wireguard-go and wg)', { skip: needsRoot() }, () => {
  const prefix = runPrefix('g');
  const ns = `${prefix}n`;
  let exec: Exec;
  let dir: string;
  before(async () => {
    await sweepStale();
    exec = await addNetns(ns);
    dir = mkdtempSync(join(tmpdir(), 'hnwg-drv-'));
  });
  after(async () => {
    await exec?.('ip', ['link', 'del', 'dev', 'hnwgt0'], { allowFail: true });
    await removeRun(prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  test('forcing the kernel module where the kernel has none fails closed; auto picks what works', async () => {
    const kernel =
      (await exec('ip', ['link', 'add', 'dev', 'hnwgk0', 'type', 'wireguard'], { allowFail: true })).code === 0;
    if (kernel) {
      await exec('ip', ['link', 'del', 'dev', 'hnwgk0']);
      assert.equal(await chooseImpl(exec, 'kernel'), 'kernel');
      assert.equal(await chooseImpl(exec, 'auto'), 'kernel');
    } else {
      await assert.rejects(chooseImpl(exec, 'kernel'), (e: Error) => {
        assert.ok(e instanceof WgUnavailableError);
        assert.match(e.message, /kernel WireGuard forced, but this kernel has none/);
        return true;
      });
      assert.equal(await chooseImpl(exec, 'auto'), 'userspace');
    }
    assert.equal(await chooseImpl(exec, 'userspace'), 'userspace');
    // The probe leaves nothing behind.
    assert.equal((await exec('ip', ['link', 'show', 'dev', 'hnwgprobe0'], { allowFail: true })).code !== 0, true);
  });

  test('wireguard-go: converged from nothing, then nothing to do; a peer removed', async () => {
    const keys = loadKeys(dir);
    const desired: DesiredWg = {
      iface: 'hnwgt0',
      listenPort: 51999,
      privateKeyFile: keys.privateKeyFile,
      publicKey: keys.publicKey,
      mtu: 1440,
      address: '100.127.0.1/16',
      peers: [peer],
      plainPeers: ['192.0.2.2'],
      nft: renderGuard('hnwgt0', ['192.0.2.2']),
      socketBuffer: WG_SOCKET_BUFFER,
      rpsCpus: '00000001',
      txQueueLen: 2000,
    };
    const first = diffWg(desired, await readWg(exec, 'hnwgt0'), 'userspace', null);
    const r = await applyWg(exec, first);
    assert.deepEqual(r.failed, []);
    const got = await readWg(exec, 'hnwgt0');
    assert.equal(got.publicKey, keys.publicKey);
    assert.equal(got.mtu, 1440);
    assert.equal(got.txQueueLen, 2000);
    assert.deepEqual(got.addresses, ['100.127.0.1/16']);
    // hn-wgbuf raised the daemon's sockets (the kernel reports twice what was asked; the default is 208 KiB).
    assert.ok((got.socketBuffer ?? 0) >= WG_SOCKET_BUFFER, `socket buffer ${got.socketBuffer}`);
    const rps = await exec('sh', ['-c', 'cat /sys/class/net/hnwgt0/queues/rx-0/rps_cpus']);
    assert.match(rps.stdout.trim(), /^[0,]*1$/);
    assert.deepEqual(diffWg(desired, got, 'userspace', desired.nft), []);
    const nft = await exec('nft', ['list', 'table', 'inet', 'hypernet_wg']);
    assert.match(nft.stdout, /udp dport 4789 ip saddr @plain4 accept/);
    const gone = diffWg({ ...desired, peers: [] }, got, 'userspace', desired.nft);
    assert.deepEqual(
      gone.map((o) => o.op),
      ['peer-del'],
    );
    await applyWg(exec, gone);
    assert.deepEqual((await readWg(exec, 'hnwgt0')).peers, []);
  });
});
