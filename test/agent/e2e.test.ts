/**
 * End to end, as root: a real `hypernet server` (Unix socket), two "hyperswitch" namespaces on an
 * underlay veth pair (192.0.2.0/24) each running a real `hypernet agent` process, two workload
 * namespaces with static IPs on taps; the ports go ACTIVE and a bounded ping crosses the VXLAN.
 * Deleting a port removes its FDB/neighbour entries on the other node.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../../src/client/api.js';
import { realExec } from '../../src/common/exec.js';
import { readKernel } from '../../src/agent/datapath/kernel-parse.js';
import { tapName } from '../../src/model/kernel-names.js';
import type { Network, Port, Subnet } from '../../src/model/types.js';
import { addNetns, Children, eventually, isRoot, removeRun, runPrefix, sh, sweepStale } from './netns.js';
import { needsRoot } from '../../testkit/preconditions.js';

const BIN = new URL('../../../bin/hypernet.js', import.meta.url).pathname;
const prefix = runPrefix('e');
const dir = join(tmpdir(), `hypernet-test-${prefix.slice(0, -1)}`);
const sock = join(dir, 'server.sock');
/** Process logs are kept (artifacts/) so a failure can be read after the run. */
const logDir = new URL(`../../../artifacts/agent-e2e/`, import.meta.url).pathname;
/** The executable must run: a broken build fails these tests, it does not skip them. */
async function assertServerRuns(): Promise<void> {
  const r = await realExec('node', [BIN, 'server', '--help'], { allowFail: true });
  if (r.code !== 0) throw new Error(`hypernet server --help failed (exit ${r.code}): ${r.stderr.trim()}`);
}

const children = new Children(logDir);
const start = (args: string[], logName: string): ChildProcess => children.start(args, logName);
const stop = (c: ChildProcess): Promise<void> => children.stop(c);
const stopAll = (): Promise<void> => children.stopAll();

