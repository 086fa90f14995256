/**
 * Custom-route mode end to end, as root, namespaces only (`hncr-<pid>-…`, stale ones of dead runs
 * swept first, all removed in after()). A VPC router namespace stands for EC2 (NetnsVpcDataplane),
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
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateNetworkInterfaceCommand, ModifyNetworkInterfaceAttributeCommand } from '@aws-sdk/client-ec2';
import { CustomRoutes } from '../../src/aws/custom-route.js';
import { ApiClient } from '../../src/client/api.js';
import { realClock } from '../../src/common/clock.js';
import { realExec } from '../../src/common/exec.js';
import { listNetns } from '../../src/common/netns.js';
import { runcmdFromUserData } from '../../src/lab/cloud-init.js';
import { NetnsVpcDataplane } from '../../src/lab/ec2/netns-dataplane.js';
import { addNetns } from '../../src/lab/netns.js';
import { sweepNamespaces } from '../../src/lab/topology.js';
import { CUSTOM_ROUTE_PROFILE_KEY } from '../../src/model/custom-route.js';
import { customRouteUserData } from '../../src/model/custom-route-userdata.js';
import { tapName } from '../../src/model/kernel-names.js';
import type { Network, Port, Subnet } from '../../src/model/types.js';
import { startEc2Lab, type Ec2Lab } from '../../testkit/ec2-endpoint.js';
import { isRoot, needsRoot } from '../../testkit/preconditions.js';
import { alive } from '../../testkit/runs.js';
import { eventually } from '../../testkit/wait.js';
import { Children } from '../agent/netns.js';

const P = `hncr-${process.pid}-`;
const BIN = new URL('../../../bin/hypernet.js', import.meta.url).pathname;
const dir = join(tmpdir(), `hypernet-test-${P.slice(0, -1)}`);
const sock = join(dir, 'server.sock');
const logDir = new URL('../../../artifacts/custom-route-traffic/', import.meta.url).pathname;
const HYPER = '10.99.0.0/24';
const IP = { peer: '10.99.0.7', vm1: '10.99.0.5', vm2: '10.99.0.6', vm3: '10.99.0.8' };

const inNs = (ns: string, cmd: string[], timeoutMs = 15_000) =>
  realExec('ip', ['netns', 'exec', ns, ...cmd], { allowFail: true, timeoutMs });
const pings = async (ns: string, ip: string, count = 2): Promise<boolean> =>
  (await inNs(ns, ['ping', '-c', String(count), '-w', '5', ip])).code === 0;

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
  const ns = {
    router: `${P}router`,
    hs: `${P}hs`,
    nb: `${P}nb`,
    peer: `${P}peer`,
    vm1: `${P}vm1`,
    vm2: `${P}vm2`,
    vm3: `${P}vm3`,
  };
  const api = new ApiClient({ url: `unix:${sock}`, timeoutMs: 5_000 });
  const children = new Children(logDir);
  let lab: Ec2Lab;
  let routes: CustomRoutes;
  let table: string;
  const eni: Record<'hs' | 'vm1' | 'vm2' | 'vm3', string> = { hs: '', vm1: '', vm2: '', vm3: '' };
  const vpcIp = (k: keyof typeof eni) => lab.state.interfaces.get(eni[k])!.privateIpAddress;
  let ports: Record<'peer' | 'vm1' | 'vm2' | 'vm3', Port>;

  before(async () => {
    if (!isRoot()) return;
    for (const n of await listNetns(realExec)) {
      const m = /^hncr-(\d+)-/.exec(n);
      if (m && !alive(Number(m[1]))) await sweepNamespaces(realExec, realClock, m[0]);
    }
    rmSync(dir, { recursive: true, force: true });
    rmSync(logDir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    children.start(
      ['node', BIN, 'server', '--host', '127.0.0.1', '--port', '0', '--unix-socket', sock, '--data-dir', dir],
      'server',
    );

    // The VPC: router namespace, endpoint, ENIs of the hyperswitch and the two VMs.
    const vpc = new NetnsVpcDataplane(realExec, ns.router);
    await vpc.create();
    lab = await startEc2Lab({ dataplane: vpc });
    const ec2 = lab.client();
    routes = new CustomRoutes(ec2, lab.vpcId);
    table = await routes.routeTableOf(lab.subnets.workload);
    for (const k of ['hs', 'vm1', 'vm2', 'vm3'] as const) {
      eni[k] = (await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: lab.subnets.workload }))).NetworkInterface!
        .NetworkInterfaceId!;
      await addNetns(realExec, ns[k]);
      await vpc.plug(lab.state.interfaces.get(eni[k])!, '10.20.2.0/24', ns[k]);
    }
    // The underlay between the hyperswitch and node B, and node B's peer VM.
    await addNetns(realExec, ns.nb);
    await addNetns(realExec, ns.peer);
    await realExec('ip', ['link', 'add', 'u0', 'netns', ns.hs, 'type', 'veth', 'peer', 'name', 'u0', 'netns', ns.nb]);
    for (const [n, ip] of [
      [ns.hs, '192.0.2.1'],
      [ns.nb, '192.0.2.2'],
    ] as const) {
      await realExec('ip', ['-n', n, 'addr', 'add', `${ip}/24`, 'dev', 'u0']);
      await realExec('ip', ['-n', n, 'link', 'set', 'u0', 'up']);
    }

    assert.ok(await eventually(async () => existsSync(sock), 15_000), 'server up');
    const net = await api.create<Network>('networks', 'network', { name: 'cr' });
    const sub = await api.create<Subnet>('subnets', 'subnet', {
      network_id: net.id,
      cidr: HYPER,
      ip_version: 4,
      enable_dhcp: false,
    });
    const mk = (host: string, ip: string, profile: Record<string, unknown> = {}) =>
      api.create<Port>('ports', 'port', {
        network_id: net.id,
        'binding:host_id': host,
        'binding:profile': profile,
        fixed_ips: [{ subnet_id: sub.id, ip_address: ip }],
      });
    const cr = (mode: string, k: 'vm1' | 'vm2' | 'vm3') => ({
      [CUSTOM_ROUTE_PROFILE_KEY]: { mode, interface: eni[k], vpc_ip: vpcIp(k) },
    });
    ports = {
      peer: await mk('nb', IP.peer),
      vm1: await mk('hs', IP.vm1, cr('instead', 'vm1')),
      vm2: await mk('hs', IP.vm2, cr('in-addition', 'vm2')),
      vm3: await mk('hs', IP.vm3, cr('instead', 'vm3')),
    };
    // Play nova for the peer VM on node B.
    await realExec('ip', [
      ...['-n', ns.nb, 'link', 'add', tapName(ports.peer.id), 'type', 'veth'],
      ...['peer', 'name', 'eth0', 'netns', ns.peer],
    ]);
    await realExec('ip', [
      '-n',
      ns.peer,
      'link',
      'set',
      'eth0',
      'address',
      ports.peer.mac_address,
      'mtu',
      '1450',
      'up',
    ]);
    await realExec('ip', ['-n', ns.peer, 'addr', 'add', `${IP.peer}/24`, 'dev', 'eth0']);

    const agent = (n: string, host: string, ip: string, extra: string[] = []) =>
      children.start(
        [
          ...['ip', 'netns', 'exec', n, 'node', BIN, 'agent', '--server', `unix:${sock}`, '--host', host],
          ...['--underlay-ip', ip, '--cloud', 'cloud-cr', '--netns-prefix', `${P}d${host}-`],
          ...['--state-dir', join(dir, `agent-${host}`), '--encryption', 'off', ...extra],
        ],
        `agent-${host}`,
      );
    agent(ns.hs, 'hs', '192.0.2.1', ['--custom-route']);
    agent(ns.nb, 'nb', '192.0.2.2');

    // VPC security groups: the VMs take traffic only from the hyperswitch and the hyper subnet (what
    // it forwards), not from each other; the hyperswitch from the VMs and the hyper subnet.
    const any = (o: { group?: string; cidr?: string }) => ({ protocol: '-1', ...o });
    let hsSg = await routes.ensureSecurityGroup('hn-cr-hyperswitch', 'custom-route hyperswitch', []);
    const vmSg = await routes.ensureSecurityGroup('hn-cr-vms', 'custom-route VMs', [
      any({ group: hsSg }),
      any({ cidr: HYPER }),
    ]);
    hsSg = await routes.ensureSecurityGroup('hn-cr-hyperswitch', 'custom-route hyperswitch', [
      any({ group: vmSg }),
      any({ cidr: HYPER }),
    ]);
    for (const [k, g] of [
      ['hs', hsSg],
      ['vm1', vmSg],
      ['vm2', vmSg],
      ['vm3', vmSg],
    ] as const)
      await ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eni[k], Groups: [g] }));
    // EC2: the hyper subnet behind the hyperswitch, which may then forward what is not its own.
    await routes.setRoute(table, HYPER, eni.hs);
    await routes.setSourceDestCheck(eni.hs, false);
    // in-addition: the VM sends from an address EC2 does not know, and gets packets for it.
    await routes.setRoute(table, `${IP.vm2}/32`, eni.vm2);
    await routes.setSourceDestCheck(eni.vm2, false);
    for (const argv of runcmdFromUserData(customRouteUserData(IP.vm2, [HYPER]))) {
      const r = await inNs(ns.vm2, argv);
      assert.equal(r.code, 0, `vm2 runcmd: ${r.stderr}`);
    }

    const up = await eventually(async () => {
      const all = await Promise.all(Object.values(ports).map((p) => api.show<Port>('ports', 'port', p.id)));
      return all.every((p) => p.status === 'ACTIVE');
    }, 30_000);
    assert.ok(up, 'the peer port and both custom-route ports go ACTIVE');
  });

  after(async () => {
    await children.stopAll();
    await lab?.close();
    await sweepNamespaces(realExec, realClock, P);
    rmSync(dir, { recursive: true, force: true });
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
