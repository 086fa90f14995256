/**
 * Containment on a real node (root): three ports of two tenants wired on one node namespace, one of
 * them holding an address nft rejects (`fe80::1%eth0` in allowed_address_pairs, as an older server
 * could hand out: fed to the agent in its model, the API itself refuses it). The agent's firewall
 * and datapath converge the other two (bounded ping passes between them), keep the bad port closed
 * (its tap stays out of the bridge, its map elements drop, its ping fails), and report it ERROR with
 * the reason to a real server, where `hypernet status` computes its problem line from it. Run on
 * both firewalls (nftables, tc-BPF), each on a node namespace of its own.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DatapathReconciler } from '../../../src/agent/datapath/reconciler.js';
import { FirewallReconciler } from '../../../src/agent/firewall/reconciler.js';
import { BpfFirewallDriver, bpfBuilt } from '../../../src/agent/firewall/bpf/driver.js';
import { BpfFirewallReconciler } from '../../../src/agent/firewall/bpf/reconciler.js';
import { Reconciler } from '../../../src/agent/loop/reconciler.js';
import { PortStatusReporter } from '../../../src/agent/status-reporter.js';
import { realClock } from '../../../src/common/clock.js';
import { inNetnsKeepMounts, realExec, type Exec } from '../../../src/common/exec.js';
import { silentLogger } from '../../../src/common/log.js';
import { computeStatus } from '../../../src/ctl/status.js';
import { tapName } from '../../../src/model/kernel-names.js';
import { ModelCache, type ModelView } from '../../../src/model/model-cache.js';
import type { Agent, Network, Port, SecurityGroup, SecurityGroupRule, Subnet } from '../../../src/model/types.js';
import { agent } from '../../../testkit/model-fixtures.js';
import { skipUnless } from '../../../testkit/preconditions.js';
import { startServer, type TestServer } from '../../ctl/server.js';
import { addNetns, isRoot, removeRun, runPrefix, sh, sweepStale } from '../netns.js';

const prefix = runPrefix('ct');
const node = { host: 'hostA', underlayIp: '192.0.2.1', underlayMtu: 1500 };
const BAD = 'fe80::1%eth0';
const pinDir = `/sys/fs/bpf/hypernet/${prefix}bnode`;

describe('containment: one bad port does not stop the node', {
  skip: !isRoot() && 'needs root',
  timeout: 60_000,
}, () => {
  let server: TestServer;
  let exec: Exec;
  let model: ModelView;
  const ports: Record<'a' | 'b' | 'c', Port> = {} as never;
  const ws: Record<string, Exec> = {};

  before(async () => {
    await sweepStale();
    server = await startServer();
    const api = server.admin;
    const net = await api.create<Network>('networks', 'network', { name: 'shared', shared: true });
    const subnet = await api.create<Subnet>('subnets', 'subnet', {
      network_id: net.id,
      cidr: '10.0.1.0/24',
      ip_version: 4,
      enable_dhcp: false,
    });
    // Tenant t1 has port a; tenant t2 has b (the bad one) and c. ICMP in from anywhere for both.
    for (const [k, project] of [
      ['a', 't1'],
      ['b', 't2'],
      ['c', 't2'],
    ] as const)
      ports[k] = await api.create<Port>('ports', 'port', {
        network_id: net.id,
        project_id: project,
        'binding:host_id': node.host,
      });
    const groups = await api.list<SecurityGroup>('security-groups');
    for (const g of groups)
      await api.create('security-group-rules', 'security_group_rule', {
        security_group_id: g.id,
        direction: 'ingress',
        ethertype: 'IPv4',
        protocol: 'icmp',
      });
    // What an older server would have stored: an address pair with a zone id.
    const bad: Port = { ...ports.b, allowed_address_pairs: [{ ip_address: BAD, mac_address: ports.b.mac_address }] };
    const cache = new ModelCache();
    cache.applySnapshot({
      type: 'snapshot',
      revision: 1,
      networks: [net],
      subnets: [subnet],
      ports: [ports.a, bad, ports.c],
      security_groups: await api.list<SecurityGroup>('security-groups'),
      security_group_rules: await api.list<SecurityGroupRule>('security-group-rules'),
      agents: [agent('a1', node.host, node.underlayIp) as Agent],
    });
    model = cache.view();
  });
  after(async () => {
    await realExec('rm', ['-rf', pinDir], { allowFail: true });
    await removeRun(prefix);
    await server?.close();
  });

  /** A fresh node namespace `<prefix><tag>node` with the three taps and their workloads. */
  async function wire(tag: string): Promise<void> {
    exec = await addNetns(`${prefix}${tag}node`);
    await sh(exec, [
      'ip link add u0 type veth peer name u1',
      'ip addr add 192.0.2.1/24 dev u0',
      'ip link set u0 up',
      'ip link set u1 up',
    ]);
    for (const k of ['a', 'b', 'c'] as const) {
      const p = ports[k];
      const ns = `${prefix}${tag}w${k}`;
      ws[k] = await addNetns(ns);
      await sh(exec, [`ip link add ${tapName(p.id)} type veth peer name eth0 netns ${ns}`]);
      await sh(ws[k]!, [
        `ip link set eth0 address ${p.mac_address}`,
        `ip addr add ${p.fixed_ips[0]!.ip_address}/24 dev eth0`,
        'ip link set eth0 up',
      ]);
    }
  }

  const master = async (p: Port) =>
    (JSON.parse((await exec('ip', ['-json', 'link', 'show', tapName(p.id)])).stdout) as { master?: string }[])[0]!
      .master ?? null;
  const ping = async (from: 'a' | 'b', to: Port) =>
    (await ws[from]!('ping', ['-c', '2', '-W', '1', '-i', '0.2', to.fixed_ips[0]!.ip_address], { allowFail: true }))
      .code;

  // Both firewalls, each on a node of its own; the tables or maps that drop the bad port differ.
  for (const mode of ['nftables', 'tc-bpf'] as const)
    it(`wires and reports the good ports, closes the bad one and reports why (${mode})`, {
      skip: mode === 'tc-bpf' && skipUnless(bpfBuilt(), 'the tc-BPF object is not built (npm run build)'),
    }, async () => {
      await wire(mode === 'tc-bpf' ? 'b' : 'n');
      const firewall =
        mode === 'tc-bpf'
          ? new BpfFirewallReconciler(
              node.host,
              new BpfFirewallDriver({
                node: exec,
                tc: inNetnsKeepMounts(realExec, `${prefix}bnode`),
                host: realExec,
                pinDir,
                log: silentLogger(),
              }),
              silentLogger(),
            )
          : new FirewallReconciler(node.host, exec, silentLogger());
      const reporter = new PortStatusReporter(server.admin, realClock, silentLogger());
      const loop = new Reconciler(
        [firewall, new DatapathReconciler({ exec, node, log: silentLogger(), reporter, gate: firewall })],
        { clock: realClock, log: silentLogger(), model: () => model },
      );
      assert.equal(await loop.runOnce(model), true, 'the pass succeeds: the bad port is contained');
      await reporter.idle();

      assert.equal(firewall.ready(ports.a.id), true);
      assert.equal(firewall.ready(ports.c.id), true);
      assert.equal(firewall.ready(ports.b.id), false);
      assert.match(firewall.rejected(ports.b.id) ?? '', /fe80::1%eth0/);
      const bridge = await master(ports.a);
      assert.ok(bridge?.startsWith('hnb-'), 'a is in its bridge');
      assert.equal(await master(ports.c), bridge);
      assert.equal(await master(ports.b), null, 'the bad port stays out of the bridge');
      if (mode === 'nftables') {
        const maps = (await exec('nft', ['list', 'map', 'bridge', 'hypernet', 'egress_ports'])).stdout;
        assert.match(maps, new RegExp(`"${tapName(ports.b.id)}" : drop`), 'and its frames are dropped');
      }

      assert.equal(await ping('a', ports.c), 0, 'tenant 1 reaches tenant 2 over the node');
      assert.notEqual(await ping('b', ports.c), 0, 'the bad port passes nothing');

      const after = await server.admin.list<Port>('ports');
      const by = new Map(after.map((p) => [p.id, p]));
      assert.equal(by.get(ports.a.id)!.status, 'ACTIVE');
      assert.equal(by.get(ports.c.id)!.status, 'ACTIVE');
      assert.equal(by.get(ports.b.id)!.status, 'ERROR');
      assert.match(String(by.get(ports.b.id)!['binding:vif_details'].error), /allowed_address_pairs: "fe80::1%eth0"/);
      const status = computeStatus({ agents: [], networks: [], subnets: [], ports: after }, Date.now());
      const problem = status.problems.find((p) => p.id === ports.b.id);
      assert.match(problem?.message ?? '', /is ERROR, on host hostA: allowed_address_pairs: "fe80::1%eth0"/);
    });
});
