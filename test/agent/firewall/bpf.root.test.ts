/**
 * tc-BPF security groups on real kernel objects: a node namespace with bridge hnb-1001 and three
 * workload namespaces, programs loaded from the built object and attached by the driver, checked
 * with real traffic over IPv4 and IPv6: allowed and denied flows, replies, a rule added and removed by
 * map updates alone (the programs stay the same), anti-spoofing as the nft path does it (source MAC,
 * address, ARP sender, DHCP from 0.0.0.0, neighbour discovery from ::, no DHCP server or router
 * advertisement; probed with raw frames watched on the bridge), ICMP errors about tracked flows
 * (conntrack's `related`), fragmented datagrams, stateless groups, and the closed states. Needs root and the object
 * `npm run build` makes.
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
import { BROADCAST, arp, ethernet, frameCrosses, icmp, ipv4, ipv6, udp } from '../../../testkit/frame-probe.js';
import { NodeEnv, echoOnce, pingOnce, startEcho, tcpSession, type Workload } from '../../../testkit/firewall-netenv.js';
import { needsRoot, skipUnless } from '../../../testkit/preconditions.js';

const ID = [
  'a1a1a1a1-0000-4000-8000-0000000000b1',
  'b2b2b2b2-0000-4000-8000-0000000000b2',
  'c3c3c3c3-0000-4000-8000-0000000000b3',
];
const MAC = ['fa:16:3e:00:0b:01', 'fa:16:3e:00:0b:02', 'fa:16:3e:00:0b:03'];
const IP = ['10.0.1.11', '10.0.1.12', '10.0.1.13'];
const IP6 = ['fd00:b::11', 'fd00:b::12', 'fd00:b::13'];
/** An address pair of port 0. */
const PAIR = '10.0.1.50';
const FOREIGN_MAC = 'fa:16:3e:00:0b:99';

/** Sends UDP from `w` to ip:port twice within 1 s: true when an ICMP error made the socket fail (ECONNREFUSED). */
async function refused(w: Workload, ip: string, port: number): Promise<boolean> {
  const code = `
const [ip,port]=process.argv.slice(1);const done=ok=>{process.stdout.write(ok?'ok':'no');process.exit(0)};
setTimeout(()=>done(false),1000);
const u=require('dgram').createSocket(ip.includes(':')?'udp6':'udp4');u.on('error',e=>done(e.code==='ECONNREFUSED'));
u.connect(+port,ip,()=>{u.send('hi');setTimeout(()=>u.send('hi'),200)})`;
  const r = await w.exec(process.execPath, ['-e', code, ip, String(port)], { timeoutMs: 5000, allowFail: true });
  return r.stdout === 'ok';
}

const skip = needsRoot() || skipUnless(bpfBuilt(), 'the tc-BPF object is not built (npm run build)');

