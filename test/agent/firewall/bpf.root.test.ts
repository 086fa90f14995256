/**
 * tc-BPF security groups on real kernel objects: a node namespace with bridge hnb-1001 and three
 * workload namespaces, programs loaded from the built object and attached by the driver, checked
 * with real traffic: allowed and denied flows, replies, a rule added and removed by map updates
 * alone (the programs stay the same), a spoofed source, and the closed states. Needs root and the
 * object `npm run build` makes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileBpf } from '../../../src/agent/firewall/bpf/compile.js';
import { BpfFirewallDriver, bpfBuilt } from '../../../src/agent/firewall/bpf/driver.js';
import type { FirewallInput } from '../../../src/agent/firewall/model.js';
import { inNetnsKeepMounts, realExec } from '../../../src/common/exec.js';
import { silentLogger } from '../../../src/common/log.js';
import { tapName } from '../../../src/model/kernel-names.js';
import type { Port, SecurityGroup } from '../../../src/model/types.js';
import { makeGroup, makePort } from '../../../testkit/firewall-fixtures.js';
import { NodeEnv, echoOnce, pingOnce, startEcho, tcpSession, type Workload } from '../../../testkit/firewall-netenv.js';
import { needsRoot, skipUnless } from '../../../testkit/preconditions.js';

const ID = [
  'a1a1a1a1-0000-4000-8000-0000000000b1',
  'b2b2b2b2-0000-4000-8000-0000000000b2',
  'c3c3c3c3-0000-4000-8000-0000000000b3',
];
const MAC = ['fa:16:3e:00:0b:01', 'fa:16:3e:00:0b:02', 'fa:16:3e:00:0b:03'];
const IP = ['10.0.1.11', '10.0.1.12', '10.0.1.13'];

const skip = needsRoot() || skipUnless(bpfBuilt(), 'the tc-BPF object is not built (npm run build)');

describe('tc-BPF security groups, real traffic', { skip }, () => {
  const env = new NodeEnv(`hnB-${process.pid}-t-`);
  const pinDir = `/sys/fs/bpf/hypernet/${env.nodeNs}`;
  const opts = {
    node: env.node,
    tc: inNetnsKeepMounts(realExec, env.nodeNs),
    host: realExec,
    pinDir,
    log: silentLogger(),
  };
  const driver = new BpfFirewallDriver(opts);
  const w: Workload[] = [];
  let ports: Port[];
  let groups: SecurityGroup[];

  // Port 0 is a client (egress anything); port 1 a server: tcp 5001 from anyone, udp 5002 from
  // port 0's address only, ping from members of `client`; port 2 is in no group.
  const serverRules = (extra: boolean) =>
    makeGroup('server', [
      { id: 's1', direction: 'ingress', protocol: 'tcp', port_range_min: 5001, port_range_max: 5001 },
      {
        id: 's2',
        direction: 'ingress',
        protocol: 'udp',
        port_range_min: 5002,
        port_range_max: 5002,
        remote_ip_prefix: `${IP[0]}/32`,
      },
      { id: 's3', direction: 'ingress', protocol: 'icmp', remote_group_id: 'client' },
      { id: 's4', direction: 'egress', ethertype: 'IPv4' },
      ...(extra
        ? [{ id: 's5', direction: 'ingress' as const, protocol: 'tcp', port_range_min: 5003, port_range_max: 5003 }]
        : []),
    ]);
  const input = (): FirewallInput => ({
    mode: 'br-netfilter',
    localPorts: ports.map((port) => ({ port, ifname: tapName(port.id), vni: 1001 })),
    securityGroups: groups,
    allPorts: ports,
  });
  const progIds = async () =>
    (await opts.tc('tc', ['filter', 'show', 'dev', tapName(ID[1]!), 'egress'])).stdout.match(/id \d+/g);

  before(async () => {
    await env.create();
    for (let i = 0; i < 3; i++) w.push(await env.addWorkload(i + 1, tapName(ID[i]!), MAC[i]!, IP[i]!));
    for (const x of w) await startEcho(env, x.ns, [5001, 5002, 5003]);
    groups = [makeGroup('client', [{ id: 'c1', direction: 'egress', ethertype: 'IPv4' }]), serverRules(false)];
    ports = [
      makePort({ id: ID[0]!, mac_address: MAC[0]!, security_groups: ['client'] }, [IP[0]!]),
      makePort({ id: ID[1]!, mac_address: MAC[1]!, security_groups: ['server'] }, [IP[1]!]),
      makePort({ id: ID[2]!, mac_address: MAC[2]!, security_groups: [] }, [IP[2]!]),
    ];
    await driver.apply(compileBpf(input()));
  });

  after(async () => {
    await driver.teardown();
    await env.destroy();
  });

  it('passes what the rules allow, and its replies', async () => {
    assert.equal(await echoOnce(w[0]!, 'tcp', IP[1]!, 5001), true, 'tcp 5001 client → server');
    assert.equal(await echoOnce(w[0]!, 'udp', IP[1]!, 5002), true, 'udp 5002 from the allowed prefix');
    assert.equal(await pingOnce(w[0]!, IP[1]!), true, 'icmp from the remote group');
  });

  it('drops what no rule allows, in either direction', async () => {
    assert.equal(await echoOnce(w[0]!, 'tcp', IP[1]!, 5003), false, 'tcp 5003 has no rule');
    assert.equal(await echoOnce(w[2]!, 'udp', IP[1]!, 5002), false, 'udp 5002 from outside the prefix');
    assert.equal(await pingOnce(w[2]!, IP[1]!), false, 'icmp from a non-member');
    assert.equal(await echoOnce(w[1]!, 'tcp', IP[0]!, 5001), false, 'the client takes no new connections');
    assert.equal(await echoOnce(w[0]!, 'tcp', IP[2]!, 5001), false, 'a port with no group takes nothing');
    assert.equal(await echoOnce(w[2]!, 'tcp', IP[1]!, 5001), false, 'nor sends anything');
  });

  it('drops a spoofed source address', async () => {
    await w[0]!.exec('ip', ['addr', 'add', '10.0.1.99/24', 'dev', 'eth0']);
    try {
      assert.equal(await pingOnce(w[0]!, IP[1]!, '10.0.1.99'), false);
      assert.equal(await pingOnce(w[0]!, IP[1]!, IP[0]!), true);
    } finally {
      await w[0]!.exec('ip', ['addr', 'del', '10.0.1.99/24', 'dev', 'eth0']);
    }
  });

  it('adds and removes a rule by map update only; a removal cuts the session it allowed', async () => {
    const before = await progIds();
    assert.ok(before && before.length === 1, 'one program on the tap');
    groups = [groups[0]!, serverRules(true)];
    await driver.apply(compileBpf(input()));
    assert.equal(await echoOnce(w[0]!, 'tcp', IP[1]!, 5003), true, 'the new rule allows 5003');
    const s = tcpSession(env, w[0]!.ns, IP[1]!, 5003);
    const s1 = tcpSession(env, w[0]!.ns, IP[1]!, 5001);
    try {
      assert.equal(await s.exchange('one'), true);
      assert.equal(await s1.exchange('one'), true);
      groups = [groups[0]!, serverRules(false)];
      await driver.apply(compileBpf(input()));
      assert.equal(await s.exchange('two'), false, 'the session on the removed rule is cut');
      assert.equal(await s1.exchange('two'), true, 'a session on a kept rule goes on');
      assert.equal(await echoOnce(w[0]!, 'tcp', IP[1]!, 5003), false);
    } finally {
      s.close();
      s1.close();
    }
    assert.deepEqual(await progIds(), before, 'the same program throughout');
  });

  it('closes a port the compiler refuses (no map entry: the program drops everything)', async () => {
    const saved = groups;
    groups = [groups[0]!, { ...serverRules(false), stateful: false }];
    try {
      const c = compileBpf(input());
      assert.match(c.rejected.get(ID[1]!) ?? '', /stateless/);
      await driver.apply(c);
      assert.equal(await echoOnce(w[0]!, 'tcp', IP[1]!, 5001), false);
    } finally {
      groups = saved;
      await driver.apply(compileBpf(input()));
    }
    assert.equal(await echoOnce(w[0]!, 'tcp', IP[1]!, 5001), true, 'open again once it compiles');
  });

  it('blocks a tap whose programs cannot be loaded', async () => {
    const env2 = new NodeEnv(`hnB-${process.pid}-u-`);
    const broken = new BpfFirewallDriver({
      ...opts,
      node: env2.node,
      tc: inNetnsKeepMounts(realExec, env2.nodeNs),
      pinDir: `/sys/fs/bpf/hypernet/${env2.nodeNs}`,
      object: '/nonexistent/hn-sg.bpf.o',
    });
    try {
      await env2.create();
      const a = await env2.addWorkload(1, tapName(ID[0]!), MAC[0]!, IP[0]!);
      await env2.addWorkload(2, tapName(ID[1]!), MAC[1]!, IP[1]!);
      assert.equal(await pingOnce(a, IP[1]!), true, 'unfiltered before');
      await assert.rejects(broken.apply(compileBpf({ ...input(), localPorts: input().localPorts.slice(0, 2) })));
      assert.equal(await pingOnce(a, IP[1]!), false, 'no traffic once the load failed');
    } finally {
      await broken.teardown();
      await env2.destroy();
    }
  });
});