describe('agent end to end (root, server, two nodes)', { skip: needsRoot() }, () => {
  const api = new ApiClient({ url: `unix:${sock}`, timeoutMs: 5_000 });
  const ns = { a: `${prefix}hsa`, b: `${prefix}hsb`, wa: `${prefix}wa`, wb: `${prefix}wb` };
  const ips = { a: '192.0.2.1', b: '192.0.2.2' };
  let ports: { a: Port; b: Port };
  let agentA: ChildProcess;
  let server: ChildProcess;
  const startAgent = (node: string, host: string, ip: string, tag: string): ChildProcess =>
    start(
      [
        'ip',
        'netns',
        'exec',
        node,
        'node',
        BIN,
        'agent',
        '--server',
        `unix:${sock}`,
        '--host',
        host,
        '--underlay-ip',
        ip,
        '--cloud',
        `cloud-${tag}`,
        '--netns-prefix',
        `${prefix}d${tag}-`,
        '--state-dir',
        join(dir, `agent-${tag}`),
      ],
      `agent-${tag}`,
    );
  const execA = (c: string, a: readonly string[], o?: object) => realExec('ip', ['netns', 'exec', ns.a, c, ...a], o);
  /** Our devices on node A with their ifindex, and our FDB/neighbour entries: changes mean a flap. */
  const fingerprintA = async (): Promise<string> => {
    const links = JSON.parse((await execA('ip', ['-json', 'link', 'show'])).stdout) as {
      ifname: string;
      ifindex: number;
    }[];
    const k = await readKernel(execA);
    return JSON.stringify([
      links
        .filter((l) => /^(hnb-|hnv-|tap)/.test(l.ifname))
        .map((l) => `${l.ifname}:${l.ifindex}`)
        .sort(),
      k.fdb
        .filter((e) => e.dev.startsWith('hnv-') && (e.dst || e.state === 'static'))
        .map((e) => `${e.mac}>${e.dst}`)
        .sort(),
      k.neigh
        .filter((x) => x.dev.startsWith('hnb-') && x.permanent)
        .map((x) => `${x.ip}=${x.mac}`)
        .sort(),
    ]);
  };

  before(async () => {
    await assertServerRuns();
    await sweepStale();
    rmSync(dir, { recursive: true, force: true });
    rmSync(logDir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    server = start(
      ['node', BIN, 'server', '--host', '127.0.0.1', '--port', '0', '--unix-socket', sock, '--data-dir', dir],
      'server',
    );
    assert.ok(
      await eventually(async () => existsSync(sock) && (await api.list('networks')) !== undefined, 15_000),
      'server up',
    );

    const execA = await addNetns(ns.a);
    const execB = await addNetns(ns.b);
    await addNetns(ns.wa);
    await addNetns(ns.wb);
    await realExec('ip', ['link', 'add', 'u0', 'netns', ns.a, 'type', 'veth', 'peer', 'name', 'u0', 'netns', ns.b]);
    await sh(execA, [`ip addr add ${ips.a}/24 dev u0`, 'ip link set u0 up']);
    await sh(execB, [`ip addr add ${ips.b}/24 dev u0`, 'ip link set u0 up']);

    const n = await api.create<Network>('networks', 'network', { name: 'e2e' });
    const s = await api.create<Subnet>('subnets', 'subnet', {
      network_id: n.id,
      cidr: '10.0.1.0/24',
      ip_version: 4,
      enable_dhcp: false,
    });
    const mk = (host: string, ip: string) =>
      api.create<Port>('ports', 'port', {
        network_id: n.id,
        'binding:host_id': host,
        fixed_ips: [{ subnet_id: s.id, ip_address: ip }],
      });
    ports = { a: await mk('hostA', '10.0.1.10'), b: await mk('hostB', '10.0.1.11') };

    // Play "nova": a veth per port, tap end on the node, the other end in the workload namespace.
    for (const [node, wl, p, ip] of [
      [ns.a, ns.wa, ports.a, '10.0.1.10'],
      [ns.b, ns.wb, ports.b, '10.0.1.11'],
    ] as const) {
      await realExec('ip', [
        '-n',
        node,
        'link',
        'add',
        tapName(p.id),
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        wl,
      ]);
      await realExec('ip', ['-n', wl, 'link', 'set', 'eth0', 'address', p.mac_address, 'mtu', '1450', 'up']);
      await realExec('ip', ['-n', wl, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    }

    agentA = startAgent(ns.a, 'hostA', ips.a, 'a');
    startAgent(ns.b, 'hostB', ips.b, 'b');
  });

  after(async () => {
    await stopAll();
    await removeRun(prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  test('ports go ACTIVE and a ping crosses the VXLAN', async () => {
    const active = await eventually(async () => {
      const [a, b] = await Promise.all([
        api.show<Port>('ports', 'port', ports.a.id),
        api.show<Port>('ports', 'port', ports.b.id),
      ]);
      return a.status === 'ACTIVE' && b.status === 'ACTIVE' && a['binding:vif_type'] === 'tap';
    }, 20_000);
    assert.ok(active, 'both ports ACTIVE with vif_type tap');
    const ping = await realExec('ip', ['netns', 'exec', ns.wa, 'ping', '-c', '3', '-w', '10', '10.0.1.11'], {
      allowFail: true,
      timeoutMs: 15_000,
    });
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
    // ARP was answered on node A from the neighbour entry the agent installed.
    const kA = await readKernel((c, a, o) => realExec('ip', ['netns', 'exec', ns.a, c, ...a], o));
    assert.ok(kA.neigh.some((x) => x.dev.startsWith('hnb-') && x.ip === '10.0.1.11' && x.permanent));
  });

  test('a restarted agent adopts its datapath without a flap', async () => {
    const before = await fingerprintA();
    assert.match(before, /hnv-\d+:\d+/);
    await stop(agentA);
    agentA = startAgent(ns.a, 'hostA', ips.a, 'a');
    await new Promise((r) => setTimeout(r, 5_000)); // registration, snapshot, two resyncs
    assert.equal(agentA.exitCode, null, 'agent still running');
    assert.equal(await fingerprintA(), before);
  });

  test('while the server is down the datapath is left alone; the agent reconnects', async () => {
    const before = await fingerprintA();
    await stop(server);
    await new Promise((r) => setTimeout(r, 3_000));
    assert.equal(await fingerprintA(), before);
    const ping = await realExec('ip', ['netns', 'exec', ns.wa, 'ping', '-c', '1', '-w', '5', '10.0.1.11'], {
      allowFail: true,
      timeoutMs: 10_000,
    });
    assert.equal(ping.code, 0, 'traffic keeps flowing without the control plane');
    server = start(
      ['node', BIN, 'server', '--host', '127.0.0.1', '--port', '0', '--unix-socket', sock, '--data-dir', dir],
      'server',
    );
    assert.ok(await eventually(async () => (await api.list('networks')) !== undefined, 15_000), 'server back');
  });

  test('a deleted remote port disappears from the other node', async () => {
    await api.delete('ports', ports.b.id);
    const mac = ports.b.mac_address.toLowerCase();
    const gone = await eventually(async () => {
      const k = await readKernel(execA);
      return !k.fdb.some((e) => e.mac === mac) && !k.neigh.some((x) => x.ip === '10.0.1.11' && x.permanent);
    }, 10_000);
    assert.ok(gone, 'FDB and neighbour entries of the deleted port removed on node A');
  });
});
