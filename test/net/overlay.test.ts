/**
 * The overlay end to end with real server and agent processes (built by the lab's world builder):
 * VMs in two clouds get their hyper IPs by DHCP and talk over ICMP and TCP; two tenants using the same
 * 10.0.1.0/24 and the same IPs never see each other's packets (tcpdump in the other tenant's VM); a
 * port delete removes its FDB, neighbour and DHCP entries on every node; a network delete removes its
 * bridge and VXLAN device.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dhcpFiles } from '../../src/agent/dhcp/names.js';
import { bridgeName, vxlanName } from '../../src/model/kernel-names.js';
import type { Network, Port } from '../../src/model/types.js';
import { vmInterface } from '../../src/lab/vms.js';
import { eventually, isRoot, nsRun, useWorld } from './fixture.js';
import { skipOrFail } from '../../testkit/preconditions.js';

const ctx = useWorld('o', 'overlay');
const world = ctx.world;

/** Output of a command in a namespace that runs in the background while `during` runs. */
function background(ns: string, cmd: string, args: string[]): { done: Promise<string>; ready: Promise<void> } {
  const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const ready = new Promise<void>((r) => {
    child.stderr.on('data', () => (err.includes('listening on') ? r() : undefined));
    setTimeout(r, 1500);
  });
  return { done: new Promise((r) => child.on('close', () => r(out + err))), ready };
}

const fdbMacs = async (ns: string, dev: string) =>
  (await nsRun(ns, 'bridge', ['fdb', 'show', 'dev', dev])).stdout.toLowerCase();
const neighs = async (ns: string, dev: string) =>
  (await nsRun(ns, 'ip', ['neigh', 'show', 'dev', dev])).stdout.toLowerCase();
const hostsFile = (hostState: string, v: number) => {
  try {
    return readFileSync(dhcpFiles(hostState, v).hosts, 'utf8').toLowerCase();
  } catch {
    return '';
  }
};
const linkExists = async (ns: string, dev: string) => (await nsRun(ns, 'ip', ['link', 'show', 'dev', dev])).code === 0;

test('every VM got its port address by DHCP, with the overlay MTU', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  assert.equal(ctx.vms.length, 4);
  for (const vm of ctx.vms) {
    const got = await vmInterface(world.exec, vm.site.ns);
    assert.equal(got.ip, vm.ip, vm.site.name);
    assert.equal(got.mac, vm.port.mac_address);
    assert.equal(got.mtu, world.plan.overlayMtu);
  }
  // The agents' DHCP namespaces are real names on the host (agents keep the host's mount namespace):
  // an operator can enter them, and a restarted agent adopts them.
  for (const c of world.plan.clouds) {
    const dhcpNs = (await world.exec('ip', ['netns', 'list'])).stdout
      .split('\n')
      .map((l) => l.split(' ')[0])
      .filter((n) => n.startsWith(c.agentNetnsPrefix));
    assert.ok(dhcpNs.length > 0, `no DHCP namespace of ${c.hostId}`);
    for (const ns of dhcpNs) {
      const pids = (await world.exec('ip', ['netns', 'pids', ns], { allowFail: true })).stdout.trim();
      assert.ok(pids.length > 0, `dnsmasq of ${ns} not found from the host`);
    }
  }
  // Each node's DHCP port is reported ACTIVE by its agent once dnsmasq serves the network.
  const dhcpPorts = async () => world.api.list<Port>('ports', { device_owner: 'network:dhcp' });
  assert.deepEqual(
    (await dhcpPorts()).map((p) => p['binding:host_id']).sort(),
    world.plan.clouds.map((c) => c.hostId).sort(),
  );
  const allActive = await eventually(async () => (await dhcpPorts()).every((p) => p.status === 'ACTIVE'), 10_000);
  assert.ok(allActive, JSON.stringify((await dhcpPorts()).map((p) => [p['binding:host_id'], p.status])));
});

test('cross-cloud ping: every VM reaches every other', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  const matrix = await world.pingMatrix(ctx.vms.map((v) => ({ ns: v.site.ns, ip: v.ip })));
  assert.ok(
    matrix.every((row) => row.every(Boolean)),
    JSON.stringify(matrix),
  );
});

test('cross-cloud TCP: 2 MB through the overlay arrive whole', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  const [a] = ctx.vms.filter((v) => v.site.hostId === 'hs-a');
  const [b] = ctx.vms.filter((v) => v.site.hostId === 'hs-b');
  const listener = background(b.site.ns, 'timeout', ['15', 'sh', '-c', 'nc -l -p 5001 -w 10 | wc -c']);
  await new Promise((r) => setTimeout(r, 300));
  const send = await nsRun(a.site.ns, 'sh', ['-c', `head -c 2000000 /dev/zero | timeout 10 nc -N -w 5 ${b.ip} 5001`]);
  assert.equal(send.code, 0, send.stderr);
  assert.equal((await listener.done).trim(), '2000000');
});

