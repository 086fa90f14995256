/**
 * Router scenarios adapted from neutron-tempest-plugin, with real traffic between namespaces (the
 * world of world.ts: a server, agents on node a1 in cloud A and b1 in cloud B, an external host).
 * East-west between two subnets with a VM of each subnet in each cloud; an extra route to a next-hop
 * VM; a floating IP disassociated and re-associated, then reused on a port behind another router; a
 * ping in progress that follows its floating IP's move and stops at its disassociation, while another
 * floating IP's connection on the same router stays the same one;
 * two tenants with the same CIDR and the same addresses on the same nodes, each with a router and a
 * floating IP, isolated. Which VM answered is read from an echo-request counter in each VM.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { inNetns, realExec } from '../../../src/common/exec.js';
import { OWNER_ROUTER_GATEWAY } from '../../../src/model/device-owners.js';
import { routerNetns } from '../../../src/agent/l3/names.js';
import type { FloatingIp, Network, Router } from '../../../src/model/types.js';
import { needsRoot } from '../../../testkit/preconditions.js';
import { eventually } from '../netns.js';
import { addInterface, externalNet, routerAction, routerPorts, tenantNet } from '../../server/l3-fixtures.js';
import { EXT_HOST, inNs, l3Nodes, L3World, type L3Vm, pings } from './world.js';

const T2 = 'tenant-two';

describe('L3 scenarios: east-west, extra routes, floating IPs, overlapping tenants (root)', {
  skip: needsRoot(),
}, () => {
  const world = new L3World(`hnS-${process.pid}-`, 'l3-scenarios');
  const api = world.api;
  const { a1, b1 } = l3Nodes(world.prefix);
  const vm = (name: string, node: typeof a1, ip: string): L3Vm => ({
    ns: `${world.prefix}${name}`,
    node,
    ip,
    gw: ip.replace(/\.\d+$/, '.1'),
  });
  // Tenant 1: a VM of each subnet in each cloud, a next hop, a VM behind a second router.
  const e1 = vm('e1', a1, '10.0.1.10');
  const e2 = vm('e2', a1, '10.0.2.10');
  const e3 = vm('e3', b1, '10.0.1.20');
  const e4 = vm('e4', b1, '10.0.2.20');
  const nh = vm('nh', a1, '10.0.1.30');
  const e5 = vm('e5', a1, '10.0.3.10');
  // Tenant 2: the same CIDR and the same addresses, on the same nodes.
  const o1 = vm('o1', a1, '10.0.1.10');
  const o2 = vm('o2', b1, '10.0.1.20');
  const ROUTED = '10.9.9.9';
  let r1: Router;
  let r2: Router;
  let extA: string;
  let t2Gateways: Record<string, string>;

  /** Echo requests a VM received (an nft counter in its namespace). */
  const echoes = async (v: L3Vm): Promise<number> => {
    const r = await inNs(v.ns, 'nft', ['list', 'chain', 'ip', 'seen', 'input']);
    return Number(/counter packets (\d+)/.exec(r.stdout)?.[1] ?? 0);
  };
  /** Lets ICMP in from anywhere to a project's default group, as tempest does. */
  const allowIcmp = (v: L3Vm) =>
    api.create('security-group-rules', 'security_group_rule', {
      security_group_id: v.port!.security_groups[0],
      direction: 'ingress',
      ethertype: 'IPv4',
      protocol: 'icmp',
      remote_ip_prefix: '0.0.0.0/0',
    });
  /** One ping from the external host to `ip`, answered, and `v` saw it (not another holder of the address). */
  const answeredBy = async (ip: string, v: L3Vm): Promise<boolean> => {
    const before = await echoes(v);
    return (await pings(world.ext, ip)) && (await echoes(v)) > before;
  };
  const unreachable = (ns: string, ip: string) => eventually(async () => !(await pings(ns, ip)), 20_000);

  before(async () => {
    await world.start();
    for (const n of [a1, b1]) await world.addNode(n);
    extA = (
      await externalNet(api, 'ext-a', '203.0.113.0/26', 'cloud-a', { start: '203.0.113.10', end: '203.0.113.60' })
    ).net.id;
    const extB = (
      await externalNet(api, 'ext-b', '203.0.113.64/26', 'cloud-b', { start: '203.0.113.74', end: '203.0.113.120' })
    ).net.id;
    const gateways = { external_gateways: [{ network_id: extA }, { network_id: extB }] };
    /** A tenant network whose tunnels stay plain (the encrypted overlay has tests of its own). */
    const plainNet = async (name: string, cidr: string, project?: string) => {
      const owner = project ? { project_id: project } : {};
      const net = await api.create<Network>('networks', 'network', { name, 'hypernet:encryption': 'none', ...owner });
      const sub = await api.create<{ id: string }>('subnets', 'subnet', {
        network_id: net.id,
        cidr,
        enable_dhcp: false,
        ...owner,
      });
      return { net: net.id, sub: sub.id };
    };

    const n1 = await plainNet('t1', '10.0.1.0/24');
    const s2 = (
      await api.create<{ id: string }>('subnets', 'subnet', {
        network_id: n1.net,
        cidr: '10.0.2.0/24',
        enable_dhcp: false,
      })
    ).id;
    r1 = await api.create<Router>('routers', 'router', { name: 'r1' });
    await addInterface(api, r1.id, { subnet_id: n1.sub });
    await addInterface(api, r1.id, { subnet_id: s2 });
    await routerAction(api, r1.id, 'add_external_gateways', gateways);
    const n3 = await plainNet('t1-other', '10.0.3.0/24');
    r2 = await api.create<Router>('routers', 'router', { name: 'r2' });
    await addInterface(api, r2.id, { subnet_id: n3.sub });
    await routerAction(api, r2.id, 'add_external_gateways', { external_gateways: [{ network_id: extA }] });

    const o = await plainNet('t2', '10.0.1.0/24', T2);
    const r3 = await api.create<Router>('routers', 'router', { name: 'r3', project_id: T2 });
    await addInterface(api, r3.id, { subnet_id: o.sub });
    await routerAction(api, r3.id, 'add_external_gateways', gateways);
    const gws = await routerPorts(api, r3.id, OWNER_ROUTER_GATEWAY);
    t2Gateways = Object.fromEntries(gws.map((p) => [p.network_id === extA ? 'a' : 'b', p.fixed_ips[0]!.ip_address]));
    await world.countFrom(t2Gateways.b!);

    for (const v of [e1, e3, nh]) await world.plugVm(v, n1.net, n1.sub);
    for (const v of [e2, e4]) await world.plugVm(v, n1.net, s2);
    await world.plugVm(e5, n3.net, n3.sub);
    for (const v of [o1, o2]) await world.plugVm(v, o.net, o.sub, { project_id: T2 });
    // The next hop holds the routed address; its port may send from it (as a router VM's would).
    await api.update('ports', 'port', nh.port!.id, { allowed_address_pairs: [{ ip_address: '10.9.9.0/24' }] });
    await inNs(nh.ns, 'ip', ['addr', 'add', `${ROUTED}/32`, 'dev', 'lo']);
    await allowIcmp(e1);
    await allowIcmp(o1);
    for (const v of [e1, e2, e5, o1, o2, e3, nh])
      await inNetns(realExec, v.ns)('nft', ['-f', '-'], {
        input:
          'table ip seen {\n chain input {\n  type filter hook input priority 0;\n  icmp type echo-request counter\n }\n}\n',
      });
    world.startAgents([a1, b1]);
  });

  after(() => world.stop());

  test('east-west: every VM of both subnets in both clouds reaches every other', async () => {
    const all = [e1, e2, e3, e4];
    assert.ok(await eventually(() => pings(e1.ns, e4.ip), 30_000), 'e1 (s1, A) → e4 (s2, B)');
    for (const a of all)
      for (const b of all) {
        if (a === b) continue;
        assert.ok(await eventually(() => pings(a.ns, b.ip), 10_000), `${a.ns} → ${b.ip}`);
      }
    // Routed frames to e4 (s2, cloud B) leave a1's router past a1's bridge, straight for the VXLAN.
    // Listed until it answers: a dump that meets the agent's own nft transactions can fail.
    let bypass = '';
    const listed = async () => {
      const r = await inNs(a1.ns, 'nft', ['list', 'table', 'netdev', 'hypernet_l3']);
      bypass = r.stdout || r.stderr;
      return bypass.includes(e4.port!.mac_address);
    };
    assert.ok(await eventually(listed, 10_000), `a1's netdev table holds e4's MAC: ${bypass}`);
    const vni = /ether daddr @remote_(\d+) fwd to "hnv-\d+"/.exec(bypass)?.[1];
    assert.ok(vni, bypass);
    // The VXLAN made again (the datapath repairs it) gets a new ifindex: the forward must follow it.
    await inNs(a1.ns, 'ip', ['link', 'del', `hnv-${vni}`]);
    assert.ok(await eventually(() => pings(e1.ns, e4.ip), 20_000), 'e1 → e4 after the VXLAN was made again');
  });

  test('extraroute: a destination behind a next-hop VM, reached from the other subnet and cloud', async () => {
    assert.ok(!(await pings(e4.ns, ROUTED)), 'no route yet');
    await api.update<Router>('routers', 'router', r1.id, { routes: [{ destination: '10.9.9.0/24', nexthop: nh.ip }] });
    assert.ok(await eventually(() => pings(e4.ns, ROUTED), 20_000), 'e4 → 10.9.9.9 via nh');
    await api.update<Router>('routers', 'router', r1.id, { routes: [] });
    assert.ok(await unreachable(e4.ns, ROUTED), 'the route removed: unreachable again');
  });

  test('a floating IP disassociated, re-associated, then reused on a port behind another router', async () => {
    let fip = await api.create<FloatingIp>('floatingips', 'floatingip', {
      floating_network_id: extA,
      port_id: e1.port!.id,
    });
    const ip = fip.floating_ip_address;
    assert.ok(await eventually(() => pings(world.ext, ip), 20_000), 'external host → FIP (e1)');
    await api.update('floatingips', 'floatingip', fip.id, { port_id: null });
    assert.ok(await unreachable(world.ext, ip), 'disassociated');
    fip = await api.update<FloatingIp>('floatingips', 'floatingip', fip.id, { port_id: e1.port!.id });
    assert.ok(await eventually(() => pings(world.ext, ip), 20_000), 're-associated: reachable again');

    await api.update('floatingips', 'floatingip', fip.id, { port_id: null });
    fip = await api.update<FloatingIp>('floatingips', 'floatingip', fip.id, { port_id: e5.port!.id });
    assert.equal(fip.router_id, r2.id, 'the floating IP now goes through r2');
    // e5 is in e1's project, so its default group already lets ICMP in.
    // Until the agent applies the move the old association may still answer: wait for e5's own echo.
    assert.ok(await eventually(() => answeredBy(ip, e5), 20_000), 'external host → FIP answered by e5, behind r2');
    const before1 = await echoes(e1);
    assert.ok(await pings(world.ext, ip));
    assert.equal(await echoes(e1), before1, 'e1 gets nothing any more');
    await api.delete('floatingips', fip.id);
  });

  test('a ping in progress follows its floating IP: moved to another port, then disassociated', async () => {
    const fip = await api.create<FloatingIp>('floatingips', 'floatingip', {
      floating_network_id: extA,
      port_id: e1.port!.id,
    });
    const ip = fip.floating_ip_address;
    // An unrelated floating IP on the same router, with a ping of its own: its connection survives.
    const other = await api.create<FloatingIp>('floatingips', 'floatingip', {
      floating_network_id: extA,
      port_id: e2.port!.id,
    });
    const otherIp = other.floating_ip_address;
    assert.ok(await eventually(() => answeredBy(ip, e1), 20_000), 'external host → FIP (e1)');
    // One ping process, one ICMP id: one connection for the whole run, which keeps the NAT it
    // started with unless the agent ends it.
    const longPing = (to: string) =>
      inNetns(realExec, world.ext)('ping', ['-n', '-q', '-i', '0.1', '-w', '25', to], {
        allowFail: true,
        timeoutMs: 30_000,
      });
    const long = longPing(ip);
    const longOther = longPing(otherIp);
    // The connections the router's conntrack holds to an address, by conntrack id (the last `id=`
    // of each line; a flushed connection comes back with a new one).
    // The agent made the router's namespace inside its own mount namespace (it runs under `ip netns
    // exec`), so its name is entered from there.
    const prefixA1 = `${world.prefix}d${a1.host.slice(-2).toLowerCase()}-`;
    const routerNs = routerNetns(prefixA1, r1.id);
    const agentPid = (await realExec('pgrep', ['-f', '--', `--netns-prefix ${prefixA1}`])).stdout
      .trim()
      .split('\n')[0]!;
    const ctIds = async (to: string): Promise<string[]> => {
      const r = await realExec(
        'nsenter',
        ['-t', agentPid, '-m', 'ip', 'netns', 'exec', routerNs, 'conntrack', '-L', '-o', 'id', '--orig-dst', to],
        { allowFail: true },
      );
      return r.stdout
        .split('\n')
        .map((l) => /.*id=(\d+)/.exec(l)?.[1])
        .filter((x): x is string => !!x);
    };
    const rising = async (v: L3Vm, by: number): Promise<boolean> => {
      const start = await echoes(v);
      return eventually(async () => (await echoes(v)) >= start + by, 8_000);
    };
    const still = async (v: L3Vm): Promise<boolean> => {
      const start = await echoes(v);
      await new Promise((r) => setTimeout(r, 1_500));
      return (await echoes(v)) === start;
    };
    try {
      assert.ok(await rising(e1, 5), 'the long ping reaches e1');
      assert.ok(await rising(e2, 5), 'the other long ping reaches e2');
      const otherBefore = await ctIds(otherIp);
      assert.ok(otherBefore.length > 0, 'the router tracks the other ping');
      await api.update('floatingips', 'floatingip', fip.id, { port_id: nh.port!.id });
      assert.ok(await rising(nh, 5), 'after the move the same ping reaches nh');
      assert.ok(await still(e1), 'and e1 gets nothing any more');
      const otherAfter = await ctIds(otherIp);
      assert.ok(
        otherBefore.every((id) => otherAfter.includes(id)),
        `the unrelated connection is the same one: ${otherBefore} then ${otherAfter}`,
      );
      assert.ok(await rising(e2, 5), 'and still reaches e2');
      await api.update('floatingips', 'floatingip', fip.id, { port_id: null });
      assert.ok(
        await eventually(() => still(nh), 10_000),
        'disassociated: the ping in progress reaches no port any more',
      );
    } finally {
      await Promise.all([long, longOther]);
      await api.delete('floatingips', fip.id);
      await api.delete('floatingips', other.id);
    }
  });

  test('overlapping CIDRs: two tenants, same addresses on the same nodes, each with a router and a FIP', async () => {
    const f1 = await api.create<FloatingIp>('floatingips', 'floatingip', {
      floating_network_id: extA,
      port_id: e1.port!.id,
    });
    const f2 = await api.create<FloatingIp>('floatingips', 'floatingip', {
      floating_network_id: extA,
      port_id: o1.port!.id,
      project_id: T2,
    });
    // Each floating IP reaches its own tenant's VM, never the other one with the same address.
    for (const [fip, own, other] of [
      [f1, e1, o1],
      [f2, o1, e1],
    ] as const) {
      const ip = fip.floating_ip_address;
      assert.ok(await eventually(() => answeredBy(ip, own), 20_000), `${ip} → ${own.ns}`);
      const seen = await echoes(other);
      assert.ok(await pings(world.ext, ip));
      assert.equal(await echoes(other), seen, `${ip} never reaches ${other.ns}`);
    }

    // Inside tenant 2, 10.0.1.20 is o2 (across clouds), never tenant 1's e3 with the same address.
    const [e3Before, o2Before] = [await echoes(e3), await echoes(o2)];
    assert.ok(await eventually(() => pings(o1.ns, o2.ip), 20_000), 'o1 → o2');
    assert.ok((await echoes(o2)) > o2Before && (await echoes(e3)) === e3Before, 'o2 answered, e3 saw nothing');
    assert.ok(!(await pings(o1.ns, e4.ip)), 'tenant 2 cannot reach tenant 1’s other subnet');
    // o2 (cloud B, no floating IP) goes out as tenant 2's gateway in cloud B.
    const seen = await world.seenFrom(t2Gateways.b!);
    assert.ok(await eventually(() => pings(o2.ns, EXT_HOST), 20_000), 'o2 → external host');
    assert.ok((await world.seenFrom(t2Gateways.b!)) > seen, 'seen as tenant 2’s cloud-B gateway');
  });
});
