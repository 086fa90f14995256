/**
 * Custom-route mode end to end, as root, on the custom-route world (testkit/custom-route-world.ts:
 * namespaces `hncr-<pid>-…`, stale ones of dead runs swept first, all removed in after()), with the
 * routes made by the test. A VPC router namespace stands for EC2 (NetnsVpcDataplane),
 * driven through the lab's EC2 endpoint by the real SDK (CustomRoutes): the hyper subnet's route
 * points at the hyperswitch's ENI, whose source/dest check is off. The hyperswitch namespace runs
 * the real agent (`--custom-route`) and reaches node B over VXLAN on an underlay veth (192.0.2.0/24);
 * node B's agent wires a peer VM on a tap. Three VMs have nothing but their VPC address: vm1 and vm3
 * in mode `instead` (the hyperswitch NATs 1:1), vm2 in mode `in-addition` (its user_data's runcmd
 * adds the hyper IP). Ping and TCP cross both ways by hyper IP, and each side sees the other's hyper
 * IP. With the VPC security groups in place, vm1 reaches vm3 only through the hyperswitch: directly
 * it is dropped, by hyper IP tcpdump on the hyperswitch sees both legs.
 * Traffic is bounded (ping -c/-w, TCP with timeouts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { realExec } from '../../src/common/exec.js';
import { Children } from '../../testkit/children.js';
import { CustomRouteWorld } from '../../testkit/custom-route-world.js';
import { isRoot, needsRoot } from '../../testkit/preconditions.js';
import { eventually } from '../../testkit/wait.js';

const P = `hncr-${process.pid}-`;
const logDir = new URL('../../../artifacts/custom-route-traffic/', import.meta.url).pathname;
const IP = { peer: '10.99.0.7', vm1: '10.99.0.5', vm2: '10.99.0.6', vm3: '10.99.0.8' };

const inNs = (ns: string, cmd: string[], timeoutMs = 15_000) =>
  realExec('ip', ['netns', 'exec', ns, ...cmd], { allowFail: true, timeoutMs });

/** A one-connection TCP server in `ns` that answers with the address it sees the client at. */
const SERVER = `const s=require('net').createServer(c=>{c.end(c.remoteAddress);s.close()});
s.listen(5001,'0.0.0.0',()=>console.log('up'));setTimeout(()=>process.exit(2),10000).unref()`;
const CLIENT = (ip: string) => `const c=require('net').connect(5001,'${ip}');let d='';c.on('data',x=>d+=x);
c.on('end',()=>{console.log(d);process.exit(0)});c.on('error',e=>{console.error(e.message);process.exit(1)});
setTimeout(()=>process.exit(3),5000).unref()`;

/** Connects from `from` to `ip` (served in `to`) and returns the client address the server saw. */
async function tcpSeenAs(from: string, to: string, ip: string): Promise<string> {
  const children = new Children(logDir);
  const srv = children.start(['ip', 'netns', 'exec', to, 'node', '-e', SERVER], `tcp-${to.slice(P.length)}`);
  try {
    await new Promise((r) => setTimeout(r, 400));
    const r = await inNs(from, ['node', '-e', CLIENT(ip)]);
    if (r.code !== 0) throw new Error(`tcp ${from} → ${ip}: exit ${r.code} ${r.stderr}`);
    return r.stdout.trim().replace(/^::ffff:/, '');
  } finally {
    await children.stop(srv);
  }
}

describe('custom-route ports: real traffic through a hyperswitch', { skip: needsRoot(), timeout: 120_000 }, () => {
  const world = new CustomRouteWorld({
    prefix: P,
    artifacts: 'custom-route-traffic',
    routesBy: 'test',
    vms: [
      { name: 'vm1', mode: 'instead', ip: IP.vm1 },
      { name: 'vm2', mode: 'in-addition', ip: IP.vm2 },
      { name: 'vm3', mode: 'instead', ip: IP.vm3 },
    ],
  });
  const ns = world.ns as Record<'hs' | 'peer' | 'vm1' | 'vm2' | 'vm3', string>;
  const vpcIp = (k: 'vm1' | 'vm2' | 'vm3') => world.vpcIp(k);
  const pings = (n: string, ip: string, count = 2) => world.pings(n, ip, count);

  before(async () => {
    if (isRoot()) await world.up();
  });

  after(async () => {
    await world.down();
  });

  test('instead: vm1, with only its VPC address, and the peer reach each other by hyper IP', async () => {
    assert.equal(
      (await inNs(ns.vm1, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout.includes('10.99.'),
      false,
    );
    assert.ok(await eventually(() => pings(ns.vm1, IP.peer, 1), 10_000), 'vm1 → peer');
    assert.equal(await pings(ns.peer, IP.vm1), true, 'peer → vm1 by its hyper IP');
    assert.equal(await tcpSeenAs(ns.vm1, ns.peer, IP.peer), IP.vm1, 'the peer sees vm1 at its hyper IP');
    assert.equal(await tcpSeenAs(ns.peer, ns.vm1, IP.vm1), IP.peer, 'vm1 sees the peer at its hyper IP');
  });

  test('the VPC security groups: vm1 reaches vm3 only through the hyperswitch (capture)', async () => {
    assert.equal(await pings(ns.vm1, IP.peer, 1), true);
    assert.equal(await pings(ns.vm1, vpcIp('vm3')), false, 'vm1 → vm3 directly at its VPC address is dropped');
    const capture = inNs(ns.hs, ['timeout', '10', 'tcpdump', '-l', '-n', '-i', 'eth0', '-c', '4', 'icmp']);
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(await pings(ns.vm1, IP.vm3), true, 'vm1 → vm3 at its hyper IP');
    const seen = (await capture).stdout;
    const esc = (ip: string) => ip.replaceAll('.', '\\.');
    // In from vm1 and out to vm3 (both NATed: vm3 sees vm1's hyper IP), then vm3's reply and back.
    assert.match(seen, new RegExp(`${esc(vpcIp('vm1'))} > ${esc(IP.vm3)}: ICMP echo request`));
    assert.match(seen, new RegExp(`${esc(IP.vm1)} > ${esc(vpcIp('vm3'))}: ICMP echo request`));
    assert.match(seen, new RegExp(`${esc(vpcIp('vm3'))} > ${esc(IP.vm1)}: ICMP echo reply`));
    assert.match(seen, new RegExp(`${esc(IP.vm3)} > ${esc(vpcIp('vm1'))}: ICMP echo reply`));
  });

  test('in-addition: vm2 sends from its hyper IP, and the peer reaches it there', async () => {
    assert.ok(await eventually(() => pings(ns.vm2, IP.peer, 1), 10_000), 'vm2 → peer');
    assert.equal(await pings(ns.peer, IP.vm2), true, 'peer → vm2');
    assert.equal(await tcpSeenAs(ns.vm2, ns.peer, IP.peer), IP.vm2, 'the peer sees vm2 at its hyper IP');
    assert.equal(await tcpSeenAs(ns.peer, ns.vm2, IP.vm2), IP.peer);
  });
});
