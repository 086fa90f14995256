/**
 * Security groups on real kernel objects: a node namespace with bridge hnb-1001 and three workload
 * namespaces; the compiled ruleset is applied by the driver and checked with real traffic and with
 * nft counters on both sides (spoofed frames must not reach the far side). Deltas go through a
 * long-lived `nft -i` (NftSession) as in the agent; conntrack.test.ts covers `nft -f`. Needs root.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../../src/common/log.js';
import { compileFirewall } from '../../../src/agent/firewall/compile.js';
import { FirewallDriver } from '../../../src/agent/firewall/driver.js';
import { NftSession } from '../../../src/agent/firewall/nft-session.js';
import type { FirewallMode } from '../../../src/agent/firewall/model.js';
import { tapName } from '../../../src/model/kernel-names.js';
import type { Port, SecurityGroup } from '../../../src/model/types.js';
import { defaultGroup, makeGroup, makePort } from '../../../testkit/firewall-fixtures.js';
import {
  NodeEnv,
  chainDrops,
  echoOnce,
  pingOnce,
  startEcho,
  sweepStale,
  tcpSession,
  type Workload,
} from '../../../testkit/firewall-netenv.js';
import { needsRoot } from '../../../testkit/preconditions.js';

const ID = [
  'a1a1a1a1-0000-4000-8000-000000000001',
  'b2b2b2b2-0000-4000-8000-000000000002',
  'c3c3c3c3-0000-4000-8000-000000000003',
];
const MAC = ['fa:16:3e:00:00:01', 'fa:16:3e:00:00:02', 'fa:16:3e:00:00:03'];
const IP = ['10.0.1.11', '10.0.1.12', '10.0.1.13'];

describe('firewall datapath', { skip: needsRoot() }, () => {
  const env = new NodeEnv();
  let driver: FirewallDriver;
  const session = new NftSession(['ip', 'netns', 'exec', env.nodeNs, 'nft', '-a', '-i']);
  let mode: FirewallMode;
  const w: Workload[] = [];
  let ports: Port[];
  let groups: SecurityGroup[];

  const serverGroup = (extra: boolean) =>
    makeGroup('server', [
      { id: 's1', direction: 'ingress', protocol: 'tcp', port_range_min: 5001, port_range_max: 5001 },
      {
        id: 's2',
        direction: 'ingress',
        protocol: 'udp',
        port_range_min: 5002,
        port_range_max: 5002,
        remote_ip_prefix: '10.0.1.11/32',
      },
      { id: 's3', direction: 'ingress', protocol: 'icmp', remote_group_id: 'client' },
      { id: 's4', direction: 'egress', ethertype: 'IPv4' },
      ...(extra
        ? [{ id: 's5', direction: 'ingress' as const, protocol: '132', remote_ip_prefix: '192.0.2.0/24' }]
        : []),
    ]);

  async function apply() {
    const c = compileFirewall({
      mode,
      localPorts: ports.map((port) => ({ port, ifname: tapName(port.id), vni: 1001 })),
      securityGroups: groups,
      allPorts: ports,
    });
    return driver.apply(c);
  }
  const setPort = (i: number, patch: Partial<Port>) => (ports[i] = { ...ports[i]!, ...patch });

  before(async () => {
    await sweepStale();
    await env.create();
    for (let i = 0; i < 3; i++) w.push(await env.addWorkload(i + 1, tapName(ID[i]!), MAC[i]!, IP[i]!));
    driver = new FirewallDriver(env.node, silentLogger(), session);
    mode = await driver.detectMode();
    await driver.prepare(mode);
    ports = [
      makePort({ id: ID[0]!, mac_address: MAC[0]!, security_groups: ['default', 'client'] }, [IP[0]!]),
      makePort({ id: ID[1]!, mac_address: MAC[1]!, security_groups: ['server'] }, [IP[1]!]),
      makePort({ id: ID[2]!, mac_address: MAC[2]!, security_groups: ['default'] }, [IP[2]!]),
    ];
    groups = [defaultGroup('default'), makeGroup('client', []), serverGroup(false)];
    assert.equal(await apply(), 'full');
    await startEcho(env, w[1]!.ns, [5001, 5002, 5003]);
    // far-side counters in w3: frames that arrive from a spoofed MAC or source IP, or from the VIP
    await w[2]!.exec('nft', ['-f', '-'], {
      input: `table netdev probe {
  counter spoofmac {}
  counter spoofip {}
  counter vip {}
  chain in {
    type filter hook ingress device eth0 priority 0;
    ether saddr fa:16:3e:00:00:77 counter name spoofmac
    ip saddr 10.0.1.99 counter name spoofip
    ip saddr 10.0.1.100 counter name vip
  }
}
`,
    });
  });

  after(async () => {
    session.close();
    await env.destroy();
  });

  async function farCounter(name: string): Promise<number> {
    const r = await w[2]!.exec('nft', ['-j', 'list', 'counter', 'netdev', 'probe', name]);
    return (JSON.parse(r.stdout).nftables as Array<{ counter?: { packets: number } }>).find((i) => i.counter)!.counter!
      .packets;
  }

  it('detects the conntrack mode (this kernel: br-netfilter)', () => {
    assert.ok(mode === 'br-netfilter' || mode === 'bridge-ct');
  });

  it('allows and denies TCP by port; replies pass statefully', async () => {
    assert.equal(
      await echoOnce(w[0]!, 'tcp', IP[1]!, 5001),
      true,
      'tcp 5001 allowed, reply passes although w1 has no ingress rule for it',
    );
    assert.equal(await echoOnce(w[0]!, 'tcp', IP[1]!, 5003), false, 'tcp 5003 has no rule');
  });

  it('allows UDP by remote_ip_prefix only', async () => {
    assert.equal(await echoOnce(w[0]!, 'udp', IP[1]!, 5002), true);
    assert.equal(await echoOnce(w[2]!, 'udp', IP[1]!, 5002), false);
  });

  it('default group: ingress only from members, egress anywhere', async () => {
    assert.equal(await pingOnce(w[0]!, IP[2]!), true, 'w1 and w3 are both in default');
    assert.equal(await pingOnce(w[1]!, IP[2]!), false, 'w2 is not in default');
  });

  it('ICMP by remote group; joining the group takes effect within 1 s', async () => {
    assert.equal(await pingOnce(w[0]!, IP[1]!), true);
    assert.equal(await pingOnce(w[2]!, IP[1]!), false);
    setPort(2, { security_groups: ['default', 'client'] }); // w3's own chains change too: full apply
    const t0 = Date.now();
    await apply();
    const ms = Date.now() - t0;
    assert.ok(ms < 1000, `apply took ${ms} ms`);
    assert.equal(await pingOnce(w[2]!, IP[1]!), true);
    setPort(2, { security_groups: ['default'] });
    await apply();
    assert.equal(await pingOnce(w[2]!, IP[1]!), false);
  });

  it('a port bound elsewhere joining a remote group only rewrites the set', async () => {
    const remote = makePort(
      {
        id: 'd4d4d4d4-0000-4000-8000-000000000004',
        mac_address: 'fa:16:3e:00:00:04',
        security_groups: ['client'],
        'binding:host_id': 'node2',
      },
      ['10.0.1.44'],
    );
    const localPorts = ports.map((port) => ({ port, ifname: tapName(port.id), vni: 1001 }));
    const c = compileFirewall({ mode, localPorts, securityGroups: groups, allPorts: [...ports, remote] });
    assert.equal(await driver.apply(c), 'delta');
    const set = (await env.node('nft', ['list', 'set', 'bridge', 'hypernet', 'sg_client_v4'])).stdout;
    assert.match(set, /10\.0\.1\.44/);
    assert.equal(await apply(), 'delta', 'and leaving it too');
    assert.doesNotMatch(
      (await env.node('nft', ['list', 'set', 'bridge', 'hypernet', 'sg_client_v4'])).stdout,
      /10\.0\.1\.44/,
    );
  });

  it('drops a spoofed source IP before it reaches the far side', async () => {
    await w[0]!.exec('ip', ['addr', 'add', '10.0.1.99/32', 'dev', 'eth0']);
    await w[0]!.exec('ip', ['neigh', 'replace', IP[2]!, 'lladdr', MAC[2]!, 'dev', 'eth0']);
    const before = await chainDrops(env.node, 'bridge', 'hypernet', 'spoof');
    assert.equal(await pingOnce(w[0]!, IP[2]!, '10.0.1.99'), false);
    assert.ok((await chainDrops(env.node, 'bridge', 'hypernet', 'spoof')) > before, 'anti-spoofing counter moved');
    assert.equal(await farCounter('spoofip'), 0, 'nothing from 10.0.1.99 arrived at w3');
    await w[0]!.exec('ip', ['addr', 'del', '10.0.1.99/32', 'dev', 'eth0']);
  });

  it('drops a spoofed MAC before it reaches the far side', async () => {
    const before = await chainDrops(env.node, 'bridge', 'hypernet', 'spoof');
    await w[0]!.exec('ip', ['link', 'set', 'eth0', 'address', 'fa:16:3e:00:00:77']);
    try {
      assert.equal(await pingOnce(w[0]!, IP[2]!), false);
    } finally {
      await w[0]!.exec('ip', ['link', 'set', 'eth0', 'address', MAC[0]!]);
    }
    assert.ok((await chainDrops(env.node, 'bridge', 'hypernet', 'spoof')) > before, 'anti-spoofing counter moved');
    assert.equal(await farCounter('spoofmac'), 0, 'no frame from the spoofed MAC arrived at w3');
    assert.equal(await pingOnce(w[0]!, IP[2]!), true, 'the real MAC works again');
  });

  it('blocks a port answering DHCP (udp sport 67)', async () => {
    // Dropped in the prerouting base chain, before its accept of a port's own IPv4 address (spoof.ts).
    const before = await chainDrops(env.node, 'bridge', 'hypernet', 'port_spoof');
    const code = `const u=require('dgram').createSocket('udp4');u.bind(67,'${IP[0]}',()=>{u.setBroadcast(true);u.send('x',68,'10.0.1.255',()=>process.exit(0))})`;
    await w[0]!.exec(process.execPath, ['-e', code], { timeoutMs: 5000 });
    assert.ok((await chainDrops(env.node, 'bridge', 'hypernet', 'port_spoof')) > before);
  });

  it('allowed_address_pairs lets a VIP through', async () => {
    await w[0]!.exec('ip', ['addr', 'add', '10.0.1.100/32', 'dev', 'eth0']);
    assert.equal(await pingOnce(w[0]!, IP[2]!, '10.0.1.100'), false, 'not yet allowed');
    assert.equal(await farCounter('vip'), 0);
    setPort(0, { allowed_address_pairs: [{ ip_address: '10.0.1.100', mac_address: '' }] });
    await apply();
    assert.equal(await pingOnce(w[0]!, IP[2]!, '10.0.1.100'), true);
    assert.ok((await farCounter('vip')) > 0);
  });

  it('never forwards DHCP into a tunnel port (hnv-*)', async () => {
    await env.node('ip', [
      'link',
      'add',
      'hnv-1001',
      'type',
      'vxlan',
      'id',
      '1001',
      'dstport',
      '4789',
      'local',
      '192.0.2.1',
      'nolearning',
    ]);
    await env.node('ip', ['link', 'set', 'hnv-1001', 'master', 'hnb-1001', 'up']);
    const before = await chainDrops(env.node, 'bridge', 'hypernet', 'port_egress');
    const code = `const u=require('dgram').createSocket('udp4');u.bind(68,()=>{u.setBroadcast(true);u.send('x',67,'10.0.1.255',()=>process.exit(0))})`;
    await w[0]!.exec(process.execPath, ['-e', code], { timeoutMs: 5000 });
    assert.ok(
      (await chainDrops(env.node, 'bridge', 'hypernet', 'port_egress')) > before,
      'DHCP towards hnv-1001 counted and dropped',
    );
  });

  it('an established TCP connection survives an unrelated rule change', async () => {
    const { exchange, close } = tcpSession(env, w[0]!.ns, IP[1]!, 5001);
    assert.equal(await exchange('before'), true);
    groups = [groups[0]!, groups[1]!, serverGroup(true)];
    assert.equal(await apply(), 'delta', 'one group chain rewritten');
    assert.equal(await exchange('after-change'), true, 'conntrack kept the connection');
    close();
  });

  it('a failed apply leaves the previous ruleset in force', async () => {
    const chains = await driver.readChains();
    const good = compileFirewall({
      mode,
      localPorts: ports.map((port) => ({ port, ifname: tapName(port.id), vni: 1001 })),
      securityGroups: groups,
      allPorts: ports,
    });
    const broken = { ...good, chains: new Map([...good.chains, ['sg_server_in', ['bogus statement']]]) };
    await assert.rejects(driver.apply(broken));
    assert.deepEqual(await driver.readChains(), chains);
    assert.equal(await echoOnce(w[0]!, 'tcp', IP[1]!, 5003), false, 'still filtered');
    assert.equal(await apply(), 'unchanged', 'the kernel still holds the last good ruleset');
  });

  it('a table deleted by someone else is restored by the next apply', async () => {
    await env.node('nft', ['delete', 'table', 'bridge', 'hypernet']);
    assert.equal(await apply(), 'full');
    assert.equal(await echoOnce(w[0]!, 'tcp', IP[1]!, 5003), false, 'filtered again');
    assert.equal(await apply(), 'unchanged');
  });

  it('port_security_enabled=false lifts filtering and anti-spoofing', async () => {
    assert.equal(await echoOnce(w[2]!, 'tcp', IP[1]!, 5003), false);
    setPort(1, { port_security_enabled: false });
    setPort(2, { port_security_enabled: false });
    await apply();
    assert.equal(await echoOnce(w[2]!, 'tcp', IP[1]!, 5003), true);
    await w[1]!.exec('ip', ['addr', 'add', '10.0.1.99/32', 'dev', 'eth0']);
    await w[1]!.exec('ip', ['neigh', 'replace', IP[2]!, 'lladdr', MAC[2]!, 'dev', 'eth0']);
    assert.equal(await pingOnce(w[1]!, IP[2]!, '10.0.1.99'), true);
    assert.ok((await farCounter('spoofip')) > 0, 'an unprotected port may send from any address');
  });
});
