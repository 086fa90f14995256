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
import { OWNER_ROUTER_GATEWAY } from '../../../src/model/device-owners.js';
import type { FloatingIp, Router } from '../../../src/model/types.js';
import { needsRoot } from '../../../testkit/preconditions.js';
import { eventually } from '../netns.js';
import {
  addInterface,
  externalNet,
  removeInterface,
  routerAction,
  routerPorts,
  tenantNet,
} from '../../server/l3-fixtures.js';
import { EXT_HOST, inNs, l3Nodes, L3World, type L3Vm, pings } from './world.js';

describe('L3 datapath: routing, SNAT, floating IPs (root, server, three nodes)', { skip: needsRoot() }, () => {
  /** Namespaces of this run: `hnC-<pid>-…` (the task's prefix, swept when a crashed run left them). */
  const world = new L3World(`hnC-${process.pid}-`, 'l3-routing');
  const api = world.api;
  const { inet, ext } = world;
  const nodes = l3Nodes(world.prefix);
  const prefix = world.prefix;
  const vms: Record<string, L3Vm & { subnet: string }> = {
    v1: { ns: `${prefix}v1`, node: nodes.a1, ip: '10.0.1.10', gw: '10.0.1.1', subnet: 's1' },
    v3: { ns: `${prefix}v3`, node: nodes.a2, ip: '10.0.1.11', gw: '10.0.1.1', subnet: 's1' },
    v4: { ns: `${prefix}v4`, node: nodes.a1, ip: '10.0.2.21', gw: '10.0.2.1', subnet: 's2' },
    v2: { ns: `${prefix}v2`, node: nodes.b1, ip: '10.0.2.20', gw: '10.0.2.1', subnet: 's2' },
  };
  let router: Router;
  let subnets: Record<string, string>;
  let gwIps: Record<string, string>;
  const seenFrom = (src: string) => world.seenFrom(src);

  before(async () => {
    await world.start();
    for (const n of Object.values(nodes)) await world.addNode(n);

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
    await world.countFrom(gwIps['cloud-a']!);
    await world.countFrom(gwIps['cloud-b']!);

    for (const v of Object.values(vms)) await world.plugVm(v, net.net.id, subnets[v.subnet]!);
    world.startAgents(Object.values(nodes));
  });

  after(() => world.stop());

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
    await world.countFrom(ip);
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
