/**
 * HyperVMs with real LXC, as root: a server on a provider namespace, node A (a HyperVM node: agent
 * with --hypervm) and node B (an agent with a VM's tap) on one underlay switch (192.0.2.0/24), the
 * image built from busybox-static and pushed through Glance. A HyperVM launched on A pulls with its
 * one token, runs as an unprivileged container on its port's tap, takes its hyper IP by DHCP and
 * reaches the VM on B; security groups and anti-spoofing apply on the node's side; root inside cannot
 * touch the node; the repository is reachable from the node and not from the container. Every
 * namespace starts with `hnE-<pid>-` and every container is killed, also on failure.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../../../src/client/api.js';
import { realExec } from '../../../src/common/exec.js';
import { tapName } from '../../../src/model/kernel-names.js';
import type { HyperVm, Network, Port, Subnet } from '../../../src/model/types.js';
import { isRoot, skipUnless } from '../../../testkit/preconditions.js';
import { buildHyperVmImage, canBuildHyperVmImage, pushLayout } from '../../../testkit/hypervm-image.js';
import { msUntil } from '../../../testkit/wait.js';
import { addNetns, Children, eventually, removeRun, sh } from '../netns.js';

const BIN = new URL('../../../../bin/hypernet.js', import.meta.url).pathname;
const prefix = `hnE-${process.pid}-`;
const dir = join(tmpdir(), `hypernet-test-${prefix.slice(0, -1)}`);
const sock = join(dir, 'server.sock');
const logDir = new URL('../../../../artifacts/hypervm-lxc/', import.meta.url).pathname;
const ns = { u: `${prefix}u`, srv: `${prefix}srv`, a: `${prefix}a`, b: `${prefix}b`, wb: `${prefix}wb` };
const ip = { srv: '192.0.2.254', a: '192.0.2.1', b: '192.0.2.2' };
const SERVER = `http://${ip.srv}:9696`;

function ready(): false | string {
  const lxc = existsSync('/usr/bin/lxc-start') && existsSync('/usr/bin/newuidmap');
  return (
    skipUnless(isRoot(), 'needs root') ||
    skipUnless(lxc, 'needs lxc and uidmap (scripts/setup.sh)') ||
    skipUnless(canBuildHyperVmImage(), 'needs busybox-static and umoci (scripts/setup.sh)')
  );
}

/** Runs `cmd` in the namespace (bounded). */
const inNs = (n: string, cmd: string[], timeoutMs = 15_000) =>
  realExec('ip', ['netns', 'exec', n, ...cmd], { allowFail: true, timeoutMs });

