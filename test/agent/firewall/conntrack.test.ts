/**
 * Conntrack behaviour of the security groups on real kernel objects (root): two networks on one
 * node with the same addresses do not share conntrack state (zones), a removed rule cuts an
 * established connection while an unrelated removal does not, and a stateless group needs rules
 * for the replies. Node namespace with bridges hnb-1001 and hnb-1002, two workloads on each.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../../src/common/log.js';
import { compileFirewall } from '../../../src/agent/firewall/compile.js';
import { FirewallDriver } from '../../../src/agent/firewall/driver.js';
import type { FirewallMode } from '../../../src/agent/firewall/model.js';
import { tapName } from '../../../src/model/kernel-names.js';
import type { Port, SecurityGroup } from '../../../src/model/types.js';
import { makeGroup, makePort } from '../../../testkit/firewall-fixtures.js';
import {
  NodeEnv,
  echoOnce,
  startEcho,
  sweepStale,
  tcpSession,
  type Workload,
} from '../../../testkit/firewall-netenv.js';
import { needsRoot } from '../../../testkit/preconditions.js';

const IP = ['10.0.1.11', '10.0.1.12'];
/** Tenant A on VNI 1001 and tenant B on VNI 1002: same addresses, own MACs. */
const NETS = [
  {
    vni: 1001,
    ids: ['a1a1a1a1-0000-4000-8000-000000000001', 'a2a2a2a2-0000-4000-8000-000000000002'],
    macs: ['fa:16:3e:00:0a:01', 'fa:16:3e:00:0a:02'],
  },
  {
    vni: 1002,
    ids: ['b1b1b1b1-0000-4000-8000-000000000001', 'b2b2b2b2-0000-4000-8000-000000000002'],
    macs: ['fa:16:3e:00:0b:01', 'fa:16:3e:00:0b:02'],
  },
];

