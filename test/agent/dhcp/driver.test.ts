/**
 * DhcpDriver against the real kernel and a real dnsmasq: a "node" namespace with bridge hnb-1001,
 * workload namespaces on it, a real dhclient. Checks lease contents, unknown MACs ignored, adopt on
 * restart, reload on hosts change (same PID), restart on option change, repair, teardown.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { inNetns, realExec, type Exec } from '../../../src/common/exec.js';
import { silentLogger } from '../../../src/common/log.js';
import { compileDhcp, DhcpDriver, type DhcpCompileInput } from '../../../src/agent/dhcp/index.js';
import { dhcpPort, network, port, subnet } from './fixtures.js';
import { destroyNetns, killDhclient, listNetns, runDhclient, runPrefix, sweepStale } from './netns-helpers.js';
import { isRoot as isRootUser, skipOrFail } from '../../../testkit/preconditions.js';

const isRoot = isRootUser();
const RUN = runPrefix(process.pid);
const NODE = `${RUN}node`;
const WL1 = `${RUN}wl1`;
const WL2 = `${RUN}wl2`;
const DHCP_PREFIX = `${RUN}dhcp-`;
const TMP = `/tmp/${RUN}dhcp`;
const STATE = join(TMP, 'state');
const MAC1 = 'fa:16:3e:10:00:11';
const MAC2 = 'fa:16:3e:10:00:12';
const ip = (args: string[]) => realExec('ip', args, { timeoutMs: 10_000 });
const nodeExec = inNetns(realExec, NODE);
const dhclientPids: (number | null)[] = [];

const net = network('net-a', 1001);
const net2 = network('net-b', 1002); // has a local port but no bridge on the node
const baseSubnet = subnet('sub-a', 'net-a', '10.0.1.0/24', {
  dns_nameservers: ['192.0.2.53'],
  host_routes: [{ destination: '203.0.113.0/24', nexthop: '10.0.1.254' }],
});
const dp = dhcpPort('dp-1', 'net-a', 'fa:16:3e:10:00:02', [['sub-a', '10.0.1.2']], 'node1');
const p1 = port('p1', 'net-a', MAC1, [['sub-a', '10.0.1.11']], 'node1');
const p2Elsewhere = port('p2', 'net-a', MAC2, [['sub-a', '10.0.1.12']], 'node2');
const p2Here = { ...p2Elsewhere, 'binding:host_id': 'node1' };
const b = [
  subnet('sub-b', 'net-b', '10.0.2.0/24'),
  dhcpPort('dp-b', 'net-b', 'fa:16:3e:20:00:02', [['sub-b', '10.0.2.2']], 'node1'),
  port('pb', 'net-b', 'fa:16:3e:20:00:11', [['sub-b', '10.0.2.11']], 'node1'),
] as const;

const model = (over: Partial<DhcpCompileInput> = {}) =>
  compileDhcp({
    host: 'node1',
    networks: [net, net2],
    subnets: [baseSubnet, b[0]],
    ports: [dp, p1, p2Elsewhere, b[1], b[2]],
    underlayMtu: 1500,
    netnsPrefix: DHCP_PREFIX,
    leaseSeconds: 600,
    ...over,
  });

const newDriver = () =>
  new DhcpDriver({
    exec: nodeExec,
    netnsExec: realExec,
    log: silentLogger(),
    stateDir: STATE,
    netnsPrefix: DHCP_PREFIX,
  });
let driver: DhcpDriver;
let firstPid = 0;

async function cmdline(pid: number): Promise<string> {
  return readFile(`/proc/${pid}/cmdline`, 'utf8').then(
    (s) => s.replace(/\0/g, ' '),
    () => '',
  );
}

async function addWorkload(ns: string, hostEnd: string, mac: string) {
  await ip(['netns', 'add', ns]);
  await ip(['-n', NODE, 'link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  await ip(['-n', ns, 'link', 'set', 'dev', 'eth0', 'address', mac, 'mtu', '1450']);
  await ip(['-n', NODE, 'link', 'set', 'dev', hostEnd, 'mtu', '1450', 'master', 'hnb-1001', 'up']);
}

before(async () => {
  if (!isRoot) return;
  await sweepStale();
  await rm(TMP, { recursive: true, force: true });
  await mkdir(STATE, { recursive: true });
  await ip(['netns', 'add', NODE]);
  await ip(['-n', NODE, 'link', 'set', 'dev', 'lo', 'up']);
  await ip(['-n', NODE, 'link', 'add', 'hnb-1001', 'type', 'bridge']);
  await ip(['-n', NODE, 'link', 'set', 'dev', 'hnb-1001', 'mtu', '1450', 'up']);
  await addWorkload(WL1, 'tapwl1', MAC1);
  await addWorkload(WL2, 'tapwl2', MAC2);
  driver = newDriver();
});

after(async () => {
  if (!isRoot) return;
  for (const pid of dhclientPids) await killDhclient(pid);
  // Fallback if a test failed before teardown: our dnsmasqs are found by their conf under STATE.
  for (const ns of await listNetns()) if (ns.startsWith(RUN)) await destroyNetns(ns);
  await rm(TMP, { recursive: true, force: true });
});

test('apply builds namespace, veth on the bridge, address, and starts dnsmasq', { timeout: 30_000 }, async (t) => {
  if (!isRoot) return skipOrFail(t, 'needs root');
  const desired = model();
  const r = await driver.apply(desired);
  const a = r.networks.find((n) => n.vni === 1001)!;
  assert.equal(a.status, 'ok', a.error);
  assert.equal(a.process, 'start');
  assert.ok(a.pid && (await cmdline(a.pid)).includes(`--conf-file=${STATE}/1001/dnsmasq.conf`));
  firstPid = a.pid!;
  assert.deepEqual(
    r.networks.find((n) => n.vni === 1002),
    { vni: 1002, networkId: 'net-b', status: 'bridge-missing', process: 'none', pid: null },
  );
  const act = (await driver.actual()).networks.find((n) => n.vni === 1001)!;
  assert.deepEqual(act.vethNode, { master: 'hnb-1001', up: true, mtu: 1450 });
  assert.deepEqual(act.vethNs, { mac: 'fa:16:3e:10:00:02', up: true, mtu: 1450, addresses: ['10.0.1.2/24'] });
  assert.equal(act.confText, desired.networks[0].confText);
  assert.equal(act.cmdlineMatches, true);
  assert.ok((await listNetns()).includes(`${DHCP_PREFIX}1001`));
  assert.ok(!(await listNetns()).includes(`${DHCP_PREFIX}1002`));
  // Second apply is a no-op.
  const again = await driver.apply(desired);
  assert.deepEqual(
    again.networks.map((n) => [n.vni, n.process, n.pid]),
    [
      [1001, 'none', firstPid],
      [1002, 'none', null],
    ],
  );
});

test('a real DHCP client gets its fixed IP, router, DNS, MTU 1450, routes and lease time', {
  timeout: 40_000,
}, async (t) => {
  if (!isRoot) return skipOrFail(t, 'needs root');
  const l = await runDhclient(TMP, WL1, 'wl1', 15);
  dhclientPids.push(l.pid);
  assert.equal(l.code, 0);
  assert.ok(l.env, 'no lease');
  assert.equal(l.env.new_ip_address, '10.0.1.11');
  assert.equal(l.env.new_subnet_mask, '255.255.255.0');
  assert.equal(l.env.new_routers, '10.0.1.1');
  assert.equal(l.env.new_domain_name_servers, '192.0.2.53');
  assert.equal(l.env.new_interface_mtu, '1450');
  assert.equal(l.env.new_rfc3442_classless_static_routes, '24 203 0 113 10 0 1 254 0 10 0 1 1');
  assert.equal(l.env.new_dhcp_lease_time, '600');
  assert.equal(l.env.new_dhcp_server_identifier, '10.0.1.2');
  // The script applied it: the workload reaches the DHCP interface over the bridge.
  const ping = await realExec('ip', ['netns', 'exec', WL1, 'ping', '-c', '1', '-W', '2', '10.0.1.2'], {
    allowFail: true,
    timeoutMs: 5000,
  });
  assert.equal(ping.code, 0, ping.stdout);
});

test("a MAC that is another node's port gets no lease", { timeout: 30_000 }, async (t) => {
  if (!isRoot) return skipOrFail(t, 'needs root');
  const l = await runDhclient(TMP, WL2, 'wl2-before', 4);
  dhclientPids.push(l.pid);
  assert.equal(l.env, null);
  assert.notEqual(l.code, 0);
});

test('a restarted agent adopts the running dnsmasq (no restart)', { timeout: 30_000 }, async (t) => {
  if (!isRoot) return skipOrFail(t, 'needs root');
  driver = newDriver();
  const r = await driver.apply(model());
  assert.deepEqual(
    r.networks.map((n) => [n.vni, n.process, n.pid]),
    [
      [1001, 'none', firstPid],
      [1002, 'none', null],
    ],
  );
});

test('hosts-only change reloads the same dnsmasq and the new port gets its lease', { timeout: 40_000 }, async (t) => {
  if (!isRoot) return skipOrFail(t, 'needs root');
  const r = await driver.apply(model({ ports: [dp, p1, p2Here, b[1], b[2]] }));
  const a = r.networks.find((n) => n.vni === 1001)!;
  assert.deepEqual([a.status, a.process, a.pid], ['ok', 'reload', firstPid]);
  const l = await runDhclient(TMP, WL2, 'wl2-after', 15);
  dhclientPids.push(l.pid);
  assert.equal(l.env?.new_ip_address, '10.0.1.12');
  assert.equal(await cmdline(firstPid).then((c) => c.includes('dnsmasq')), true);
});

test("a deleted port's lease is released, so its IP can go to a new port with another MAC", {
  timeout: 40_000,
}, async (t) => {
  if (!isRoot) return skipOrFail(t, 'needs root');
  // wl1 (MAC1) holds a lease on 10.0.1.11. Nova deletes its port (no DHCPRELEASE) and IPAM gives
  // 10.0.1.11 to a new port whose workload has MAC2.
  const reused = { ...p2Here, fixed_ips: [{ subnet_id: 'sub-a', ip_address: '10.0.1.11' }] };
  const r = await driver.apply(model({ ports: [dp, reused, b[1], b[2]] }));
  const a = r.networks.find((n) => n.vni === 1001)!;
  assert.deepEqual([a.status, a.process, a.pid], ['ok', 'reload', firstPid]);
  // dhcp_release is a packet to dnsmasq, which rewrites its lease file when it has handled it.
  let leases = '';
  for (let i = 0; i < 50; i++) {
    leases = await readFile(join(STATE, '1001', 'leases'), 'utf8');
    if (!leases.includes(MAC1)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(!leases.includes(MAC1), `lease of the deleted port still held after 5 s:\n${leases}`);
  const l = await runDhclient(TMP, WL2, 'wl2-reuse', 15);
  dhclientPids.push(l.pid);
  assert.equal(l.env?.new_ip_address, '10.0.1.11');
  // Back to the earlier model for the next tests (wl2's new lease on .11 is released again).
  const back = await driver.apply(model({ ports: [dp, p1, p2Here, b[1], b[2]] }));
  assert.equal(back.networks.find((n) => n.vni === 1001)!.status, 'ok');
});

test('an option change restarts dnsmasq; a lost veth is repaired', { timeout: 30_000 }, async (t) => {
  if (!isRoot) return skipOrFail(t, 'needs root');
  const changed = { ...baseSubnet, dns_nameservers: ['198.51.100.53'] };
  const input = { subnets: [changed, b[0]], ports: [dp, p1, p2Here, b[1], b[2]] };
  const r = await driver.apply(model(input));
  const a = r.networks.find((n) => n.vni === 1001)!;
  assert.equal(a.process, 'restart');
  assert.ok(a.pid && a.pid !== firstPid);
  assert.equal(await cmdline(firstPid), '');
  await ip(['-n', NODE, 'link', 'del', 'dev', 'hnd-1001']);
  const fixed = (await driver.apply(model(input))).networks.find((n) => n.vni === 1001)!;
  assert.equal(fixed.status, 'ok', fixed.error);
  const act = (await driver.actual()).networks.find((n) => n.vni === 1001)!;
  assert.equal(act.vethNode?.master, 'hnb-1001');
  assert.deepEqual(act.vethNs?.addresses, ['10.0.1.2/24']);
  assert.equal(act.pid, fixed.pid);
  const l = await runDhclient(TMP, WL1, 'wl1-again', 15);
  dhclientPids.push(l.pid);
  assert.equal(l.env?.new_domain_name_servers, '198.51.100.53');
  firstPid = fixed.pid!;
});

test('with its kernel side settled, a hosts-only change lists no namespaces or links (reuseKernel); other changes and full applies do', {
  timeout: 40_000,
}, async (t) => {
  if (!isRoot) return skipOrFail(t, 'needs root');
  const calls: string[] = [];
  const counting: Exec = (cmd, args, opts) => {
    calls.push(`${cmd} ${args.join(' ')}`);
    return nodeExec(cmd, args, opts);
  };
  const drv = new DhcpDriver({
    exec: counting,
    netnsExec: realExec,
    log: silentLogger(),
    stateDir: STATE,
    netnsPrefix: DHCP_PREFIX,
  });
  const subnets = [{ ...baseSubnet, dns_nameservers: ['198.51.100.53'] }];
  const only = (ports: (typeof p1)[], underlayMtu = 1500) =>
    model({ networks: [net], subnets, ports: [dp, ...ports], underlayMtu });
  const listings = () =>
    calls.filter((c) => /^ip (netns list|-o link show|-json link show|-n \S+ -json addr show)/.test(c));
  const settle = await drv.apply(only([p1, p2Here]), { reuseKernel: true }); // nothing remembered yet: reads
  assert.equal(settle.networks[0]!.status, 'ok', settle.networks[0]!.error);
  assert.ok(listings().length >= 3, calls.join('\n'));
  calls.length = 0;
  const hostsOnly = await drv.apply(only([p1]), { reuseKernel: true });
  assert.deepEqual(
    hostsOnly.networks.map((n) => [n.status, n.process]),
    [['ok', 'reload']],
  );
  assert.deepEqual(listings(), [], 'a hosts-only change read the kernel');
  assert.doesNotMatch(await readFile(join(STATE, '1001', 'hosts'), 'utf8'), new RegExp(MAC2));
  // Without reuseKernel (a full pass) it reads again.
  calls.length = 0;
  assert.equal((await drv.apply(only([p1, p2Here]))).networks[0]!.process, 'reload');
  assert.ok(listings().length >= 3);
  // A change of the kernel side (the MTU of the veth) reads again even with reuseKernel, and applies it.
  calls.length = 0;
  const mtu = (await drv.apply(only([p1, p2Here], 1400), { reuseKernel: true })).networks[0]!;
  assert.equal(mtu.status, 'ok', mtu.error);
  assert.ok(listings().length >= 3);
  assert.equal((await drv.actual()).networks.find((n) => n.vni === 1001)!.vethNode?.mtu, 1350);
  const back = (await drv.apply(only([p1, p2Here]), { reuseKernel: true })).networks[0]!;
  assert.equal(back.status, 'ok', back.error);
  assert.equal((await drv.actual()).networks.find((n) => n.vni === 1001)!.vethNode?.mtu, 1450);
  firstPid = back.pid!;
});

test('a namespace name that lost its mount (agent restarted under ip netns exec) is rebuilt', {
  timeout: 40_000,
}, async (t) => {
  if (!isRoot) return skipOrFail(t, 'needs root');
  await realExec('umount', [`/run/netns/${DHCP_PREFIX}1001`]); // the file stays, the name is dead
  const input = {
    subnets: [{ ...baseSubnet, dns_nameservers: ['198.51.100.53'] }, b[0]],
    ports: [dp, p1, p2Here, b[1], b[2]],
  };
  const r = (await driver.apply(model(input))).networks.find((n) => n.vni === 1001)!;
  assert.deepEqual([r.status, r.process, r.error], ['ok', 'restart', undefined]);
  assert.equal(await cmdline(firstPid), '');
  assert.ok(r.pid);
  firstPid = r.pid;
  const l = await runDhclient(TMP, WL2, 'wl2-again', 15);
  dhclientPids.push(l.pid);
  assert.equal(l.env?.new_ip_address, '10.0.1.12');
});

test('removing the network kills dnsmasq and removes namespace, veth and files', { timeout: 30_000 }, async (t) => {
  if (!isRoot) return skipOrFail(t, 'needs root');
  const r = await driver.apply(model({ ports: [dp, b[1], b[2]] })); // no local ports left on net-a
  assert.deepEqual(r.removed, [1001]);
  assert.deepEqual(r.removeErrors, []);
  assert.equal(await cmdline(firstPid), '');
  assert.ok(!(await listNetns()).includes(`${DHCP_PREFIX}1001`));
  const links = await nodeExec('ip', ['-json', 'link', 'show']);
  assert.ok(!links.stdout.includes('"hnd-1001"'));
  await assert.rejects(access(join(STATE, '1001')));
  assert.deepEqual((await driver.actual()).networks, []);
});