describe('tc-BPF security groups, real traffic', { skip }, () => {
  const env = new NodeEnv(`hnbf-${process.pid}-t-`);
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
  // port 0's address only, ping from members of `client`, udp 5009 (nothing listens: ICMP errors);
  // the same over IPv6 but udp 5002; port 2 is in no group.
  const serverRules = (extra: boolean, egress = true) =>
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
      { id: 's6', direction: 'ingress', protocol: 'udp', port_range_min: 5009, port_range_max: 5009 },
      {
        id: 's7',
        direction: 'ingress',
        ethertype: 'IPv6',
        protocol: 'tcp',
        port_range_min: 5001,
        port_range_max: 5001,
      },
      { id: 's8', direction: 'ingress', ethertype: 'IPv6', protocol: 'icmp', remote_group_id: 'client' },
      {
        id: 's9',
        direction: 'ingress',
        ethertype: 'IPv6',
        protocol: 'udp',
        port_range_min: 5009,
        port_range_max: 5009,
      },
      ...(egress
        ? [
            { id: 's4', direction: 'egress' as const, ethertype: 'IPv4' as const },
            { id: 's10', direction: 'egress' as const, ethertype: 'IPv6' as const },
          ]
        : []),
      ...(extra
        ? [{ id: 's5', direction: 'ingress' as const, protocol: 'tcp', port_range_min: 5003, port_range_max: 5003 }]
        : []),
    ]);
  const clientGroup = () =>
    makeGroup('client', [
      { id: 'c1', direction: 'egress', ethertype: 'IPv4' },
      { id: 'c2', direction: 'egress', ethertype: 'IPv6' },
    ]);
  const input = (): FirewallInput => ({
    mode: 'br-netfilter',
    localPorts: ports.map((port) => ({ port, ifname: tapName(port.id), vni: 1001 })),
    securityGroups: groups,
    allPorts: ports,
  });
  const progIds = async () =>
    (await opts.tc('tc', ['filter', 'show', 'dev', tapName(ID[1]!), 'egress'])).stdout.match(/id \d+/g);

  /** Whether `frame` sent from workload `i` reaches the bridge (tcpdump there with `filter`). */
  const fromPort = (i: number, frame: Buffer, filter: string) =>
    frameCrosses(w[i]!.ns, 'eth0', frame, env.nodeNs, 'hnb-1001', filter);
  const apply = () => driver.apply(compileBpf(input()));

  before(async () => {
    await env.create();
    for (let i = 0; i < 3; i++) {
      w.push(await env.addWorkload(i + 1, tapName(ID[i]!), MAC[i]!, IP[i]!));
      await w[i]!.exec('ip', ['-6', 'addr', 'add', `${IP6[i]}/64`, 'dev', 'eth0', 'nodad']);
    }
    for (const x of w) await startEcho(env, x.ns, [5001, 5002, 5003]);
    groups = [clientGroup(), serverRules(false)];
    ports = [
      makePort(
        {
          id: ID[0]!,
          mac_address: MAC[0]!,
          security_groups: ['client'],
          allowed_address_pairs: [{ ip_address: PAIR, mac_address: MAC[0]! }],
        },
        [IP[0]!, IP6[0]!],
      ),
      makePort({ id: ID[1]!, mac_address: MAC[1]!, security_groups: ['server'] }, [IP[1]!, IP6[1]!]),
      makePort({ id: ID[2]!, mac_address: MAC[2]!, security_groups: [] }, [IP[2]!, IP6[2]!]),
    ];
    await apply();
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

  it('passes the later fragments of an allowed datagram, and not those of a denied one', async () => {
    // 4,000 bytes over a 1,500 MTU leave, and echo back, in three fragments; only the first carries
    // the ports, so the later ones pass on what it passed with (as conntrack's reassembly decides).
    assert.equal(await echoOnce(w[0]!, 'udp', IP[1]!, 5002, 0, 4000), true, 'udp 5002, fragmented, and its reply');
    assert.equal(await pingOnce(w[0]!, IP[1]!, undefined, 3000), true, 'a fragmented ping from a group member');
    assert.equal(await pingOnce(w[0]!, IP6[1]!, undefined, 3000), true, 'a fragmented ICMPv6 ping (fragment header)');
    assert.equal(await echoOnce(w[2]!, 'udp', IP[1]!, 5002, 0, 4000), false, 'udp 5002 from outside the prefix');
    assert.equal(await pingOnce(w[2]!, IP[1]!, undefined, 3000), false, 'a fragmented ping from a non-member');
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

  it('IPv6: passes what the rules allow and the replies, drops the rest', async () => {
    assert.equal(await echoOnce(w[0]!, 'tcp', IP6[1]!, 5001), true, 'tcp 5001 over IPv6, and its replies');
    assert.equal(await pingOnce(w[0]!, IP6[1]!), true, 'ICMPv6 from a member of the remote group');
    assert.equal(await echoOnce(w[0]!, 'tcp', IP6[1]!, 5003), false, 'tcp 5003 has no rule');
    assert.equal(await pingOnce(w[2]!, IP6[1]!), false, 'ICMPv6 from a non-member (no egress rule either)');
    assert.equal(await echoOnce(w[1]!, 'tcp', IP6[0]!, 5001), false, 'the client takes no new connections');
    await w[0]!.exec('ip', ['-6', 'addr', 'add', 'fd00:b::99/64', 'dev', 'eth0', 'nodad']);
    try {
      assert.equal(await pingOnce(w[0]!, IP6[1]!, 'fd00:b::99'), false, 'a spoofed IPv6 source');
    } finally {
      await w[0]!.exec('ip', ['-6', 'addr', 'del', 'fd00:b::99/64', 'dev', 'eth0']);
    }
  });

  it('anti-spoofing: source MAC and address, address pairs, DHCP from 0.0.0.0, no DHCP server', async () => {
    const u = (src: string, from: string, sport: number, dport: number, dst = IP[1]!, dmac = MAC[1]!) =>
      ethernet(dmac, src, 0x0800, ipv4(from, dst, 17, udp(sport, dport)));
    const f = (port: number) => `udp port ${port}`;
    assert.equal(await fromPort(0, u(MAC[0]!, IP[0]!, 40000, 40001), f(40001)), true, 'its own MAC and address');
    assert.equal(await fromPort(0, u(FOREIGN_MAC, IP[0]!, 40000, 40002), f(40002)), false, 'another MAC');
    assert.equal(await fromPort(0, u(MAC[0]!, IP[2]!, 40000, 40003), f(40003)), false, 'another address');
    assert.equal(await fromPort(0, u(MAC[0]!, PAIR, 40000, 40004), f(40004)), true, 'an allowed address pair');
    const discover = u(MAC[0]!, '0.0.0.0', 68, 67, '255.255.255.255', BROADCAST);
    assert.equal(await fromPort(0, discover, 'udp port 67'), true, 'DHCP discovery from 0.0.0.0');
    const offer = u(MAC[0]!, IP[0]!, 67, 68, IP[1]!);
    assert.equal(await fromPort(0, offer, 'udp port 68'), false, 'a DHCP server reply from a port');
    const other = ethernet(BROADCAST, MAC[0]!, 0x88b5, Buffer.alloc(46, 1));
    assert.equal(await fromPort(0, other, 'ether proto 0x88b5'), false, 'an ethertype other than IPv4, IPv6, ARP');
  });

  it("anti-spoofing: the ARP sender must be one of the port's (MAC, address) pairs", async () => {
    const a = (src: string, sha: string, spa: string) =>
      ethernet(BROADCAST, src, 0x0806, arp(1, sha, spa, '00:00:00:00:00:00', IP[1]!));
    const f = (spa: string) => `arp and arp[14:4] = 0x${Buffer.from(spa.split('.').map(Number)).toString('hex')}`;
    assert.equal(await fromPort(0, a(MAC[0]!, MAC[0]!, IP[0]!), f(IP[0]!)), true, 'its own');
    assert.equal(await fromPort(0, a(MAC[0]!, MAC[0]!, '0.0.0.0'), f('0.0.0.0')), true, 'a probe from 0.0.0.0');
    assert.equal(await fromPort(0, a(MAC[0]!, MAC[0]!, IP[2]!), f(IP[2]!)), false, "another port's address");
    assert.equal(await fromPort(0, a(MAC[0]!, FOREIGN_MAC, PAIR), f(PAIR)), false, 'another sender MAC');
    assert.equal(await fromPort(0, a(FOREIGN_MAC, MAC[0]!, IP[0]!), f(IP[0]!)), false, 'another frame source');
  });

  it('anti-spoofing over IPv6: ND and MLD from ::, link-local, no router advertisement', async () => {
    const v6 = (src: string, from: string, dst: string, next: number, payload: Buffer) =>
      ethernet('33:33:00:00:00:01', src, 0x86dd, ipv6(from, dst, next, payload));
    const ns = icmp(135, 0, Buffer.from(Buffer.alloc(16)));
    const ll = 'fe80::f816:3eff:fe00:b01';
    const f = (type: number) => `icmp6 and ip6[40] = ${type}`;
    assert.equal(await fromPort(0, v6(MAC[0]!, '::', 'ff02::1', 58, ns), f(135)), true, 'DAD from ::');
    assert.equal(await fromPort(0, v6(FOREIGN_MAC, '::', 'ff02::1', 58, ns), f(135)), false, 'DAD, another MAC');
    assert.equal(await fromPort(0, v6(MAC[0]!, ll, 'ff02::1', 58, ns), f(135)), true, "the MAC's link-local");
    const ra = icmp(134, 0, Buffer.alloc(8));
    assert.equal(await fromPort(0, v6(MAC[0]!, ll, 'ff02::1', 58, ra), f(134)), false, 'a router advertisement');
    // An MLDv2 report behind a hop-by-hop header (router alert), as the kernel sends it.
    const hbh = Buffer.from([58, 0, 5, 2, 0, 0, 1, 0]);
    const mld = Buffer.concat([hbh, icmp(143, 0)]);
    assert.equal(await fromPort(0, v6(MAC[0]!, '::', 'ff02::16', 0, mld), 'ip6[48] = 143'), true, 'MLD from ::');
    const echo = v6(MAC[0]!, 'fd00:b::77', IP6[1]!, 58, icmp(128, 0));
    assert.equal(await fromPort(0, echo, f(128)), false, 'another IPv6 source');
  });

  it('port security off: nothing filters the port', async () => {
    const saved = ports;
    const spoofed = ethernet(MAC[1]!, FOREIGN_MAC, 0x0800, ipv4('10.0.1.77', IP[1]!, 17, udp(40000, 40010)));
    try {
      assert.equal(await fromPort(2, spoofed, 'udp port 40010'), false, 'with port security');
      ports = [ports[0]!, ports[1]!, { ...ports[2]!, port_security_enabled: false }];
      await apply();
      assert.equal(await fromPort(2, spoofed, 'udp port 40010'), true, 'without');
      assert.equal(await echoOnce(w[0]!, 'tcp', IP[2]!, 5001), true, 'and it takes anything');
      // Port 1 takes ICMPv6 from the IPv6 members of `client` only: an IPv4 member's address in its
      // IPv4-mapped IPv6 form is not one of them.
      const mappedEcho = (from: string) =>
        ethernet(MAC[1]!, MAC[2]!, 0x86dd, ipv6(from, IP6[1]!, 58, icmp(128, 0, Buffer.alloc(4))));
      const atPort1 = (frame: Buffer) =>
        frameCrosses(w[2]!.ns, 'eth0', frame, w[1]!.ns, 'eth0', 'icmp6 and ip6[40] = 128');
      assert.equal(await atPort1(mappedEcho(IP6[0]!)), true, 'from an IPv6 member of the remote group');
      assert.equal(await atPort1(mappedEcho(`::ffff:${IP[0]}`)), false, "from an IPv4 member's mapped address");
    } finally {
      ports = saved;
      await apply();
    }
    assert.equal(await echoOnce(w[0]!, 'tcp', IP[2]!, 5001), false, 'filtered again');
  });

  it('lets ICMP errors about a tracked flow through (related), not others', async () => {
    // Port 0 takes no new flows at all: the port unreachable from port 1 passes only as related.
    assert.equal(await refused(w[0]!, IP[1]!, 5009), true, 'IPv4 port unreachable');
    assert.equal(await refused(w[0]!, IP6[1]!, 5009), true, 'ICMPv6 port unreachable');
    // An error quoting a flow that was never tracked (from port 1, so its own egress rules let it out).
    const quoted = ipv4(IP[0]!, IP[1]!, 17, udp(41000, 5009));
    const err = ethernet(MAC[0]!, MAC[1]!, 0x0800, ipv4(IP[1]!, IP[0]!, 1, icmp(3, 3, quoted)));
    const watch = (frame: Buffer) =>
      frameCrosses(w[1]!.ns, 'eth0', frame, w[0]!.ns, 'eth0', 'icmp[icmptype] = icmp-unreach');
    assert.equal(await watch(err), false, 'an error about no tracked flow');
    assert.equal(await echoOnce(w[0]!, 'udp', IP[1]!, 5009, 41000), false, 'tracks 41000 → 5009 (no echo)');
    assert.equal(await watch(err), true, 'the same error once the flow is tracked');
  });

  it('stateless groups: rules per packet, no flow entries', async () => {
    const saved = groups;
    const ctOf = async (tap: string) => {
      const idx = JSON.parse((await env.node('ip', ['-j', 'link', 'show', tap])).stdout)[0].ifindex as number;
      const dump = await realExec('bpftool', ['-j', 'map', 'dump', 'pinned', `${pinDir}/maps/hn_ct`]);
      const entries = JSON.parse(dump.stdout) as Array<{ key: string[] }>;
      return entries.filter((e) => Number.parseInt(e.key[0]!, 16) + 256 * Number.parseInt(e.key[1]!, 16) === idx)
        .length;
    };
    try {
      groups = [groups[0]!, serverRules(false, false)];
      await apply();
      assert.equal(await echoOnce(w[0]!, 'tcp', IP[1]!, 5001), true, 'stateful: replies need no egress rule');
      assert.ok((await ctOf(tapName(ID[1]!))) > 0, 'stateful: flow entries at the server');
      groups = [groups[0]!, { ...serverRules(false, false), stateful: false }];
      await apply();
      assert.equal(await echoOnce(w[0]!, 'tcp', IP[1]!, 5001), false, 'stateless: replies need an egress rule');
      groups = [groups[0]!, { ...serverRules(false), stateful: false }];
      await apply();
      await realExec('bpftool', ['map', 'dump', 'pinned', `${pinDir}/maps/hn_ct`]);
      const before = await ctOf(tapName(ID[1]!));
      assert.equal(await echoOnce(w[0]!, 'tcp', IP[1]!, 5001), true, 'stateless with its egress rule');
      assert.equal(await echoOnce(w[0]!, 'tcp', IP[1]!, 5003), false, 'still only what the rules allow');
      assert.equal(await ctOf(tapName(ID[1]!)), before, 'stateless: no new flow entries at the server');
    } finally {
      groups = saved;
      await apply();
    }
  });

  it('adds and removes a rule by map update only; a removal cuts the session it allowed', async () => {
    const before = await progIds();
    assert.ok(before && before.length === 1, 'one program on the tap');
    groups = [groups[0]!, serverRules(true)];
    await apply();
    assert.equal(await echoOnce(w[0]!, 'tcp', IP[1]!, 5003), true, 'the new rule allows 5003');
    const s = tcpSession(env, w[0]!.ns, IP[1]!, 5003);
    const s1 = tcpSession(env, w[0]!.ns, IP[1]!, 5001);
    try {
      assert.equal(await s.exchange('one'), true);
      assert.equal(await s1.exchange('one'), true);
      groups = [groups[0]!, serverRules(false)];
      await apply();
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
    const saved = ports;
    ports = [ports[0]!, { ...ports[1]!, security_groups: ['server', 'gone'] }, ports[2]!];
    try {
      const c = compileBpf(input());
      assert.match(c.rejected.get(ID[1]!) ?? '', /unknown/);
      await driver.apply(c);
      assert.equal(await echoOnce(w[0]!, 'tcp', IP[1]!, 5001), false);
    } finally {
      ports = saved;
      await apply();
    }
    assert.equal(await echoOnce(w[0]!, 'tcp', IP[1]!, 5001), true, 'open again once it compiles');
  });

  it('blocks a tap whose programs cannot be loaded', async () => {
    const env2 = new NodeEnv(`hnbf-${process.pid}-u-`);
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
