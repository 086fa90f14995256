/** diffWg, pure: the ops from desired vs actual, in order, and nothing when they agree. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffWg } from '../../../src/agent/crypt/diff.js';
import { cpuMask } from '../../../src/agent/net-sysfs.js';
import type { ActualWg, DesiredWg } from '../../../src/agent/crypt/types.js';

const K1 = 'HPu4agnfCrLt5tkdILy/YQkvTc8yxOt8FintexJkjiE=';
const K2 = 'nSlFaIxqURc+SWvGIOgRRI0ODpxAS4/NTkpEOznGJDw=';
const K3 = 'qzgTXeKQ8PKQPoFSFsr4ouby44vwTvNQb7v3eGCT/ig=';
const peer = { host: 'b', publicKey: K2, endpoint: '192.0.2.3:51820', allowedIps: ['100.127.0.3/32', '192.0.2.3/32'] };
const desired: DesiredWg = {
  iface: 'hnwg0',
  listenPort: 51820,
  privateKeyFile: '/k',
  publicKey: K1,
  mtu: 1440,
  address: '100.127.0.1/16',
  peers: [peer],
  plainPeers: [],
  nft: 'table',
  socketBuffer: 0,
  rpsCpus: '',
  txQueueLen: 0,
};
const none: ActualWg = {
  exists: false,
  mtu: 0,
  up: false,
  txQueueLen: 0,
  addresses: [],
  publicKey: null,
  listenPort: null,
  peers: [],
  socketBuffer: null,
};
const converged: ActualWg = {
  exists: true,
  mtu: 1440,
  up: true,
  txQueueLen: 500,
  addresses: ['100.127.0.1/16'],
  publicKey: K1,
  listenPort: 51820,
  peers: [{ ...peer, latestHandshake: 0, rxBytes: 0, txBytes: 0 }],
  socketBuffer: 212992,
};

test('from nothing: interface, key, link, address, peer, guard — in that order', () => {
  assert.deepEqual(
    diffWg(desired, none, 'userspace', null).map((o) => o.op),
    ['create', 'set-key', 'link', 'addr-add', 'peer-set', 'nft'],
  );
  assert.deepEqual(diffWg(desired, none, 'kernel', null)[0], { op: 'create', iface: 'hnwg0', impl: 'kernel' });
});

test('converged: no op (allowed addresses compared as sets)', () => {
  assert.deepEqual(diffWg(desired, converged, 'userspace', 'table'), []);
  const swapped = { ...converged, peers: [{ ...converged.peers[0], allowedIps: [...peer.allowedIps].reverse() }] };
  assert.deepEqual(diffWg(desired, swapped, 'userspace', 'table'), []);
});

test('a rotated peer key: the new peer is set before the old one is removed, then a handshake starts', () => {
  const rotated = { ...desired, peers: [{ ...peer, publicKey: K3 }] };
  assert.deepEqual(
    diffWg(rotated, converged, 'userspace', 'table').map((o) => [
      o.op,
      'peer' in o ? o.peer.publicKey : 'publicKey' in o ? o.publicKey : 'publicKeys' in o ? o.publicKeys.join() : '',
    ]),
    [
      ['peer-set', K3],
      ['peer-del', K2],
      ['handshake', K3],
    ],
  );
  // A new node (no stale key with its addresses) is not nudged: it may not be up yet.
  const other = {
    host: 'c',
    publicKey: K3,
    endpoint: '192.0.2.4:51820',
    allowedIps: ['100.127.0.4/32', '192.0.2.4/32'],
  };
  assert.deepEqual(
    diffWg({ ...desired, peers: [peer, other] }, converged, 'userspace', 'table').map((o) => o.op),
    ['peer-set'],
  );
});

test('own key rotated, stale address, changed guard', () => {
  const ops = diffWg(
    { ...desired, publicKey: K3, nft: 'table2' },
    { ...converged, addresses: ['100.127.0.1/16', '100.127.9.9/16'] },
    'userspace',
    'table',
  );
  assert.deepEqual(
    ops.map((o) => o.op),
    ['set-key', 'handshake', 'addr-del', 'nft'],
  );
  assert.deepEqual(ops[1], { op: 'handshake', iface: 'hnwg0', publicKeys: [K2] });
  // Roaming peers (agentless clients, no endpoint) are never nudged: there is nowhere to send to.
  const roaming = { ...desired, publicKey: K3, peers: [{ ...peer, endpoint: null }] };
  assert.ok(!diffWg(roaming, converged, 'userspace', 'table').some((o) => o.op === 'handshake'));
});

test("wireguard-go's socket buffers: raised after the link is up, again when they are small; never for the kernel", () => {
  const big = { ...desired, socketBuffer: 7 << 20 };
  assert.deepEqual(
    diffWg(big, none, 'userspace', null).map((o) => o.op),
    ['create', 'set-key', 'link', 'sockbuf', 'addr-add', 'peer-set', 'nft'],
  );
  assert.ok(!diffWg(big, none, 'kernel', null).some((o) => o.op === 'sockbuf'));
  assert.deepEqual(diffWg(big, converged, 'userspace', 'table'), [{ op: 'sockbuf', iface: 'hnwg0', bytes: 7 << 20 }]);
  assert.deepEqual(diffWg(big, { ...converged, socketBuffer: 2 * (7 << 20) }, 'userspace', 'table'), []);
  // A new listen port means new sockets with the default buffer, whatever was read before.
  assert.deepEqual(
    diffWg(big, { ...converged, listenPort: 51821, socketBuffer: 2 * (7 << 20) }, 'userspace', 'table').map(
      (o) => o.op,
    ),
    ['set-key', 'sockbuf', 'handshake'],
  );
});

test('RPS on a wireguard-go interface: set with its link, not for the kernel module', () => {
  const rps = { ...desired, rpsCpus: '00000003' };
  const ops = diffWg(rps, none, 'userspace', null);
  assert.deepEqual(
    ops.map((o) => o.op),
    ['create', 'set-key', 'link', 'rps', 'addr-add', 'peer-set', 'nft'],
  );
  assert.deepEqual(ops[3], { op: 'rps', iface: 'hnwg0', cpus: '00000003' });
  assert.ok(!diffWg(rps, none, 'kernel', null).some((o) => o.op === 'rps'));
  assert.deepEqual(diffWg(rps, converged, 'userspace', 'table'), []);
  assert.deepEqual(
    diffWg(rps, { ...converged, mtu: 1420 }, 'userspace', 'table').map((o) => o.op),
    ['link', 'rps'],
  );
});

test('TX queue of a wireguard-go interface: set with its link when it differs, not for the kernel module', () => {
  const long = { ...desired, txQueueLen: 2000 };
  const fresh = diffWg(long, none, 'userspace', null);
  assert.deepEqual(fresh[2], { op: 'link', iface: 'hnwg0', mtu: 1440, txQueueLen: 2000 });
  // The default queue (500) is raised on a running interface; once it is there, nothing to do.
  assert.deepEqual(diffWg(long, converged, 'userspace', 'table'), [
    { op: 'link', iface: 'hnwg0', mtu: 1440, txQueueLen: 2000 },
  ]);
  assert.deepEqual(diffWg(long, { ...converged, txQueueLen: 2000 }, 'userspace', 'table'), []);
  // The kernel module: the queue is left as it is.
  assert.deepEqual(diffWg(long, converged, 'kernel', 'table'), []);
  assert.deepEqual(diffWg(long, none, 'kernel', null)[2], { op: 'link', iface: 'hnwg0', mtu: 1440 });
});

test('cpuMask: sysfs hex groups of 32 CPUs', () => {
  assert.equal(cpuMask(2), '00000003');
  assert.equal(cpuMask(32), 'ffffffff');
  assert.equal(cpuMask(33), '00000001,ffffffff');
});
