/**
 * The encrypted overlay end to end, as root: a real server and three real agent processes — a1 and
 * a2 in cloud-a, b in cloud-b — on one "internet" bridge (192.0.2.0/24, its own namespace), a
 * workload namespace per node, real wireguard-go and wg. Checks what an on-path observer sees
 * (tcpdump on the internet bridge), that forged VXLAN from the internet reaches no VM, the three
 * policies by live network updates, revocation of a disabled agent, and a key rotation under probing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../../../src/client/api.js';
import { realExec } from '../../../src/common/exec.js';
import { tapName } from '../../../src/model/kernel-names.js';
import type { Agent, Network, Port, Subnet } from '../../../src/model/types.js';
import { addNetns, Children, eventually, removeRun, runPrefix, sh, sweepStale } from '../netns.js';
import { needsRoot } from '../../../testkit/preconditions.js';
import { defaultWgIface } from '../../../src/agent/crypt/compile.js';

const BIN = new URL('../../../../bin/hypernet.js', import.meta.url).pathname;
const prefix = runPrefix('w');
const dir = join(tmpdir(), `hypernet-test-${prefix.slice(0, -1)}`);
const sock = join(dir, 'server.sock');
const logDir = new URL('../../../../artifacts/encrypted-overlay/', import.meta.url).pathname;

type Node = 'a1' | 'a2' | 'b';
const NODES: Node[] = ['a1', 'a2', 'b'];
const UNDERLAY: Record<Node, string> = { a1: '192.0.2.1', a2: '192.0.2.2', b: '192.0.2.3' };
const VM_IP: Record<Node, string> = { a1: '10.0.1.11', a2: '10.0.1.12', b: '10.0.1.13' };
const CLOUD: Record<Node, string> = { a1: 'cloud-a', a2: 'cloud-a', b: 'cloud-b' };
const INTERNET_IP = '192.0.2.254';
const ns = (n: Node | 'net' | `w${Node}`): string => `${prefix}${n}`;
const host = (n: Node): string => `host-${n}`;
const stateDir = (n: Node): string => join(dir, `agent-${n}`);

const children = new Children(logDir);
const start = (args: string[], logName: string) => children.start(args, logName);

const inNs = (n: string, cmd: string, args: string[], timeoutMs = 20_000) =>
  realExec('ip', ['netns', 'exec', n, cmd, ...args], { allowFail: true, timeoutMs });

/** tcpdump in a namespace, bounded by time and count; resolves with its text output once done. */
async function capture(n: string, iface: string, filter: string, seconds: number): Promise<() => Promise<string>> {
  const child = spawn(
    'ip',
    ['netns', 'exec', n, 'timeout', String(seconds), 'tcpdump', '-n', '-l', '-i', iface, '-c', '400', filter],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const done = new Promise<string>((r) => child.on('close', () => r(out)));
  await eventually(async () => out.includes('listening on'), 3_000);
  return () => done;
}

const ping = (from: Node, to: Node, count = 5) =>
  inNs(ns(`w${from}`), 'ping', ['-c', String(count), '-i', '0.1', '-W', '1', '-q', VM_IP[to]]);
const pingOk = async (from: Node, to: Node): Promise<boolean> => (await ping(from, to, 3)).code === 0;

/** `wg show IF dump` peer public keys of a node. */
async function wgPeers(n: Node): Promise<string[]> {
  const r = await inNs(ns(n), 'wg', ['show', defaultWgIface(host(n)), 'dump']);
  return r.stdout
    .trim()
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((l) => l.split('\t')[0]);
}

/**
 * A VXLAN packet as an attacker on the internet forges it: outer IPv4/UDP to `dst`:4789 with the
 * spoofed source `src`, VNI `vni`, an Ethernet frame to `mac` carrying UDP to `ip`:9999. Sent three
 * times from a raw socket in the internet namespace.
 */
function forgeScript(src: string, dst: string, vni: number, mac: string, ip: string): string {
  return `
import socket, struct
def csum(b):
    if len(b) % 2: b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
def ip4(src, dst, proto, payload):
    h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    return h[:10] + struct.pack('!H', csum(h)) + h[12:] + payload
def udp(sport, dport, payload):
    return struct.pack('!HHHH', sport, dport, 8 + len(payload), 0) + payload
inner = ip4('10.0.1.13', '${ip}', 17, udp(9999, 9999, b'forged-by-the-internet'))
frame = bytes.fromhex('${mac.replace(/:/g, '')}') + bytes.fromhex('02aabbccddee') + b'\\x08\\x00' + inner
vxlan = struct.pack('!II', 0x08000000, ${vni} << 8) + frame
pkt = ip4('${src}', '${dst}', 17, udp(40000, 4789, vxlan))
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for _ in range(3): s.sendto(pkt, ('${dst}', 0))
`;
}

describe('encrypted overlay (root, server, three nodes in two clouds)', { skip: needsRoot() }, () => {
  const api = new ApiClient({ url: `unix:${sock}`, timeoutMs: 5_000 });
  const ports = {} as Record<Node, Port>;
  const agents = {} as Record<Node, ChildProcess>;
  let network: Network;

  const startAgent = (n: Node): void => {
    agents[n] = start(
      [
        'ip',
        'netns',
        'exec',
        ns(n),
        'node',
        BIN,
        'agent',
        '--server',
        `unix:${sock}`,
        '--host',
        host(n),
        '--underlay-ip',
        UNDERLAY[n],
        '--cloud',
        CLOUD[n],
        '--netns-prefix',
        `${prefix}d${n}-`,
        '--state-dir',
        stateDir(n),
      ],
      `agent-${n}`,
    );
  };

  before(async () => {
    await sweepStale();
    rmSync(dir, { recursive: true, force: true });
    rmSync(logDir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    start(
      ['node', BIN, 'server', '--host', '127.0.0.1', '--port', '0', '--unix-socket', sock, '--data-dir', dir],
      'server',
    );
    assert.ok(
      await eventually(async () => existsSync(sock) && (await api.list('networks')) !== undefined, 15_000),
      'server up',
    );
    const net = await addNetns(ns('net'));
    await sh(net, ['ip link add br0 type bridge', `ip addr add ${INTERNET_IP}/24 dev br0`, 'ip link set br0 up']);
    for (const n of NODES) {
      const node = await addNetns(ns(n));
      await addNetns(ns(`w${n}`));
      await realExec('ip', [
        'link',
        'add',
        'u0',
        'netns',
        ns(n),
        'type',
        'veth',
        'peer',
        'name',
        `p-${n}`,
        'netns',
        ns('net'),
      ]);
      await sh(net, [`ip link set p-${n} master br0 up`]);
      await sh(node, [`ip addr add ${UNDERLAY[n]}/24 dev u0`, 'ip link set u0 up']);
    }
    network = await api.create<Network>('networks', 'network', { name: 'crypt' });
    const s = await api.create<Subnet>('subnets', 'subnet', {
      network_id: network.id,
      cidr: '10.0.1.0/24',
      ip_version: 4,
      enable_dhcp: false,
    });
    for (const n of NODES) {
      ports[n] = await api.create<Port>('ports', 'port', {
        network_id: network.id,
        'binding:host_id': host(n),
        fixed_ips: [{ subnet_id: s.id, ip_address: VM_IP[n] }],
      });
      // Play "nova": the tap on the node, eth0 in the workload (MTU for an encrypted leg: 1500 − 60 − 50).
      const p = ports[n];
      await realExec('ip', [
        '-n',
        ns(n),
        'link',
        'add',
        tapName(p.id),
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        ns(`w${n}`),
      ]);
      await realExec('ip', ['-n', ns(`w${n}`), 'link', 'set', 'eth0', 'address', p.mac_address, 'mtu', '1390', 'up']);
      await realExec('ip', ['-n', ns(`w${n}`), 'addr', 'add', `${VM_IP[n]}/24`, 'dev', 'eth0']);
    }
    for (const n of NODES) startAgent(n);
    const active = await eventually(async () => {
      const got = await Promise.all(NODES.map((n) => api.show<Port>('ports', 'port', ports[n].id)));
      return got.every((p) => p.status === 'ACTIVE');
    }, 30_000);
    assert.ok(active, 'every port ACTIVE');
  });

  after(async () => {
    await children.stopAll();
    // removeRun also ends the wireguard-go daemons the agents started (they live in the namespaces).
    await removeRun(prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  test('default policy: cross-cloud tunnels carry only WireGuard, inside a cloud VXLAN as before', async () => {
    assert.ok(await eventually(() => pingOk('a1', 'b'), 15_000), 'a1 → b');
    assert.ok(await eventually(() => pingOk('a1', 'a2'), 15_000), 'a1 → a2');
    const done = await capture(ns('net'), 'br0', 'udp', 8);
    for (const [from, to] of [
      ['a1', 'b'],
      ['b', 'a2'],
      ['a1', 'a2'],
    ] as const)
      assert.equal((await ping(from, to)).code, 0, `${from} → ${to}`);
    const lines = (await done()).split('\n');
    const vxlan = lines.filter((l) => / > [\d.]+\.4789: /.test(l));
    const wg = lines.filter((l) => /\.51820 > [\d.]+\.51820: /.test(l));
    assert.ok(
      vxlan.some((l) => l.includes(UNDERLAY.a1) && l.includes(UNDERLAY.a2)),
      `no plaintext VXLAN inside cloud-a:\n${lines.join('\n')}`,
    );
    // tcpdump decodes VXLAN: the inner addresses of the same-cloud pair are readable on the wire …
    assert.ok(
      lines.some((l) => l.includes(VM_IP.a1)),
      'the capture shows inner addresses of plaintext VXLAN',
    );
    // … while b's traffic is only WireGuard: no VXLAN to or from it, and never its VM's address.
    assert.deepEqual(
      vxlan.filter((l) => l.includes(UNDERLAY.b)),
      [],
    );
    assert.ok(!lines.some((l) => l.includes(VM_IP.b)), `b's VM address seen on the internet:\n${lines.join('\n')}`);
    assert.ok(
      wg.some((l) => l.includes(UNDERLAY.b)),
      'no WireGuard packets to or from b',
    );
  });

  test("hypernet status shows each node's encryption and its peers' handshake ages", async () => {
    const shown = async () =>
      (await realExec('node', [BIN, 'status', '--url', `unix:${sock}`, '-o', 'json'], { allowFail: true })).stdout;
    // Heartbeats carry the status (every 3 s); a handshake happened in the test before.
    const ok = await eventually(async () => {
      const r = JSON.parse((await shown()) || '{}') as {
        agents?: {
          host: string;
          encryption: { state: string; impl: string; peers: { host: string; handshake_age_s: number | null }[] } | null;
        }[];
      };
      const a1 = r.agents?.find((a) => a.host === host('a1'));
      const peers = a1?.encryption?.peers ?? [];
      return (
        a1?.encryption?.state === 'up' &&
        a1.encryption.impl === 'userspace' &&
        peers.length === 1 &&
        peers[0].host === host('b') &&
        peers[0].handshake_age_s !== null
      );
    }, 10_000);
    assert.ok(ok, await shown());
    const text = (await realExec('node', [BIN, 'status', '--url', `unix:${sock}`])).stdout;
    assert.match(text, new RegExp(`${host('a1')} .*up \\(wireguard-go\\) ${host('b')} \\d+s ago`));
  });

  test('forged VXLAN from the internet, posing as an encrypted peer, reaches no VM', async () => {
    const vni = network['provider:segmentation_id'];
    const forge = async (src: string): Promise<string> => {
      // 6 s: the forger (a python start) may take seconds on a loaded machine, and must send inside it.
      const done = await capture(ns('wa1'), 'eth0', 'udp port 9999', 6);
      const r = await inNs(ns('net'), 'python3', [
        '-c',
        forgeScript(src, UNDERLAY.a1, vni, ports.a1.mac_address, VM_IP.a1),
      ]);
      assert.equal(r.code, 0, r.stderr);
      return done();
    };
    // Posing as b (cloud-b: its VXLAN must come through WireGuard): dropped by the node.
    assert.match(await forge(UNDERLAY.b), /\b0 packets captured/);
    // The same packet posing as a2 (same cloud, plaintext by policy) is delivered: the forgery is well formed.
    assert.doesNotMatch(await forge(UNDERLAY.a2), /\b0 packets captured/);
  });

  test('policies all and none, set on the network while traffic flows', async () => {
    const onWire = async (from: Node, to: Node): Promise<string[]> => {
      const done = await capture(ns('net'), 'br0', 'udp port 4789', 4);
      await ping(from, to, 3);
      return (await done()).split('\n').filter((l) => l.includes('.4789: '));
    };
    await api.update('networks', 'network', network.id, { 'hypernet:encryption': 'all' });
    assert.ok(await eventually(async () => (await wgPeers('a1')).length === 2, 10_000), 'a1 has peers a2 and b');
    assert.ok(await eventually(() => pingOk('a1', 'a2'), 10_000), 'a1 → a2 under all');
    assert.deepEqual(await onWire('a1', 'a2'), []);

    await api.update('networks', 'network', network.id, { 'hypernet:encryption': 'none' });
    assert.ok(await eventually(async () => (await wgPeers('a1')).length === 0, 10_000), 'a1 has no peers');
    assert.ok(await eventually(() => pingOk('a1', 'b'), 10_000), 'a1 → b under none');
    const plain = await onWire('a1', 'b');
    assert.ok(
      plain.some((l) => l.includes(UNDERLAY.b)),
      'under none, a1 ↔ b is plain VXLAN',
    );

    await api.update('networks', 'network', network.id, { 'hypernet:encryption': null });
    const net = await api.show<Network>('networks', 'network', network.id);
    assert.equal(net['hypernet:encryption_effective'], 'cross-cloud');
    assert.ok(await eventually(async () => (await wgPeers('a1')).length === 1, 10_000), 'a1 ↔ b encrypted again');
    assert.ok(await eventually(() => pingOk('a1', 'b'), 10_000));
  });

  test('a disabled agent is revoked: its key leaves every peer and its tunnels are cut', async () => {
    const [b] = await api.list<Agent>('agents', { host: host('b') });
    const key = b['hypernet:wireguard_public_key']!;
    assert.ok((await wgPeers('a1')).includes(key));
    await api.update('agents', 'agent', b.id, { admin_state_up: false });
    const gone = await eventually(
      async () => !(await wgPeers('a1')).includes(key) && !(await wgPeers('a2')).includes(key),
      10_000,
    );
    assert.ok(gone, "b's key is still a peer");
    assert.notEqual((await ping('a1', 'b', 3)).code, 0, 'a1 still reaches revoked b');
    assert.notEqual((await ping('b', 'a2', 3)).code, 0, 'revoked b still reaches a2');
    await api.update('agents', 'agent', b.id, { admin_state_up: true });
    assert.ok(await eventually(() => pingOk('a1', 'b'), 15_000), 'b back after re-enabling');
  });

  test('key rotation under 10 ms probing', async () => {
    const [b] = await api.list<Agent>('agents', { host: host('b') });
    const before = b['hypernet:wireguard_public_key'];
    assert.ok(await eventually(() => pingOk('a1', 'b'), 10_000));
    const probe = inNs(ns('wa1'), 'ping', ['-c', '800', '-i', '0.01', '-W', '1', '-q', VM_IP.b], 30_000);
    await new Promise((r) => setTimeout(r, 1_000));
    const rot = await realExec('node', [BIN, 'agent', 'rotate-key', '--state-dir', stateDir('b')]);
    assert.match(rot.stdout, /new public key/);
    const r = await probe;
    const [, sent, received] = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout) ?? [];
    const [after] = await api.list<Agent>('agents', { host: host('b') });
    assert.notEqual(after['hypernet:wireguard_public_key'], before, 'the new key was registered');
    assert.ok((await wgPeers('a1')).includes(after['hypernet:wireguard_public_key']!));
    const lost = Number(sent) - Number(received);
    process.stdout.write(`# key rotation: ${lost} of ${sent} probes lost\n`);
    assert.ok(lost <= 1, `${lost} probes lost during the rotation:\n${r.stdout}`);
  });
});