test('tenant isolation: two projects on the same 10.0.1.0/24 with the same IPs exchange no packet', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  const [ca, cb] = world.plan.clouds;
  const tenants = ['tenant-red', 'tenant-blue'];
  const nets = await Promise.all(tenants.map((p) => world.createNetwork(`${p}-net`, '10.0.1.0/24', p)));
  const sites = await Promise.all(
    tenants.flatMap((p, i) =>
      [world.newVmSite(ca, `${p.slice(7, 10)}-a`), world.newVmSite(cb, `${p.slice(7, 10)}-b`)].map((s) =>
        s.then((site) => ({ site, i, p })),
      ),
    ),
  );
  const tvms = await Promise.all(
    sites.map(({ site, i, p }) =>
      world.addVm(site, nets[i].network.id, {
        projectId: p,
        fixedIp: site.name.endsWith('-a') ? '10.0.1.50' : '10.0.1.51',
      }),
    ),
  );
  const [redA, redB, blueA, blueB] = tvms;
  assert.equal(redB.ip, blueB.ip);
  assert.notEqual(redB.port.mac_address, blueB.port.mac_address);

  // Red pings its own 10.0.1.51 (cross-cloud) while blue's 10.0.1.51 captures everything on eth0.
  // Anything inbound that carries a red MAC, or any ICMP at all (blue pings nothing meanwhile).
  const filter = `ether host ${redA.port.mac_address} or ether host ${redB.port.mac_address} or icmp`;
  const capture = background(blueB.site.ns, 'timeout', [
    '6',
    'tcpdump',
    '-n',
    '-e',
    '-l',
    '-Q',
    'in',
    '-i',
    'eth0',
    '-c',
    '20',
    filter,
  ]);
  await capture.ready;
  const ping = await nsRun(redA.site.ns, 'ping', ['-c', '20', '-i', '0.05', '-W', '1', '-q', redB.ip]);
  assert.equal(ping.code, 0, `red could not reach its own peer: ${ping.stdout}`);
  assert.match(ping.stdout, /20 received/);
  const captured = await capture.done;
  const ports = (await world.api.list<Port>('ports')).map(
    (p) => `${p.project_id} ${p.mac_address} ${p.fixed_ips.map((f) => f.ip_address)} ${p.device_owner}`,
  );
  assert.match(captured, /0 packets captured/, `blue saw red's traffic:\n${captured}\nports:\n${ports.join('\n')}`);

  // The capture itself works: blue's own traffic is seen.
  const control = background(blueB.site.ns, 'timeout', ['6', 'tcpdump', '-n', '-l', '-i', 'eth0', '-c', '3', 'icmp']);
  await control.ready;
  assert.equal((await nsRun(blueA.site.ns, 'ping', ['-c', '3', '-i', '0.1', '-W', '1', '-q', blueB.ip])).code, 0);
  assert.match(await control.done, /3 packets captured/);
  for (const v of tvms) await world.removeVm(v);
  for (const n of nets) await world.api.delete('networks', n.network.id);
});

test('port delete removes its FDB, neighbour and DHCP entries on every node', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  const [ca, cb] = world.plan.clouds;
  const site = await world.newVmSite(cb, 'del-b');
  const vm = await world.addVm(site, world.state.networkId!);
  const mac = vm.port.mac_address.toLowerCase();
  const present = async () =>
    (await fdbMacs(ca.hyperswitchNs, vxlanName(ctx.vni))).includes(mac) &&
    (await neighs(ca.hyperswitchNs, bridgeName(ctx.vni))).includes(`${vm.ip} `) &&
    hostsFile(cb.agentStateDir, ctx.vni).includes(mac);
  assert.ok(await eventually(present, 5000), 'entries for the new port never appeared');
  await world.removeVm(vm);
  const gone = async () => {
    for (const c of world.plan.clouds) {
      if ((await fdbMacs(c.hyperswitchNs, vxlanName(ctx.vni))).includes(mac)) return false;
      if ((await neighs(c.hyperswitchNs, bridgeName(ctx.vni))).includes(`${vm.ip} `)) return false;
      if (hostsFile(c.agentStateDir, ctx.vni).includes(mac)) return false;
    }
    return true;
  };
  const cleared = await eventually(gone, 5000);
  assert.ok(cleared, 'FDB, neighbour or DHCP entries of the deleted port remain');
});

test('network delete removes its bridge and VXLAN device on every node', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  const { network } = await world.createNetwork('short-lived', '10.0.9.0/24');
  const v2 = (await world.api.show<Network>('networks', 'network', network.id))['provider:segmentation_id'];
  const sites = await Promise.all(world.plan.clouds.map((c) => world.newVmSite(c, `sl-${c.hostId.slice(3)}`)));
  const svms = await Promise.all(sites.map((s) => world.addVm(s, network.id)));
  for (const c of world.plan.clouds) {
    assert.ok(await linkExists(c.hyperswitchNs, bridgeName(v2)), `${c.hostId}: no bridge`);
    assert.ok(await linkExists(c.hyperswitchNs, vxlanName(v2)), `${c.hostId}: no vxlan`);
  }
  for (const v of svms) await world.removeVm(v);
  await world.api.delete('networks', network.id);
  const gone = async () => {
    for (const c of world.plan.clouds)
      if ((await linkExists(c.hyperswitchNs, bridgeName(v2))) || (await linkExists(c.hyperswitchNs, vxlanName(v2))))
        return false;
    return true;
  };
  assert.ok(await eventually(gone, 6000), 'bridge or vxlan of the deleted network remain');
  // The first network is untouched.
  for (const c of world.plan.clouds) assert.ok(await linkExists(c.hyperswitchNs, vxlanName(ctx.vni)));
});
