/**
 * The L3 datapath end to end, as root: a real `hypernet server` and three real agents in "hyperswitch"
 * namespaces (two in cloud A on one LAN, one in cloud B), an "internet" namespace routing between the
 * clouds' LANs and an external host (198.51.100.10). One tenant network with two subnets behind a
 * router with a gateway in each cloud. Checked with bounded pings: east-west across subnets on one
 * node and across clouds, SNAT to the gateway of the VM's own cloud, a floating IP reached from the
 * external host, moved to a port on another node (the upstream neighbour follows the gratuitous
 * ARP), admin_state_up=false stopping forwarding, and a removed interface cutting the traffic.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../../../src/client/api.js';
import { inNetns, realExec } from '../../../src/common/exec.js';
import { OWNER_ROUTER_GATEWAY } from '../../../src/model/device-owners.js';
import { tapName } from '../../../src/model/kernel-names.js';
import type { FloatingIp, Port, Router } from '../../../src/model/types.js';
import { alive, listNetns } from '../../../testkit/runs.js';
import { needsRoot } from '../../../testkit/preconditions.js';
import { addNetns, Children, eventually, sh } from '../netns.js';
import {
  addInterface,
  externalNet,
  removeInterface,
  routerAction,
  routerPorts,
  tenantNet,
} from '../../server/l3-fixtures.js';

const BIN = new URL('../../../../bin/hypernet.js', import.meta.url).pathname;
/** Namespaces of this run: `hnC-<pid>-…` (the task's prefix, swept when a crashed run left them). */
const prefix = `hnC-${process.pid}-`;
const dir = join(tmpdir(), `hypernet-test-l3-${process.pid}`);
const sock = join(dir, 'server.sock');
const logDir = new URL('../../../../artifacts/l3-routing/', import.meta.url).pathname;
const EXT_HOST = '198.51.100.10';

const children = new Children(logDir);

async function removeNs(match: (ns: string) => boolean): Promise<void> {
  for (const ns of await listNetns()) if (match(ns)) await realExec('ip', ['netns', 'del', ns], { allowFail: true });
}

const inNs = (ns: string, cmd: string, args: string[]) =>
  realExec('ip', ['netns', 'exec', ns, cmd, ...args], { allowFail: true, timeoutMs: 15_000 });
/** One bounded ping; true when answered. */
const pings = async (ns: string, ip: string): Promise<boolean> =>
  (await inNs(ns, 'ping', ['-c', '1', '-W', '1', ip])).code === 0;

interface Node {
  ns: string;
  host: string;
  ip: string;
  cloud: string;
  lan: string;
}
interface Vm {
  ns: string;
  node: Node;
  ip: string;
  gw: string;
  subnet: string;
  port?: Port;
}