describe('HyperVMs on LXC (root, real containers)', { skip: ready() }, () => {
  const api = new ApiClient({ url: `unix:${sock}`, timeoutMs: 10_000 });
  const children = new Children(logDir);
  const lxcDir = join(dir, 'agent-a', 'hypervm');
  let net: Network;
  let vmPort: Port;
  let hv: HyperVm;
  let image: string;
  /** Runs a command inside the HyperVM's container (as its root). */
  const inContainer = (cmd: string[], timeoutMs = 15_000) =>
    inNs(ns.a, ['lxc-attach', '-n', `hv-${hv.id}`, '-P', lxcDir, '--', ...cmd], timeoutMs);
  const agent = (node: string, host: string, addr: string, tag: string, extra: string[] = []) =>
    children.start(
      [
        'ip',
        'netns',
        'exec',
        node,
        'node',
        BIN,
        'agent',
        '--server',
        SERVER,
        '--host',
        host,
        '--underlay-ip',
        addr,
        '--cloud',
        `cloud-${tag}`,
        '--netns-prefix',
        `${prefix}d${tag}-`,
        '--state-dir',
        join(dir, `agent-${tag}`),
        ...extra,
      ],
      `agent-${tag}`,
    );

  /** What a failed reachability check needs: the container's addresses and DHCP log, node A's links. */
  const diagnose = async () => {
    const parts = [
      await inContainer(['ip', 'addr']),
      await inContainer(['cat', '/tmp/udhcpc.log']),
      await inNs(ns.a, ['ip', '-br', 'link']),
      await inNs(ns.a, ['bridge', 'link']),
      await inNs(ns.b, ['bridge', 'link']),
      await inNs(ns.wb, ['ip', '-br', 'addr']),
      await inNs(ns.b, ['bridge', 'fdb', 'show', 'dev', 'hnv-1001']),
      await inNs(ns.a, ['ping', '-c', '1', '-W', '1', ip.b]),
      await inNs(ns.wb, ['ping', '-c', '1', '-W', '1', '10.70.0.4']),
    ];
    return parts.map((r) => `# ${(r.stdout + r.stderr).replace(/\n/g, '\n# ')}`).join('\n');
  };

  /** Kills every container of this run (the agent leaves them running when it stops, as it leaves taps). */
  const killContainers = async () => {
    if (!existsSync(lxcDir)) return;
    for (const name of readdirSync(lxcDir).filter((n) => n.startsWith('hv-')))
      await inNs(ns.a, ['lxc-stop', '-n', name, '-P', lxcDir, '-k']);
  };

  before(async () => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(logDir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    // The underlay: one switch namespace, a veth from it to each of server, node A and node B.
    const u = await addNetns(ns.u);
    await sh(u, ['ip link add sw type bridge', 'ip link set sw up']);
    for (const [n, addr] of [
      [ns.srv, ip.srv],
      [ns.a, ip.a],
      [ns.b, ip.b],
    ] as const) {
      const e = await addNetns(n);
      const port = `p-${n.slice(-3)}`;
      await realExec('ip', ['link', 'add', 'u0', 'netns', n, 'type', 'veth', 'peer', 'name', port, 'netns', ns.u]);
      await sh(u, [`ip link set ${port} master sw`, `ip link set ${port} up`]);
      await sh(e, [`ip addr add ${addr}/24 dev u0`, 'ip link set u0 up']);
    }
    await addNetns(ns.wb);
    children.start(
      [
        'ip',
        'netns',
        'exec',
        ns.srv,
        'node',
        BIN,
        'server',
        '--host',
        ip.srv,
        '--port',
        '9696',
        '--insecure-noauth',
        '--unix-socket',
        sock,
        '--data-dir',
        join(dir, 'data'),
      ],
      'server',
    );
    assert.ok(await eventually(async () => existsSync(sock) && (await api.list('networks')) !== undefined, 20_000));
    image = await pushLayout(sock, buildHyperVmImage(join(dir, 'image')), 'busybox');

    net = await api.create<Network>('networks', 'network', { name: 'hv' });
    await api.create<Subnet>('subnets', 'subnet', { network_id: net.id, cidr: '10.70.0.0/24' });
    // The VM on node B: a veth whose node end is the port's tap, a static address in its namespace.
    vmPort = await api.create<Port>('ports', 'port', {
      network_id: net.id,
      'binding:host_id': 'node-b',
      device_owner: 'compute:nova',
      device_id: 'vm-b',
    });
    const vmIp = vmPort.fixed_ips[0].ip_address;
    await realExec('ip', ['-n', ns.b, 'link', 'add', tapName(vmPort.id), 'type', 'veth', 'peer', 'name', 'eth0']);
    await realExec('ip', ['-n', ns.b, 'link', 'set', 'eth0', 'netns', ns.wb]);
    await sh(await addNetnsExec(ns.wb), [
      `ip link set eth0 address ${vmPort.mac_address} mtu 1450 up`,
      `ip addr add ${vmIp}/24 dev eth0`,
    ]);
    agent(ns.a, 'node-a', ip.a, 'a', ['--hypervm']);
    agent(ns.b, 'node-b', ip.b, 'b');
    assert.ok(
      await eventually(
        async () => (await api.list<{ alive: boolean }>('agents')).filter((a) => a.alive).length === 2,
        20_000,
      ),
      'both agents registered',
    );
  });

  after(async () => {
    await killContainers();
    await children.stopAll();
    await killContainers();
    await removeRun(prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  test('a launch goes BUILD → ACTIVE, and the container reaches the VM on the other cloud by hyper IP', async () => {
    const t0 = Date.now();
    hv = await api.create<HyperVm>('hypervms', 'hypervm', { image_id: image, network_id: net.id, cloud: 'cloud-a' });
    assert.equal(hv.host, 'node-a');
    const seen = new Set<string>();
    const active = await eventually(async () => {
      const now = await api.show<HyperVm>('hypervms', 'hypervm', hv.id);
      seen.add(now.status);
      if (now.status === 'ERROR') throw new Error(`HyperVM failed: ${now.status_reason}`);
      return now.status === 'ACTIVE';
    }, 60_000);
    assert.ok(active, `ACTIVE (seen ${[...seen].join(', ')})`);
    const port = await api.show<Port>('ports', 'port', hv.port_id);
    const hyperIp = port.fixed_ips[0].ip_address;
    // The container took the port's MAC on its side and its hyper IP by DHCP, from inside.
    const ms = await msUntil(
      async () => (await inNs(ns.wb, ['ping', '-c', '1', '-W', '1', hyperIp])).code === 0,
      60_000,
    );
    if (ms < 0) console.log(await diagnose());
    assert.ok(ms >= 0, 'the VM on node B pings the container');
    console.log(`# launch: API call to the container answering ping in ${Date.now() - t0} ms`);
    const link = await inContainer(['ip', 'link', 'show', 'eth0']);
    assert.match(link.stdout, new RegExp(port.mac_address, 'i'));
    const out = await inContainer(['ping', '-c', '2', '-W', '2', vmPort.fixed_ips[0].ip_address]);
    assert.equal(out.code, 0, `container → VM: ${out.stdout}${out.stderr}`);
    // Unprivileged: the container's root is uid 100000 on the node.
    const pid = (await inNs(ns.a, ['lxc-info', '-n', `hv-${hv.id}`, '-P', lxcDir, '-p', '-H'])).stdout.trim();
    const uidMap = (await realExec('cat', [`/proc/${pid}/uid_map`])).stdout.trim().split(/\s+/);
    assert.deepEqual(uidMap, ['0', '100000', '65536']);
  });

  test('root inside cannot touch the node; spoofed addresses are dropped', async () => {
    const vmIp = vmPort.fixed_ips[0].ip_address;
    const routesBefore = (await inNs(ns.a, ['ip', 'route', 'show', 'table', 'all'])).stdout;
    const nftBefore = (await inNs(ns.a, ['nft', 'list', 'ruleset'])).stdout;
    // Its own namespace it may change; the node's stay as they were.
    await inContainer(['ip', 'route', 'add', '198.51.100.0/24', 'dev', 'eth0']);
    assert.equal((await inNs(ns.a, ['ip', 'route', 'show', 'table', 'all'])).stdout, routesBefore);
    assert.equal((await inNs(ns.a, ['nft', 'list', 'ruleset'])).stdout, nftBefore);
    const agentPids = (await realExec('pgrep', ['-f', `--host node-a`], { allowFail: true })).stdout.trim().split('\n');
    for (const p of agentPids.filter(Boolean))
      assert.notEqual((await inContainer(['kill', '-0', p])).code, 0, `the agent (pid ${p}) is out of reach`);
    // A spoofed source IP: the node's firewall drops it (the real address still works).
    await inContainer(['ip', 'addr', 'add', '10.70.0.222/24', 'dev', 'eth0']);
    const spoofed = await inContainer(['ping', '-c', '2', '-W', '1', '-I', '10.70.0.222', vmIp]);
    assert.notEqual(spoofed.code, 0, 'a ping from a spoofed source gets no answer');
    const real = await inContainer(['ping', '-c', '2', '-W', '2', vmIp]);
    assert.equal(real.code, 0, 'the port’s own address still works');
  });

  test('security groups apply on the node’s side of the container', async () => {
    const vmIp = vmPort.fixed_ips[0].ip_address;
    const port = await api.show<Port>('ports', 'port', hv.port_id);
    // No group: nothing may enter the container's port any more.
    await api.update('ports', 'port', port.id, { security_groups: [] });
    const blocked = await eventually(
      async () => (await inNs(ns.wb, ['ping', '-c', '1', '-W', '1', port.fixed_ips[0].ip_address])).code !== 0,
      15_000,
    );
    assert.ok(blocked, 'ingress to the container is dropped without a group allowing it');
    await api.update('ports', 'port', port.id, { security_groups: port.security_groups });
    assert.ok(
      await eventually(async () => (await inContainer(['ping', '-c', '1', '-W', '1', vmIp])).code === 0, 15_000),
    );
  });

  test('the repository is reachable from the node and not from the container', async () => {
    const url = `${SERVER}/repository/images/${image}/index.json`;
    const probe = `fetch(${JSON.stringify(url)}).then(async (r) => console.log(r.status, await r.text()))`;
    const fromNode = await inNs(ns.a, ['node', '-e', probe]);
    assert.match(fromNode.stdout, /^401 .*missing_token/, 'the node reaches it (and is refused without a token)');
    const fromContainer = await inContainer(['wget', '-T', '3', '-O', '-', url]);
    assert.notEqual(fromContainer.code, 0);
    assert.doesNotMatch(
      fromContainer.stderr + fromContainer.stdout,
      /401|missing_token/i,
      'the container never reaches it',
    );
  });

  test('delete removes the container and its files', async () => {
    await api.delete('hypervms', hv.id);
    assert.ok(await eventually(async () => !existsSync(join(lxcDir, `hv-${hv.id}`)), 20_000));
  });
});

/** An Exec in an existing namespace (addNetns makes new ones). */
async function addNetnsExec(n: string) {
  return (c: string, a: readonly string[]) => realExec('ip', ['netns', 'exec', n, c, ...a]);
}
