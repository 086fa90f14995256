/**
 * Live migration in the pure agent code: a port with an INACTIVE binding for a node is prepared there
 * (network, tap, firewall, DHCP host entry; no status report, no announcement, no static FDB toward
 * its active host), other nodes flood to the target too, and activation moves every node's FDB entry
 * for the MAC to the new VTEP.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { announceTargets, garpCommands } from '../../../src/agent/datapath/announce.js';
import { compileDatapath } from '../../../src/agent/datapath/compile.js';
import { compileDhcp } from '../../../src/agent/dhcp/compile.js';
import { firewallInput } from '../../../src/agent/firewall/reconciler.js';
import { portStatusUpdates } from '../../../src/agent/status-reporter.js';
import type { ActualLink, ActualState } from '../../../src/agent/datapath/types.js';
import type { Port, PortBinding } from '../../../src/model/types.js';
import { agent, net, port, view } from '../../../testkit/model-fixtures.js';

const A = { host: 'hostA', underlayIp: '192.0.2.1', underlayMtu: 1500 };
const B = { host: 'hostB', underlayIp: '198.51.100.2', underlayMtu: 1500 };
const C = { host: 'hostC', underlayIp: '203.0.113.3', underlayMtu: 1500 };
const agents = [
  agent('a', 'hostA', A.underlayIp),
  agent('b', 'hostB', B.underlayIp),
  agent('c', 'hostC', C.underlayIp),
];
const MAC = 'fa:16:3e:00:00:01';
const inactive = (host: string): PortBinding => ({
  host,
  vif_type: 'tap',
  vif_details: {},
  vnic_type: 'normal',
  profile: {},
  status: 'INACTIVE',
});
const vmPort = (host: string, prepared: string[]): Port =>
  port('p1', 'n1', host, MAC, ['10.0.1.1'], { 'binding:inactive': prepared.map(inactive) });
const peer = port('p3', 'n1', 'hostC', 'fa:16:3e:00:00:03', ['10.0.1.3']);
const modelWith = (p: Port) => view({ networks: [net('n1', 100)], agents, ports: [p, peer] });

test('prepare: the target wires the network and the tap but installs no static FDB toward the old host', () => {
  const d = compileDatapath(B, modelWith(vmPort('hostA', ['hostB'])));
  assert.deepEqual(
    d.networks.map((n) => n.bridge),
    ['hnb-100'],
  );
  assert.deepEqual(d.ports, [
    { portId: 'p1', networkId: 'n1', tap: 'tapp1', bridge: 'hnb-100', mtu: 1450, mac: MAC, up: true, prepared: true },
  ]);
  assert.ok(!d.fdb.some((e) => e.mac === MAC), 'no static entry: unknown unicast floods to both sides');
  assert.deepEqual(
    d.fdb.filter((e) => e.mac === '00:00:00:00:00:00').map((e) => e.dst),
    [A.underlayIp, C.underlayIp],
  );
  assert.ok(
    d.neigh.some((n) => n.ip === '10.0.1.1' && n.mac === MAC),
    'ARP is still answered locally',
  );
});

test('prepare: other nodes flood to the target and still send the MAC to the active host', () => {
  const d = compileDatapath(C, modelWith(vmPort('hostA', ['hostB'])));
  assert.deepEqual(
    d.fdb.filter((e) => e.mac === '00:00:00:00:00:00').map((e) => e.dst),
    [A.underlayIp, B.underlayIp],
  );
  assert.deepEqual(
    d.fdb.filter((e) => e.mac === MAC && e.dst !== null).map((e) => e.dst),
    [A.underlayIp],
  );
});

test('activation: every other node points the MAC at the new VTEP; the old host keeps only its prepared side', () => {
  const moved = vmPort('hostB', ['hostA']);
  assert.deepEqual(
    compileDatapath(C, modelWith(moved))
      .fdb.filter((e) => e.mac === MAC && e.dst !== null)
      .map((e) => e.dst),
    [B.underlayIp],
  );
  const onB = compileDatapath(B, modelWith(moved));
  assert.equal(onB.ports[0].prepared, undefined);
  assert.ok(!onB.fdb.some((e) => e.mac === MAC));
  const onA = compileDatapath(A, modelWith(moved));
  assert.equal(onA.ports[0].prepared, true);
  // Once the old binding is deleted, A sends the MAC to B like any remote port.
  const other = port('p2', 'n1', 'hostA', 'fa:16:3e:00:00:02', ['10.0.1.2']);
  const done = compileDatapath(
    A,
    view({ networks: [net('n1', 100)], agents, ports: [vmPort('hostB', []), other, peer] }),
  );
  assert.deepEqual(
    done.ports.map((p) => p.portId),
    ['p2'],
  );
  assert.deepEqual(
    done.fdb.filter((e) => e.mac === MAC && e.dst !== null).map((e) => e.dst),
    [B.underlayIp],
  );
});

test('prepare: filters and the DHCP host entry are in place on the target', () => {
  const m = modelWith(vmPort('hostA', ['hostB']));
  assert.deepEqual(
    firewallInput('hostB', m, 'br-netfilter').localPorts.map((l) => l.ifname),
    ['tapp1'],
  );
  assert.deepEqual(
    firewallInput('hostC', m, 'br-netfilter').localPorts.map((l) => l.ifname),
    ['tapp3'],
  );
  const dhcpPort = port('d1', 'n1', 'hostB', 'fa:16:3e:00:00:99', ['10.0.1.2'], {
    device_owner: 'network:dhcp',
    device_id: 'dhcp-hostB',
  });
  const out = compileDhcp({
    host: 'hostB',
    networks: [net('n1', 100)],
    subnets: [
      {
        id: 's',
        network_id: 'n1',
        cidr: '10.0.1.0/24',
        ip_version: 4,
        gateway_ip: null,
        allocation_pools: [],
        enable_dhcp: true,
        dns_nameservers: [],
        host_routes: [],
        ipv6_ra_mode: null,
        ipv6_address_mode: null,
        subnetpool_id: null,
        project_id: 'p',
        tenant_id: 'p',
        name: '',
        description: '',
        tags: [],
        revision_number: 1,
        created_at: '',
        updated_at: '',
      },
    ],
    ports: [vmPort('hostA', ['hostB']), dhcpPort],
    underlayMtu: 1500,
    netnsPrefix: 'x-',
  });
  assert.match(out.networks[0]?.hostsText ?? '', /fa:16:3e:00:00:01,10\.0\.1\.1/i);
});

test('a prepared port is neither reported nor announced; an active wired one is announced once', () => {
  const link = (name: string): ActualLink => ({
    name,
    kind: 'veth',
    mtu: 1450,
    mac: null,
    up: true,
    master: 'hnb-100',
    vxlan: null,
  });
  const actual: ActualState = {
    links: new Map([['tapp1', link('tapp1')]]),
    bridgePorts: new Map(),
    fdb: [],
    neigh: [],
  };
  const m = modelWith(vmPort('hostA', ['hostB']));
  const prepared = compileDatapath(B, m);
  assert.deepEqual(portStatusUpdates(prepared, actual, m), []);
  assert.deepEqual(announceTargets(prepared, actual, m), []);
  const m2 = modelWith(vmPort('hostB', ['hostA']));
  const active = compileDatapath(B, m2);
  const t = announceTargets(active, actual, m2);
  assert.deepEqual(t, [{ portId: 'p1', bridge: 'hnb-100', mac: MAC, ips: ['10.0.1.1'] }]);
  assert.deepEqual(garpCommands(t[0])[0], [
    '-q',
    '-U',
    '-c',
    '1',
    '-w',
    '0',
    '-i',
    'hnb-100',
    '-S',
    '10.0.1.1',
    '-s',
    MAC,
    '10.0.1.1',
  ]);
  assert.deepEqual(portStatusUpdates(active, actual, m2), [{ portId: 'p1', status: 'ACTIVE', vifType: 'tap' }]);
});

test('fast path: only FDB/neighbour operations on devices that exist', async () => {
  const { entryOps } = await import('../../../src/agent/datapath/fast-entries.js');
  const link = (name: string): ActualLink => ({
    name,
    kind: 'vxlan',
    mtu: 1450,
    mac: null,
    up: true,
    master: null,
    vxlan: null,
  });
  const actual: ActualState = {
    links: new Map([['hnv-100', link('hnv-100')]]),
    bridgePorts: new Map(),
    fdb: [],
    neigh: [],
  };
  const ops = entryOps(
    [
      { op: 'bridge-add', name: 'hnb-200', mtu: 1450, mac: '02:68:00:00:c8:00' },
      { op: 'fdb-add', mac: MAC, dev: 'hnv-100', dst: B.underlayIp },
      { op: 'fdb-add', mac: MAC, dev: 'hnv-200', dst: B.underlayIp },
      { op: 'link-set', name: 'tapp1', master: 'hnb-100' },
    ],
    actual,
  );
  assert.deepEqual(ops, [{ op: 'fdb-add', mac: MAC, dev: 'hnv-100', dst: B.underlayIp }]);
});

test('prober: blackout is the longest gap without replies (tail included), missing sequences as ranges', async () => {
  const { parsePing } = await import('../../../src/lab/migrate.js');
  const line = (t: number, seq: number) =>
    `[${(t / 1000).toFixed(6)}] 64 bytes from 10.0.1.2: icmp_seq=${seq} ttl=64 time=0.1 ms`;
  const out = [
    line(1000, 1),
    line(1010, 2),
    line(1080, 6),
    line(1090, 7),
    '',
    '--- 10.0.1.2 ping statistics ---',
    '8 packets transmitted, 4 received, 50% packet loss, time 80ms',
  ].join('\n');
  assert.deepEqual(parsePing(out, 10, 1095), { sent: 8, received: 4, blackoutMs: 60, missing: ['3-5', '8'] });
  assert.equal(parsePing(out, 10, 1300).blackoutMs, 200, 'replies that stop count until the prober stops');
});

test('the Announcer announces a wired port once, forgets it when unwired or gone, and announces it again when it is back', async () => {
  const { Announcer } = await import('../../../src/agent/datapath/announce.js');
  const calls: string[][] = [];
  const exec = async (cmd: string, args: readonly string[]) => {
    calls.push([cmd, ...args]);
    return { code: 0, stdout: '', stderr: '' };
  };
  const log = { info() {}, warn() {} } as never;
  const announcer = new Announcer(exec as never, log);
  const link = (up: boolean, master: string | null): ActualLink => ({
    name: 'tapp1',
    kind: 'veth',
    mtu: 1450,
    mac: null,
    up,
    master,
    vxlan: null,
  });
  const state = (l: ActualLink | null): ActualState => ({
    links: new Map(l ? [['tapp1', l]] : []),
    bridgePorts: new Map(),
    fdb: [],
    neigh: [],
  });
  const settle = () => new Promise((r) => setTimeout(r, 20));
  const m = modelWith(vmPort('hostB', []));
  const d = compileDatapath(B, m);
  const garps = () => calls.filter((c) => c[0] === 'arping').length;

  announcer.announce(d, state(link(true, 'hnb-100')), m);
  await settle();
  assert.equal(garps(), 2, 'request and reply forms for its one IPv4 address');
  announcer.announce(d, state(link(true, 'hnb-100')), m);
  await settle();
  assert.equal(garps(), 2, 'not again while it stays wired');
  announcer.announce(d, state(link(true, null)), m);
  announcer.announce(d, state(link(true, 'hnb-100')), m);
  await settle();
  assert.equal(garps(), 4, 'released from its bridge, then wired again: announced again');
  const gone = modelWith(peer);
  announcer.announce(compileDatapath(B, gone), state(link(true, 'hnb-100')), gone);
  announcer.announce(d, state(link(true, 'hnb-100')), m);
  await settle();
  assert.equal(garps(), 6, 'gone from the model, then back: announced again');
  const prepared = modelWith(vmPort('hostA', ['hostB']));
  announcer.announce(compileDatapath(B, prepared), state(link(true, 'hnb-100')), prepared);
  await settle();
  assert.equal(garps(), 6, 'a prepared port is not announced');
});

test('the Announcer announces the newest ports first, one arping at a time', async () => {
  const { Announcer } = await import('../../../src/agent/datapath/announce.js');
  const started: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const exec = async (_cmd: string, args: readonly string[]) => {
    started.push(`${args[args.length - 1]}${args.includes('-P') ? ' reply' : ''}`);
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    await new Promise((r) => setTimeout(r, 15));
    inFlight--;
    return { code: 0, stdout: '', stderr: '' };
  };
  const announcer = new Announcer(exec as never, { info() {}, warn() {} } as never);
  const ports = [1, 2, 3, 4].map((i) => port(`p${i}`, 'n1', 'hostB', `fa:16:3e:00:00:1${i}`, [`10.0.1.1${i}`]));
  const wired = (ids: number[]): ActualState => ({
    links: new Map(
      ids.map((i) => [
        `tapp${i}`,
        {
          name: `tapp${i}`,
          kind: 'veth',
          mtu: 1450,
          mac: null,
          up: true,
          master: 'hnb-100',
          vxlan: null,
        } as ActualLink,
      ]),
    ),
    bridgePorts: new Map(),
    fdb: [],
    neigh: [],
  });
  const m = view({ networks: [net('n1', 100)], agents, ports });
  const d = compileDatapath(B, m);
  announcer.announce(d, wired([1, 2, 3]), m);
  await new Promise((r) => setTimeout(r, 5)); // the first port's first arping is running
  announcer.announce(d, wired([1, 2, 3, 4]), m); // p4 wired meanwhile: next, before p2 and p3
  await new Promise((r) => setTimeout(r, 200));
  const order = started.filter((s) => !s.endsWith('reply'));
  assert.equal(order[0], '10.0.1.11', 'one of the first round went first');
  assert.equal(order[1], '10.0.1.14', 'the newest port went next');
  assert.deepEqual([...order].sort(), ['10.0.1.11', '10.0.1.12', '10.0.1.13', '10.0.1.14']);
  assert.equal(started.length, 8);
  assert.equal(maxInFlight, 1);
});