describe('L3 datapath: routing, SNAT, floating IPs (root, server, three nodes)', { skip: needsRoot() }, () => {
  const api = new ApiClient({ url: `unix:${sock}`, timeoutMs: 10_000 });
  const inet = `${prefix}inet`;
  const ext = `${prefix}ext`;
  const nodes: Record<string, Node> = {
    a1: { ns: `${prefix}a1`, host: 'hostA1', ip: '192.0.2.2', cloud: 'cloud-a', lan: 'ua' },
    a2: { ns: `${prefix}a2`, host: 'hostA2', ip: '192.0.2.3', cloud: 'cloud-a', lan: 'ua' },
    b1: { ns: `${prefix}b1`, host: 'hostB1', ip: '192.0.2.66', cloud: 'cloud-b', lan: 'ub' },
  };
  const vms: Record<string, Vm> = {
    v1: { ns: `${prefix}v1`, node: nodes.a1!, ip: '10.0.1.10', gw: '10.0.1.1', subnet: 's1' },
    v3: { ns: `${prefix}v3`, node: nodes.a2!, ip: '10.0.1.11', gw: '10.0.1.1', subnet: 's1' },
    v4: { ns: `${prefix}v4`, node: nodes.a1!, ip: '10.0.2.21', gw: '10.0.2.1', subnet: 's2' },
    v2: { ns: `${prefix}v2`, node: nodes.b1!, ip: '10.0.2.20', gw: '10.0.2.1', subnet: 's2' },
  };
  let router: Router;
  let subnets: Record<string, string>;
  let gwIps: Record<string, string>;

  /** Packets the external host got from `src` (an nft counter per source, read from its ruleset). */
  const seenFrom = async (src: string): Promise<number> => {
    const r = await inNs(ext, 'nft', ['list', 'chain', 'ip', 'seen', 'input']);
    const m = new RegExp(`ip saddr ${src.replaceAll('.', '\\.')} counter packets (\\d+)`).exec(r.stdout);
    return m ? Number(m[1]) : 0;
  };

  before(async () => {
    for (const ns of await listNetns()) {
      const m = /^hnC-(\d+)-/.exec(ns);
      if (m && !alive(Number(m[1]))) await realExec('ip', ['netns', 'del', ns], { allowFail: true });
    }
    rmSync(dir, { recursive: true, force: true });
    rmSync(logDir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    children.start(
      ['node', BIN, 'server', '--host', '127.0.0.1', '--port', '0', '--unix-socket', sock, '--data-dir', dir],
      'server',
    );
    assert.ok(
      await eventually(
        async () => existsSync(sock) && (await api.list('networks').catch(() => undefined)) !== undefined,
        15_000,
      ),
      'server up',
    );

    // The internet: one LAN per cloud (a bridge) holding the cloud's upstream and external addresses.
    const ei = await addNetns(inet);
    await sh(ei, [
      'sysctl -qw net.ipv4.ip_forward=1',
      'ip link add ua type bridge',
      'ip link add ub type bridge',
      'ip addr add 192.0.2.1/26 dev ua',
      'ip addr add 203.0.113.1/26 dev ua',
      'ip addr add 192.0.2.65/26 dev ub',
      'ip addr add 203.0.113.65/26 dev ub',
      'ip link set ua up',
      'ip link set ub up',
    ]);
    const ee = await addNetns(ext);
    await realExec('ip', ['-n', inet, 'link', 'add', 'ie', 'type', 'veth', 'peer', 'name', 'e0', 'netns', ext]);
    await sh(ei, ['ip addr add 198.51.100.1/24 dev ie', 'ip link set ie up']);
    await sh(ee, [`ip addr add ${EXT_HOST}/24 dev e0`, 'ip link set e0 up', 'ip route add default via 198.51.100.1']);
    await ee('nft', ['-f', '-'], {
      input: 'table ip seen {\n chain input {\n  type filter hook input priority 0; policy accept;\n }\n}\n',
    });
    for (const n of Object.values(nodes)) {
      const e = await addNetns(n.ns);
      await realExec('ip', [
        '-n',
        inet,
        'link',
        'add',
        `l${n.host.slice(-2)}`,
        'type',
        'veth',
        'peer',
        'name',
        'u0',
        'netns',
        n.ns,
      ]);
      await sh(ei, [`ip link set l${n.host.slice(-2)} master ${n.lan} up`]);
      const gw = n.lan === 'ua' ? '192.0.2.1' : '192.0.2.65';
      await sh(e, [
        'sysctl -qw net.ipv4.ip_forward=1',
        `ip addr add ${n.ip}/26 dev u0`,
        'ip link set u0 up',
        `ip route add default via ${gw}`,
      ]);
    }

    const net = await tenantNet(api, 'l3', '10.0.1.0/24', { enable_dhcp: false });
    // The encrypted overlay has tests of its own: these clouds' tunnels stay plain (no wireguard-go).
    await api.update('networks', 'network', net.net.id, { 'hypernet:encryption': 'none' });
    const s2 = await api.create<{ id: string }>('subnets', 'subnet', {
      network_id: net.net.id,
      cidr: '10.0.2.0/24',
      enable_dhcp: false,
    });
    subnets = { s1: net.subnet.id, s2: s2.id };
    const extA = await externalNet(api, 'ext-a', '203.0.113.0/26', 'cloud-a', {
      start: '203.0.113.10',
      end: '203.0.113.60',
    });
    const extB = await externalNet(api, 'ext-b', '203.0.113.64/26', 'cloud-b', {
      start: '203.0.113.74',
      end: '203.0.113.120',
    });
    router = await api.create<Router>('routers', 'router', { name: 'r1' });
    await addInterface(api, router.id, { subnet_id: subnets.s1! });
    await addInterface(api, router.id, { subnet_id: subnets.s2! });
    router = await routerAction(api, router.id, 'add_external_gateways', {
      external_gateways: [{ network_id: extA.net.id }, { network_id: extB.net.id }],
    });
    const gws = await routerPorts(api, router.id, OWNER_ROUTER_GATEWAY);
    gwIps = Object.fromEntries(
      gws.map((p) => [p.network_id === extA.net.id ? 'cloud-a' : 'cloud-b', p.fixed_ips[0]!.ip_address]),
    );
    await ee('nft', ['add', 'rule', 'ip', 'seen', 'input', 'ip', 'saddr', gwIps['cloud-a']!, 'counter']);
    await ee('nft', ['add', 'rule', 'ip', 'seen', 'input', 'ip', 'saddr', gwIps['cloud-b']!, 'counter']);

    // Play "nova": a port per VM, a veth with the tap end on its node.
    for (const v of Object.values(vms)) {
      v.port = await api.create<Port>('ports', 'port', {
        network_id: net.net.id,
        'binding:host_id': v.node.host,
        fixed_ips: [{ subnet_id: subnets[v.subnet]!, ip_address: v.ip }],
      });
      await addNetns(v.ns);
      await realExec('ip', [
        '-n',
        v.node.ns,
        'link',
        'add',
        tapName(v.port.id),
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        v.ns,
      ]);
      await sh(inNetns(realExec, v.ns), [
        `ip link set eth0 address ${v.port.mac_address} mtu 1450 up`,
        `ip addr add ${v.ip}/24 dev eth0`,
        `ip route add default via ${v.gw}`,
      ]);
    }
    for (const n of Object.values(nodes)) {
      const tag = n.host.slice(-2).toLowerCase();
      children.start(
        [
          'ip',
          'netns',
          'exec',
          n.ns,
          'node',
          BIN,
          'agent',
          '--server',
          `unix:${sock}`,
          '--host',
          n.host,
          '--underlay-ip',
          n.ip,
          '--cloud',
          n.cloud,
          '--encryption',
          'off',
          '--netns-prefix',
          `${prefix}d${tag}-`,
          '--state-dir',
          join(dir, `agent-${tag}`),
        ],
        `agent-${tag}`,
      );
    }
  });

  after(async () => {
    await children.stopAll();
    await removeNs((ns) => ns.startsWith(prefix));
    rmSync(dir, { recursive: true, force: true });
  });

  test('east-west: across subnets on one node and across clouds', async () => {
    assert.ok(await eventually(() => pings(vms.v1!.ns, vms.v4!.ip), 30_000), 'v1 → v4 (same node, other subnet)');
    assert.ok(await eventually(() => pings(vms.v1!.ns, vms.v2!.ip), 20_000), 'v1 (cloud A) → v2 (cloud B)');
    assert.ok(await eventually(() => pings(vms.v3!.ns, vms.v2!.ip), 20_000), 'v3 (cloud A, node 2) → v2');
    assert.ok(await pings(vms.v2!.ns, vms.v1!.ip), 'v2 → v1');
  });

  test('SNAT: the external host sees the gateway of the VM’s own cloud', async () => {
    const [a0, b0] = [await seenFrom(gwIps['cloud-a']!), await seenFrom(gwIps['cloud-b']!)];
    assert.ok(await eventually(() => pings(vms.v1!.ns, EXT_HOST), 20_000), 'v1 reaches the external host');
    assert.ok(await eventually(() => pings(vms.v2!.ns, EXT_HOST), 20_000), 'v2 reaches the external host');
    assert.ok((await seenFrom(gwIps['cloud-a']!)) > a0, 'v1 seen as cloud A’s gateway');
    assert.ok((await seenFrom(gwIps['cloud-b']!)) > b0, 'v2 seen as cloud B’s gateway');
  });

  test('a floating IP: reached from outside, moved to a port on another node, disassociated', async () => {
    const extA = (await api.list<{ id: string; name: string }>('networks', { name: 'ext-a' }))[0]!;
    let fip = await api.create<FloatingIp>('floatingips', 'floatingip', {
      floating_network_id: extA.id,
      port_id: vms.v1!.port!.id,
    });
    const ip = fip.floating_ip_address;
    // As tempest does: the VMs' group lets ICMP in from anywhere (the default group admits only itself).
    await api.create('security-group-rules', 'security_group_rule', {
      security_group_id: vms.v1!.port!.security_groups[0],
      direction: 'ingress',
      ethertype: 'IPv4',
      protocol: 'icmp',
      remote_ip_prefix: '0.0.0.0/0',
    });
    await realExec('ip', [
      'netns',
      'exec',
      ext,
      'nft',
      'add',
      'rule',
      'ip',
      'seen',
      'input',
      'ip',
      'saddr',
      ip,
      'counter',
    ]);
    assert.ok(await eventually(() => pings(ext, ip), 20_000), 'external host → floating IP (v1)');
    assert.ok(await pings(vms.v1!.ns, EXT_HOST));
    assert.ok((await seenFrom(ip)) > 0, 'v1 egresses as its floating IP');

    // Move to v3 (node a2): served there, announced, and the upstream's neighbour entry follows.
    const macOf = async (ns: string) =>
      (JSON.parse((await inNs(ns, 'ip', ['-json', 'link', 'show', 'u0'])).stdout) as { address: string }[])[0]!.address;
    const a2Mac = await macOf(nodes.a2!.ns);
    fip = await api.update<FloatingIp>('floatingips', 'floatingip', fip.id, { port_id: vms.v3!.port!.id });
    const neighIsA2 = async () => {
      const r = await inNs(inet, 'ip', ['-json', 'neigh', 'show', ip]);
      return (JSON.parse(r.stdout || '[]') as { lladdr?: string }[]).some((n) => n.lladdr === a2Mac);
    };
    assert.ok(await eventually(neighIsA2, 20_000), 'the upstream now resolves the floating IP to node a2');
    assert.ok(await eventually(() => pings(ext, ip), 20_000), 'external host → floating IP (v3)');
    // v3 answers for it now: its own egress goes out as the floating IP.
    const before = await seenFrom(ip);
    assert.ok(await pings(vms.v3!.ns, EXT_HOST));
    assert.ok((await seenFrom(ip)) > before, 'v3 egresses as the floating IP');

    await api.update<FloatingIp>('floatingips', 'floatingip', fip.id, { port_id: null });
    assert.ok(await eventually(async () => !(await pings(ext, ip)), 20_000), 'disassociated: no longer reachable');
    await api.delete('floatingips', fip.id);
  });

  test('admin_state_up=false stops forwarding; true restores it', async () => {
    await api.update<Router>('routers', 'router', router.id, { admin_state_up: false });
    assert.ok(await eventually(async () => !(await pings(vms.v1!.ns, vms.v2!.ip)), 20_000), 'forwarding stopped');
    await api.update<Router>('routers', 'router', router.id, { admin_state_up: true });
    assert.ok(await eventually(() => pings(vms.v1!.ns, vms.v2!.ip), 20_000), 'forwarding restored');
  });

  test('removing a router interface cuts the traffic into its subnet', async () => {
    assert.ok(await eventually(() => pings(vms.v1!.ns, vms.v2!.ip), 20_000));
    await removeInterface(api, router.id, { subnet_id: subnets.s2! });
    assert.ok(await eventually(async () => !(await pings(vms.v1!.ns, vms.v2!.ip)), 20_000), 'v1 → v2 cut');
    assert.ok(await pings(vms.v1!.ns, EXT_HOST), 'the remaining subnet still egresses');
  });
});