describe('firewall conntrack: zones, revocation, stateless', { skip: needsRoot() }, () => {
  const env = new NodeEnv();
  let driver: FirewallDriver;
  let mode: FirewallMode;
  const w: Workload[][] = [[], []];
  const ports: { port: Port; vni: number }[] = [];
  let groups: SecurityGroup[];
  let zones = true;

  const client = makeGroup('client', [{ id: 'c1', direction: 'egress', ethertype: 'IPv4' }]);
  const server = (tcp: boolean, extra: boolean) =>
    makeGroup('server', [
      ...(tcp
        ? [{ id: 's1', direction: 'ingress' as const, protocol: 'tcp', port_range_min: 5001, port_range_max: 5001 }]
        : []),
      ...(extra
        ? [{ id: 's2', direction: 'ingress' as const, protocol: 'tcp', port_range_min: 5003, port_range_max: 5003 }]
        : []),
      { id: 's3', direction: 'ingress', protocol: 'udp', port_range_min: 5002, port_range_max: 5002 },
      { id: 's4', direction: 'egress', ethertype: 'IPv4' },
    ]);
  const closed = makeGroup('closed', [{ id: 'x1', direction: 'egress', ethertype: 'IPv4' }]);

  const apply = () =>
    driver.apply(
      compileFirewall({
        mode,
        localPorts: ports.map(({ port, vni }) => ({ port, ifname: tapName(port.id), vni: zones ? vni : undefined })),
        securityGroups: groups,
        allPorts: ports.map((p) => p.port),
      }),
    );
  const setGroups = (net: number, i: number, sgs: string[]) => {
    const k = ports.findIndex((p) => p.port.id === NETS[net]!.ids[i]);
    ports[k] = { ...ports[k]!, port: { ...ports[k]!.port, security_groups: sgs } };
  };

  before(async () => {
    await sweepStale();
    await env.create(['hnb-1001', 'hnb-1002']);
    for (const [n, net] of NETS.entries()) {
      for (let i = 0; i < 2; i++) {
        w[n]!.push(await env.addWorkload(n * 2 + i + 1, tapName(net.ids[i]!), net.macs[i]!, IP[i]!, `hnb-${net.vni}`));
        const sgs = i === 0 ? ['client'] : n === 0 ? ['server'] : ['closed'];
        ports.push({
          port: makePort(
            { id: net.ids[i]!, mac_address: net.macs[i]!, security_groups: sgs, network_id: `net${net.vni}` },
            [IP[i]!],
          ),
          vni: net.vni,
        });
      }
    }
    driver = new FirewallDriver(env.node, silentLogger());
    mode = await driver.detectMode();
    await driver.prepare(mode);
    groups = [client, server(true, true), closed];
    await apply();
    await startEcho(env, w[0]![1]!.ns, [5001, 5002, 5003]);
    await startEcho(env, w[1]![1]!.ns, [5001, 5002, 5003]);
  });

  after(async () => {
    await env.destroy();
  });

  it("without zones, tenant B rides on tenant A's conntrack entry (the control)", async () => {
    zones = false;
    await apply();
    assert.equal(await echoOnce(w[0]![0]!, 'udp', IP[1]!, 5002, 40001), true, 'A: allowed by its group');
    assert.equal(
      await echoOnce(w[1]![0]!, 'udp', IP[1]!, 5002, 40001),
      true,
      'B: same tuple, passes as "established" although B2 allows nothing',
    );
    assert.equal(await echoOnce(w[1]![0]!, 'udp', IP[1]!, 5002, 40002), false, 'B: a fresh tuple is dropped');
  });

  it('with a zone per network, the same tuple in B is new and dropped', async () => {
    zones = true;
    await apply();
    assert.equal(await echoOnce(w[0]![0]!, 'udp', IP[1]!, 5002, 40003), true, 'A: allowed');
    assert.equal(await echoOnce(w[1]![0]!, 'udp', IP[1]!, 5002, 40003), false, 'B: own zone, no rule');
    const ct = await env.node('nft', ['list', 'map', 'inet', 'hypernet', 'port_zones'], { allowFail: true });
    if (mode === 'br-netfilter') assert.match(ct.stdout, /"hnb-1002" : 1002/, 'br_netfilter: keyed by bridge');
  });

  it('removing the rule that allowed an established TCP connection cuts it; an unrelated removal does not', async () => {
    const { exchange, close } = tcpSession(env, w[0]![0]!.ns, IP[1]!, 5001);
    try {
      assert.equal(await exchange('before'), true);
      const gen = driver.generation;
      groups = [client, server(true, false), closed];
      assert.equal(await apply(), 'delta');
      assert.notEqual(driver.generation, gen, 'a removal starts a new generation');
      assert.equal(await exchange('after-unrelated-removal'), true, 'still allowed by s1: re-checked and kept');
      groups = [client, server(false, false), closed];
      assert.equal(await apply(), 'delta');
      assert.equal(await exchange('after-removal'), false, 'the rule that allowed it is gone');
    } finally {
      close();
    }
    groups = [client, server(true, true), closed];
    await apply();
  });

  it('a stateless group needs a rule for the replies; a stateful one does not', async () => {
    const sl = (egress: boolean): SecurityGroup => ({
      ...makeGroup('sl', [
        { id: 'l1', direction: 'ingress', protocol: 'tcp', port_range_min: 5001, port_range_max: 5001 },
        ...(egress ? [{ id: 'l2', direction: 'egress' as const, ethertype: 'IPv4' as const }] : []),
      ]),
      stateful: false,
    });
    const inOnly = makeGroup('inonly', [
      { id: 'i1', direction: 'ingress', protocol: 'tcp', port_range_min: 5001, port_range_max: 5001 },
    ]);
    groups = [client, server(true, true), closed, inOnly, sl(false)];
    setGroups(0, 1, ['inonly']);
    await apply();
    assert.equal(
      await echoOnce(w[0]![0]!, 'tcp', IP[1]!, 5001),
      true,
      'stateful: the reply passes without an egress rule',
    );
    setGroups(0, 1, ['sl']);
    await apply();
    assert.equal(await echoOnce(w[0]![0]!, 'tcp', IP[1]!, 5001), false, 'stateless: no egress rule, no reply');
    groups = [client, server(true, true), closed, inOnly, sl(true)];
    await apply();
    assert.equal(await echoOnce(w[0]![0]!, 'tcp', IP[1]!, 5001), true, 'stateless with an egress rule');
    assert.equal(await echoOnce(w[0]![0]!, 'tcp', IP[1]!, 5003), false, 'and still only what the rules allow');
  });
});
