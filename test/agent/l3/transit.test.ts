/**
 * Egress and floating IPs through a gateway node, as root: a real `hypernet server`, three real agents
 * in "hyperswitch" namespaces (hostA1 and hostA2 in cloud A, hostB1 in cloud B), an "internet"
 * namespace and an external host (198.51.100.10). Checked with bounded pings and short TCP exchanges:
 * SNAT from a node that is not its cloud's gateway node, a floating IP of cloud A on a port in cloud
 * B (ping and TCP from outside), a port keeping its floating IP while it migrates from cloud A to B
 * (the blackout is printed), a TCP flow through a floating IP surviving another floating IP's change,
 * and a cloud whose gateway is removed going out through the other cloud's gateway.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { inNetns, realExec } from '../../../src/common/exec.js';
import { OWNER_ROUTER_GATEWAY } from '../../../src/model/device-owners.js';
import { tapName } from '../../../src/model/kernel-names.js';
import type { FloatingIp, Router } from '../../../src/model/types.js';
import { needsRoot } from '../../../testkit/preconditions.js';
import { msUntil } from '../../../testkit/wait.js';
import { Children, eventually, sh } from '../netns.js';
import { addVethPair } from '../../../src/lab/netns.js';
import { addInterface, externalNet, routerAction, routerPorts, tenantNet } from '../../server/l3-fixtures.js';
import { EXT_HOST, inNs, l3Nodes, L3World, type L3Vm } from './world.js';

const ECHO_PORT = 7007;
/** A TCP echo server (one per VM namespace, stopped by PID). */
const ECHO = `require('net').createServer((s) => s.pipe(s)).listen(${ECHO_PORT})`;
/**
 * A TCP client that stays connected: writes each stdin line to the server and prints what comes
 * back, so a test can send on one connection before and after a change.
 */
const CLIENT = `const s = require('net').connect(+process.argv[2], process.argv[1]);
s.on('data', (d) => process.stdout.write(d));
s.on('error', (e) => { console.error(e.message); process.exit(1); });
process.stdin.on('data', (d) => s.write(d));`;

/** One bounded ping (`wait` seconds); true when answered. */
const pings = async (ns: string, ip: string, wait = '1'): Promise<boolean> =>
  (await inNs(ns, 'ping', ['-c', '1', '-W', wait, ip])).code === 0;
/** One short TCP exchange with the echo server at `ip`; true when the text came back. */
const echoes = async (ns: string, ip: string): Promise<boolean> => {
  const r = await realExec('ip', ['netns', 'exec', ns, 'nc', '-w', '2', '-q', '1', ip, String(ECHO_PORT)], {
    allowFail: true,
    timeoutMs: 5_000,
    input: 'hello\n',
  });
  return r.stdout.includes('hello');
};

