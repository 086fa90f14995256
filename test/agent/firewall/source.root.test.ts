/**
 * Source filtering with real traffic (root): two nodes joined by VXLAN (testkit/overlay-netenv.ts),
 * both running the rulesets the agent compiles with --source-filtering. Every case behaves as the
 * two-sided design does: allowed and denied flows in both directions, replies, remote groups, a
 * membership change, a rule removal (an established session is cut), and a port that migrates
 * (while it has an inactive binding, and after). A probe counter of untracked forwarded packets on
 * each node shows where the flows were tracked: only on the node that owns the pair. (TCP only:
 * the kernel leaves ICMPv6 neighbour discovery untracked, and workloads send some now and then.)
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../../src/common/log.js';
import { compileFirewall } from '../../../src/agent/firewall/compile.js';
import { FirewallDriver } from '../../../src/agent/firewall/driver.js';
import type { FirewallMode } from '../../../src/agent/firewall/model.js';
import { firewallInput } from '../../../src/agent/firewall/reconciler.js';
import { SOURCE_FILTERING, ownerOf } from '../../../src/agent/firewall/source.js';
import { tapName } from '../../../src/model/kernel-names.js';
import type { Port, PortBinding, SecurityGroup } from '../../../src/model/types.js';
import { makeGroup, makePort } from '../../../testkit/firewall-fixtures.js';
import { echoOnce, startEcho, tcpSession, type Workload } from '../../../testkit/firewall-netenv.js';
import { agent, net, view } from '../../../testkit/model-fixtures.js';
import { OVERLAY_VNI, OverlayEnv } from '../../../testkit/overlay-netenv.js';
import { needsRoot } from '../../../testkit/preconditions.js';

const HOSTS = ['host-a', 'host-b'] as const;
const ID = {
  a: 'a1a1a1a1-0000-4000-8000-000000000001',
  b: 'b2b2b2b2-0000-4000-8000-000000000002',
  c: 'c3c3c3c3-0000-4000-8000-000000000003',
};
const MAC = { a: 'fa:16:3e:00:01:01', b: 'fa:16:3e:00:01:02', c: 'fa:16:3e:00:01:03' };
const IP = { a: '10.0.1.11', b: '10.0.1.12', c: '10.0.1.13' };

const PROBE = `table inet gprobe {
  counter untracked {}
  chain f {
    type filter hook forward priority 50; policy accept;
    meta l4proto tcp ct state untracked counter name untracked
  }
}
`;

describe('source filtering on a two-node overlay', { skip: needsRoot() }, () => {
  const env = new OverlayEnv(`hnG-${process.pid}-`);
  const drivers: FirewallDriver[] = [];
  let mode: FirewallMode;
  const w: Record<'a' | 'b' | 'c', Workload> = {} as never;
  let ports: Record<'a' | 'b' | 'c', Port>;
  let groups: SecurityGroup[];
  const owner = HOSTS.indexOf(ownerOf(HOSTS[0], HOSTS[1]) as (typeof HOSTS)[number]);

  const web = (withTcp: boolean) =>
    makeGroup('web', [
      { id: 'w-e', direction: 'egress', ethertype: 'IPv4' },
      ...(withTcp
        ? [
            {
              id: 'w-tcp',
              direction: 'ingress' as const,
              protocol: 'tcp',
              port_range_min: 5001,
              port_range_max: 5001,
              remote_group_id: 'web',
            },
          ]
        : []),
    ]);
  const db = makeGroup('db', [
    { id: 'd-e', direction: 'egress', ethertype: 'IPv4' },
    {
      id: 'd-tcp',
      direction: 'ingress',
      protocol: 'tcp',
      port_range_min: 5001,
      port_range_max: 5001,
      remote_group_id: 'web',
    },
  ]);

  /** Compiles and applies both nodes' rulesets from the current ports and groups. */
  async function apply(): Promise<void> {
    const model = view({
      networks: [net('net1', OVERLAY_VNI)],
      ports: Object.values(ports),
      agents: HOSTS.map((h, i) => ({
        ...agent(`ag-${h}`, h, `192.0.2.${i + 1}`),
        configurations: { tunneling_ip: `192.0.2.${i + 1}`, cloud: 'c', capabilities: ['vxlan', SOURCE_FILTERING] },
      })),
    });
    for (const [i, h] of HOSTS.entries())
      await drivers[i]!.apply(compileFirewall(firewallInput(h, model, mode, groups, true)));
  }

  async function untracked(node: number): Promise<number> {
    const r = await env.nodes[node]!.node('nft', ['-j', 'list', 'counter', 'inet', 'gprobe', 'untracked']);
    return (JSON.parse(r.stdout).nftables as Array<{ counter?: { packets: number } }>).find((x) => x.counter)!.counter!
      .packets;
  }

  const port = (k: 'a' | 'b' | 'c', host: string, sgs: string[]) =>
    makePort({ id: ID[k], mac_address: MAC[k], security_groups: sgs, 'binding:host_id': host }, [IP[k]]);

  before(async () => {
    await env.create();
    w.a = await env.addWorkload(0, 1, tapName(ID.a), MAC.a, IP.a);
    w.b = await env.addWorkload(1, 2, tapName(ID.b), MAC.b, IP.b);
    w.c = await env.addWorkload(1, 3, tapName(ID.c), MAC.c, IP.c);
    for (const n of env.nodes) {
      const d = new FirewallDriver(n.node, silentLogger());
      drivers.push(d);
      mode = await d.detectMode();
      await d.prepare(mode);
      await n.node('nft', ['-f', '-'], { input: PROBE });
    }
    ports = { a: port('a', HOSTS[0], ['web']), b: port('b', HOSTS[1], ['web']), c: port('c', HOSTS[1], ['db']) };
    groups = [web(true), db];
    await apply();
    await startEcho(env.nodes[0], w.a.ns, [5001, 5002]);
    await startEcho(env.nodes[1], w.b.ns, [5001, 5002]);
    await startEcho(env.nodes[1], w.c.ns, [5001]);
  });

  after(async () => {
    await env.destroy();
  });

  it('allows what the rules allow, both ways, replies included; denies the rest', async () => {
    assert.ok(await echoOnce(w.a, 'tcp', IP.b, 5001), 'a -> b tcp 5001');
    assert.ok(await echoOnce(w.b, 'tcp', IP.a, 5001), 'b -> a tcp 5001');
    assert.equal(await echoOnce(w.a, 'tcp', IP.b, 5002), false, 'a -> b tcp 5002');
    assert.equal(await echoOnce(w.b, 'tcp', IP.a, 5002), false, 'b -> a tcp 5002');
    assert.equal(await echoOnce(w.a, 'udp', IP.b, 5001), false, 'a -> b udp 5001');
  });

  it('tracks the flows only on the node that owns the pair (br-netfilter mode)', async () => {
    const before = [await untracked(0), await untracked(1)];
    assert.ok(await echoOnce(w.a, 'tcp', IP.b, 5001));
    const after = [await untracked(0), await untracked(1)];
    assert.equal(after[owner], before[owner], `owner ${HOSTS[owner]} passed nothing untracked`);
    // bridge-ct mode untracks nothing (compile.ts): the other node then filters its side too.
    if (mode === 'bridge-ct') assert.equal(after[1 - owner], before[1 - owner]);
    else assert.ok(after[1 - owner]! - before[1 - owner]! >= 4, `non-owner untracked ${before} -> ${after}`);
  });

  it('remote groups and a membership change decide on either node', async () => {
    assert.equal(await echoOnce(w.c, 'tcp', IP.a, 5001), false, 'c (db) -> a: not in web');
    assert.ok(await echoOnce(w.a, 'tcp', IP.c, 5001), 'a (web) -> c (db)');
    ports.c = port('c', HOSTS[1], ['db', 'web']);
    await apply();
    assert.ok(await echoOnce(w.c, 'tcp', IP.a, 5001), 'c joined web');
    ports.c = port('c', HOSTS[1], ['db']);
    await apply();
    assert.equal(await echoOnce(w.c, 'tcp', IP.a, 5001), false, 'c left web');
  });

  it('a removed rule cuts an established session, whichever node owns it', async () => {
    const s = tcpSession(env.nodes[0], w.a.ns, IP.b, 5001);
    try {
      assert.ok(await s.exchange('one'), 'session up');
      groups = [web(false), db];
      await apply();
      assert.equal(await s.exchange('two'), false, 'cut after the rule went');
    } finally {
      s.close();
      groups = [web(true), db];
      await apply();
    }
    assert.ok(await echoOnce(w.a, 'tcp', IP.b, 5001), 'rule back');
  });

  it('a port that migrates is filtered as before, during and after the move', async () => {
    // Prepared on host-a (inactive binding) while still running on host-b: both nodes filter it.
    const prepared: PortBinding = {
      host: HOSTS[0],
      status: 'INACTIVE',
      vif_type: 'tap',
      vif_details: {},
      vnic_type: 'normal',
      profile: {},
    };
    ports.c = { ...port('c', HOSTS[1], ['db']), 'binding:inactive': [prepared] };
    await apply();
    assert.ok(await echoOnce(w.a, 'tcp', IP.c, 5001), 'a -> c during the move');
    assert.equal(await echoOnce(w.c, 'tcp', IP.a, 5001), false, 'c -> a during the move');
    // Moved: c now runs on host-a, next to a and across the overlay from b.
    await env.nodes[1].node('ip', ['link', 'del', tapName(ID.c)]);
    w.c = await env.addWorkload(0, 4, tapName(ID.c), MAC.c, IP.c);
    await startEcho(env.nodes[0], w.c.ns, [5001]);
    ports.c = port('c', HOSTS[0], ['db']);
    await apply();
    assert.ok(await echoOnce(w.b, 'tcp', IP.c, 5001), 'b -> c after the move');
    assert.ok(await echoOnce(w.a, 'tcp', IP.c, 5001), 'a -> c after the move');
    assert.equal(await echoOnce(w.c, 'tcp', IP.b, 5001), false, 'c -> b after the move');
    // And the other end: b moves to host-a too (a -> b is now local to one node).
    await env.nodes[1].node('ip', ['link', 'del', tapName(ID.b)]);
    w.b = await env.addWorkload(0, 5, tapName(ID.b), MAC.b, IP.b);
    await startEcho(env.nodes[0], w.b.ns, [5001, 5002]);
    ports.b = port('b', HOSTS[0], ['web']);
    await apply();
    assert.ok(await echoOnce(w.a, 'tcp', IP.b, 5001), 'a -> b after b moved');
    assert.equal(await echoOnce(w.a, 'tcp', IP.b, 5002), false, 'a -> b 5002 after b moved');
  });
});