describe('L3 transit: egress and floating IPs through a gateway node (root, server, three nodes)', {
  skip: needsRoot(),
}, () => {
  /** Namespaces of this run: `hnE-<pid>-…` (the task's prefix, swept when a crashed run left them). */
  const world = new L3World(`hnE-${process.pid}-`, 'l3-transit');
  const { api, inet, ext, prefix } = world;
  const nodes = l3Nodes(prefix);
  const echoServers = new Children(world.logDir);
  const vms: Record<'v1' | 'v2' | 'v3', L3Vm & { subnet: 's1' | 's2' }> = {
    v1: { ns: `${prefix}v1`, node: nodes.a1, ip: '10.0.1.10', gw: '10.0.1.1', subnet: 's1' },
    v3: { ns: `${prefix}v3`, node: nodes.a2, ip: '10.0.1.11', gw: '10.0.1.1', subnet: 's1' },
    v2: { ns: `${prefix}v2`, node: nodes.b1, ip: '10.0.2.20', gw: '10.0.2.1', subnet: 's2' },
  };
  let router: Router;
  let extA: { id: string };
  let extB: { id: string };
  let gwIps: Record<string, string>;
  const seenFrom = (src: string) => world.seenFrom(src);
  const count = (src: string) => world.countFrom(src);

  before(async () => {
    await world.start();
    for (const n of Object.values(nodes)) await world.addNode(n);
    const net = await tenantNet(api, 'tr', '10.0.1.0/24', { enable_dhcp: false });
    await api.update('networks', 'network', net.net.id, { 'hypernet:encryption': 'none' });
    const s2 = await api.create<{ id: string }>('subnets', 'subnet', {
      network_id: net.net.id,
      cidr: '10.0.2.0/24',
      enable_dhcp: false,
    });
    const subnets = { s1: net.subnet.id, s2: s2.id };
    extA = (
      await externalNet(api, 'ext-a', '203.0.113.0/26', 'cloud-a', { start: '203.0.113.10', end: '203.0.113.60' })
    ).net;
    extB = (
      await externalNet(api, 'ext-b', '203.0.113.64/26', 'cloud-b', { start: '203.0.113.74', end: '203.0.113.120' })
    ).net;
    router = await api.create<Router>('routers', 'router', { name: 'rt' });
    await addInterface(api, router.id, { subnet_id: subnets.s1 });
    await addInterface(api, router.id, { subnet_id: subnets.s2 });
    router = await routerAction(api, router.id, 'add_external_gateways', {
      external_gateways: [{ network_id: extA.id }, { network_id: extB.id }],
    });
    const gws = await routerPorts(api, router.id, OWNER_ROUTER_GATEWAY);
    gwIps = Object.fromEntries(
      gws.map((p) => [p.network_id === extA.id ? 'cloud-a' : 'cloud-b', p.fixed_ips[0]!.ip_address]),
    );
    await count(gwIps['cloud-a']!);
    await count(gwIps['cloud-b']!);
    for (const v of Object.values(vms)) {
      await world.plugVm(v, net.net.id, subnets[v.subnet]);
      echoServers.start(['ip', 'netns', 'exec', v.ns, 'node', '-e', ECHO], `echo-${v.ns.slice(prefix.length)}`);
    }
    // As tempest does: the VMs' group lets ICMP and the echo port in from anywhere.
    for (const rule of [
      { protocol: 'icmp' },
      { protocol: 'tcp', port_range_min: ECHO_PORT, port_range_max: ECHO_PORT },
    ])
      await api.create('security-group-rules', 'security_group_rule', {
        security_group_id: vms.v1.port!.security_groups[0],
        direction: 'ingress',
        ethertype: 'IPv4',
        remote_ip_prefix: '0.0.0.0/0',
        ...rule,
      });
    world.startAgents(Object.values(nodes));
  });

  after(async () => {
    await echoServers.stopAll();
    await world.stop();
  });

  test('SNAT from a node that is not its cloud’s gateway node: out through the gateway node', async () => {
    assert.ok(await eventually(() => pings(vms.v1.ns, EXT_HOST), 30_000), 'v1 (gateway node) reaches out');
    const a0 = await seenFrom(gwIps['cloud-a']!);
    assert.ok(await eventually(() => pings(vms.v3.ns, EXT_HOST), 20_000), 'v3 (hostA2) reaches out');
    assert.ok((await seenFrom(gwIps['cloud-a']!)) > a0, 'seen as cloud A’s gateway');
  });

  test('a floating IP of cloud A on a port in cloud B: ping and TCP from outside', async () => {
    const fip = await api.create<FloatingIp>('floatingips', 'floatingip', {
      floating_network_id: extA.id,
      port_id: vms.v2.port!.id,
    });
    await count(fip.floating_ip_address);
    assert.ok(await eventually(() => pings(ext, fip.floating_ip_address), 20_000), 'ping from outside');
    assert.ok(await eventually(() => echoes(ext, fip.floating_ip_address), 10_000), 'TCP from outside');
    const before = await seenFrom(fip.floating_ip_address);
    assert.ok(await pings(vms.v2.ns, EXT_HOST), 'v2 reaches out');
    assert.ok((await seenFrom(fip.floating_ip_address)) > before, 'v2 egresses as its floating IP (cloud A)');
    await api.delete('floatingips', fip.id);
    assert.ok(await eventually(async () => !(await pings(ext, fip.floating_ip_address)), 20_000), 'deleted: gone');
  });

  test('a port keeps its floating IP while it migrates from cloud A to cloud B (blackout measured)', async () => {
    const v3 = vms.v3;
    const fip = await api.create<FloatingIp>('floatingips', 'floatingip', {
      floating_network_id: extA.id,
      port_id: v3.port!.id,
    });
    const ip = fip.floating_ip_address;
    assert.ok(await eventually(() => pings(ext, ip), 20_000), 'served on hostA2 (its own node)');
    const a1Mac = (
      JSON.parse((await inNs(nodes.a1.ns, 'ip', ['-json', 'link', 'show', 'u0'])).stdout) as {
        address: string;
      }[]
    )[0]!.address;
    // Migrate: the VM leaves hostA2 (its tap goes), arrives on hostB1, the binding follows; the
    // blackout runs from the tap's removal to the first answer from outside.
    const t0 = Date.now();
    await realExec('ip', ['-n', v3.node.ns, 'link', 'del', tapName(v3.port!.id)]);
    v3.node = nodes.b1;
    await addVethPair(realExec, v3.node.ns, tapName(v3.port!.id), v3.ns, 'eth0');
    await sh(inNetns(realExec, v3.ns), [
      `ip link set eth0 address ${v3.port!.mac_address} mtu 1450 up`,
      `ip addr add ${v3.ip}/24 dev eth0`,
      `ip route add default via ${v3.gw}`,
    ]);
    await api.update('ports', 'port', v3.port!.id, { 'binding:host_id': nodes.b1.host });
    const back = await msUntil(() => pings(ext, ip, '0.2'), 30_000);
    const blackout = Date.now() - t0;
    assert.ok(back >= 0, 'served again after the move');
    console.log(`floating IP blackout across the migration (hostA2 → hostB1): ${blackout} ms`);
    const neigh = await inNs(inet, 'ip', ['-json', 'neigh', 'show', ip]);
    assert.ok(
      (JSON.parse(neigh.stdout || '[]') as { lladdr?: string }[]).some((n) => n.lladdr === a1Mac),
      'the upstream resolves it to cloud A’s gateway node (gratuitous ARP)',
    );
    assert.ok(await eventually(() => echoes(ext, ip), 10_000), 'TCP to the moved port');
    await api.delete('floatingips', fip.id);
  });

  test('a TCP flow through one floating IP survives another floating IP’s changes', async () => {
    const f1 = await api.create<FloatingIp>('floatingips', 'floatingip', {
      floating_network_id: extA.id,
      port_id: vms.v1.port!.id,
    });
    assert.ok(await eventually(() => echoes(ext, f1.floating_ip_address), 20_000));
    let client: ChildProcess | undefined;
    try {
      client = spawn('ip', ['netns', 'exec', ext, 'node', '-e', CLIENT, f1.floating_ip_address, String(ECHO_PORT)]);
      let got = '';
      client.stdout!.on('data', (d: Buffer) => {
        got += d.toString();
      });
      client.stdin!.write('one\n');
      assert.ok(await eventually(async () => got.includes('one'), 10_000), 'the flow is up');
      // Another floating IP associated, moved and dropped: the NAT table is rewritten each time.
      const f2 = await api.create<FloatingIp>('floatingips', 'floatingip', {
        floating_network_id: extA.id,
        port_id: vms.v2.port!.id,
      });
      assert.ok(await eventually(() => pings(ext, f2.floating_ip_address), 20_000), 'the other one is served');
      await api.update('floatingips', 'floatingip', f2.id, { port_id: null });
      assert.ok(await eventually(async () => !(await pings(ext, f2.floating_ip_address)), 20_000), 'and dropped');
      client.stdin!.write('two\n');
      assert.ok(await eventually(async () => got.includes('two'), 10_000), 'the first flow still carries data');
      assert.equal(client.exitCode, null, 'and was never reset');
      await api.delete('floatingips', f2.id);
    } finally {
      client?.kill();
    }
    await api.delete('floatingips', f1.id);
  });

  test('a cloud whose gateway is removed goes out through the other cloud’s gateway', async () => {
    const a0 = await seenFrom(gwIps['cloud-a']!);
    await routerAction(api, router.id, 'remove_external_gateways', { external_gateways: [{ network_id: extB.id }] });
    // Until the agents apply the change, v2 may still leave through cloud B's (old) gateway.
    const viaA = async () => (await pings(vms.v2.ns, EXT_HOST)) && (await seenFrom(gwIps['cloud-a']!)) > a0;
    assert.ok(await eventually(viaA, 20_000), 'v2 (cloud B) reaches out, seen as cloud A’s gateway');
  });
});
