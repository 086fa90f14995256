/**
 * Agentless datapath benchmark (root): one TCP flow through each path below, all set up at once and
 * measured INTERLEAVED (a round runs each path once; BENCH_REPS rounds, default 5, after one warm-up
 * round that is printed and not counted; iperf3 -t BENCH_SECONDS, default 5), so the load of a shared
 * machine hits them alike. Each tunnel's client daemon is pinned to one CPU and its server daemon to
 * the other, the same on every path (testkit/placement.ts; BENCH_PIN=0 leaves them unpinned).
 * Target: the median of the per-round ratios agentless / bare tunnel over the same hops ≥ 0.90 (exit 1
 * when missed); the spread of those ratios is printed beside it.
 * Paths ([namespace], ⇄ a veth pair), in a 2-cloud lab whose cloud-b VM vm-b1 is agentless:
 *  agentless: [vm-b1: iperf3 → tap0 → stock openvpn client] eth0 ⇄ n… [hst-…, the agentless
 *    hyperswitch: provider bridge vms0 → openvpn server → TAP vpn… → tc redirect → vps… ⇄ tap… →
 *    agent's bridge hnb-N + firewall → VXLAN] data0 ⇄ x… [inet] to-a ⇄ ul0 [hs-a: VXLAN → bridge
 *    hnb-N + firewall → tap…] ⇄ eth0 [vm-a1: iperf3 -s].
 *    5 namespaces, 5 veth pairs: 4 between namespaces, 1 inside hst-… (the GRO pair vps… ⇄ tap…).
 *  bare (the target's reference): the same in five namespaces of its own, `tun-*`: [tun-vm-b1] eth0
 *    ⇄ n0 [tun-hs: vms0 → openvpn server → vpn… → tc redirect → vps… ⇄ tap…, routed] data0 ⇄ x0
 *    [tun-inet] to-a ⇄ ul0 [tun-hs-a, routed] tap0 ⇄ eth0 [tun-vm-a1: iperf3 -s].
 *    5 namespaces, 5 veth pairs: 4 between namespaces, 1 inside tun-hs. Same server and client
 *    (OpenVpnServers, buildUserData: cipher, proto, MTUs, tuning), same MTUs on each link. It lacks
 *    only what hypernet adds: the agents' bridges, VXLAN and firewalls, and the client hook's MSS
 *    clamp; its namespaces hold no netfilter at all (checked: empty nft rulesets, bridge-nf-call off).
 *    Its own namespaces because routing it through the lab's hyperswitches (as this bench once did,
 *    vm-b1 → hs-b → inet → hs-a → vm-a1) puts the agents' nftables and conntrack on the baseline.
 *  (reference) the same bare tunnel with OpenVPN's plain TAP: the address on the TAP itself, the tc
 *    redirect and GRO pair left out, as a stock server runs (5 namespaces, 4 veth pairs).
 *  (reference) the old baseline: the same server and client in two namespaces joined by one veth
 *    (2 namespaces, 2 veth pairs with the GRO pair); BENCH_VETH=0 leaves it out.
 * The counts above are not taken on trust: the warm-up round reads every link's byte counters in every
 * namespace of the run around each path's flow, prints the namespaces and links that carried it,
 * and fails the run when the bare tunnel's counts differ from the agentless path's, or when the two
 * openvpn servers' or clients' configs differ in more than endpoint values (addresses, names, files).
 * The bare clients' hook starts a DHCP client on their TAP like the agentless one; there is no DHCP
 * server in a bare tunnel, so the bench stops it (it would only send DISCOVERs into the measurement
 * and, after its timeout, flush the static address).
 * Per run it also records TCP retransmits, the CPU time (user+sys) of the two openvpn processes of
 * that path and of the whole machine, the ping RTT through the path while the flow runs (queueing in
 * the tunnel's buffers), the outer packets fragmented (IpFragCreates in the client namespace), and
 * drops (client TAP queue; UDP receive buffers, UdpRcvbufErrors of the client's and the server's
 * namespace), so a gap can be told apart: loss, fragmentation, or CPU per bit.
 * The lab's server runs with encryption `none` (plaintext VXLAN between the clouds, as in the bare
 * tunnel's routed hops); WireGuard's cost is bench:encryption's.
 * Everything lives in namespaces with a per-run prefix and is removed at the end (also on failure).
 * WireGuard agentless (./agentless-wg.ts): a `vpn_type: wireguard` VM in the same cloud → vm-a1,
 * against a bare wireguard-go pair between that VM's namespace and its hyperswitch's; target ≥ 0.90×,
 * printed beside the OpenVPN path (BENCH_WG=0 leaves both out).
 * Run: npm run bench:agentless. Experiments, not what users run: BENCH_REVERSE=1 sends every flow
 * towards the agentless VM (iperf3 -R), BENCH_NOTRACK=1 takes the outer UDP out of conntrack in the
 * agentless hyperswitch, BENCH_NOSG=1 turns port security off on both VMs (no filters, no
 * br_netfilter on the path).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { realClock } from '../src/common/clock.js';
import { inNetns, realExec } from '../src/common/exec.js';
import { silentLogger } from '../src/common/log.js';
import { OpenVpnServers } from '../src/agent/vpn/driver.js';
import { tapName, vpnTapName } from '../src/agent/vpn/server-config.js';
import { CertificateAuthority } from '../src/server/agentless/pki/ca.js';
import { memoryStorage } from '../src/server/agentless/pki/storage.js';
import { buildUserData } from '../src/server/agentless/userdata.js';
import { bootFromUserData, CLIENT_TAP, clientDir, stopClient } from '../src/lab/agentless.js';
import { addNetns, listNetnsWithPrefix, sysctlIn } from '../src/lab/netns.js';
import { planLab, type VmPlan } from '../src/lab/plan.js';
import { readPidFile, stopPid, waitFor } from '../src/lab/processes.js';
import { vmInterface } from '../src/lab/vms.js';
import { downLab, World } from '../src/lab/world.js';
import { machineTicks, processTicks, TICKS_PER_SECOND } from '../testkit/cpu.js';
import { requireRoot, runBench, Targets } from '../testkit/bench-targets.js';
import { hopCounts, hopDetail, hopsOf, linkCounters, sameHops, type Hops } from '../testkit/path-hops.js';
import { loadAverageLine, pinPath, placementLine } from '../testkit/placement.js';
import { formatRatios, median, roundRatios } from '../testkit/stats.js';
import { type SameHops, setUpWgPaths, WG_AGENTLESS, WG_BARE, WG_SAME_HOPS } from './agentless-wg.js';

/** BENCH_SECONDS per iperf3 run, BENCH_REPS rounds (fewer: a quicker, noisier look). */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const REPS = Number(process.env.BENCH_REPS ?? 5);
/** Rounds run first and not counted (caches, ARP, TCP metrics, CPU frequency), BENCH_WARMUP. */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 1);
const deps = { exec: realExec, clock: realClock };
const prefix = process.env.BENCH_PREFIX ?? `hnba${process.pid}-`;
const stateDir = join(tmpdir(), 'hypernet-bench', prefix.slice(0, -1));
/** The old veth-only reference tunnel (BENCH_VETH=0 leaves it out). */
const WITH_VETH = process.env.BENCH_VETH !== '0';
const VETH_NS = [`${prefix}bare-s`, `${prefix}bare-c`];
/**
 * The bare tunnels' namespaces, as the agentless path's (top comment): client VM, server (hyperswitch),
 * internet, far hyperswitch, far VM. `tun-`: not `a-`/`b-`, which the lab's agents sweep as theirs.
 */
const MIRROR_NS = ['vm-b1', 'hs', 'inet', 'hs-a', 'vm-a1'].map((n) => `${prefix}tun-${n}`) as [
  string,
  string,
  string,
  string,
  string,
];
/** The far VM's address for the same-hops WireGuard pair (./agentless-wg.ts), one per tunnel as the others. */
const WG_FAR_IP = '198.51.100.132';
/** Where the same-hops WireGuard pair runs: the bare OpenVPN tunnels' namespaces (sameHopsTopology). */
const WG_MIRROR: SameHops = {
  clientNs: MIRROR_NS[0],
  serverNs: MIRROR_NS[1],
  listenIp: '203.0.113.65',
  farNs: MIRROR_NS[4],
  farIp: WG_FAR_IP,
};
/** Experiment: BENCH_REVERSE=1 runs every flow the other way (iperf3 -R: towards the agentless VM). */
const REVERSE = !!process.env.BENCH_REVERSE;
/** BENCH_WG=0 leaves the WireGuard agentless paths out. */
const WITH_WG = process.env.BENCH_WG !== '0';

const gbit = (bps: number): string => `${(bps / 1e9).toFixed(2)} Gbit/s`;

/** One path under test: where iperf3 runs and which openvpn processes carry it. */
export interface Path {
  name: string;
  fromNs: string;
  toNs: string;
  toIp: string;
  /** The iperf3 server's port (two paths end in vm-a1). */
  iperfPort: number;
  /** The client's TAP in fromNs. */
  clientTap: string;
  /** Namespace of the path's OpenVPN server. */
  serverNs: string;
  /** The client's and the server's openvpn PIDs (for CPU accounting). */
  clientPid: number;
  serverPid: number;
  server?: ChildProcess;
}

interface Run {
  bps: number;
  /** Bytes the iperf3 server received (what the hop tracing compares link counters with). */
  bytes: number;
  retransmits: number;
  /** CPU seconds (user+sys) per Gbit carried of the path's openvpn client and server. */
  clientCpuPerGbit: number;
  serverCpuPerGbit: number;
  /** The openvpn server's CPU use during the run, in cores (1.0 = one core saturated). */
  serverCores: number;
  /** CPU seconds per Gbit of the whole machine (all cores busy time, other work included). */
  machineCpuPerGbit: number;
  fragments: number;
  /** Packets dropped on the way: the client TAP's TX queue, and UDP receive buffers of both ends. */
  tapDrops: number;
  udpDrops: number;
  /** Mean ping RTT through the path while the flow runs (queueing in the tunnel's buffers), ms. */
  loadedRttMs: number;
}

async function nstat(ns: string, counter: string): Promise<number> {
  const r = await realExec('ip', ['netns', 'exec', ns, 'nstat', '-a', '-z', '-s', counter], { allowFail: true });
  return Number(new RegExp(`^${counter}\\s+(\\d+)`, 'm').exec(r.stdout)?.[1] ?? 0);
}

async function tapTxDropped(ns: string, tap: string): Promise<number> {
  const r = await realExec('ip', ['-n', ns, '-s', '-j', 'link', 'show', 'dev', tap], { allowFail: true });
  return (JSON.parse(r.stdout || '[]') as { stats64?: { tx?: { dropped?: number } } }[])[0]?.stats64?.tx?.dropped ?? 0;
}

const udpDrops = async (p: Path): Promise<number> =>
  (await nstat(p.fromNs, 'UdpRcvbufErrors')) + (await nstat(p.serverNs, 'UdpRcvbufErrors'));

async function startServer(p: Path): Promise<void> {
  p.server = spawn('ip', ['netns', 'exec', p.toNs, 'iperf3', '-s', '-4', '-B', p.toIp, '-p', String(p.iperfPort)], {
    stdio: 'ignore',
  });
  await new Promise((r) => setTimeout(r, 500));
}

async function iperfOnce(p: Path): Promise<Run> {
  // Each flow, as the daemons may have been restarted (and a new process is unpinned).
  await pinPath(realExec, [p.clientPid], [p.serverPid]);
  const [c0, s0, m0, t0] = [processTicks(p.clientPid), processTicks(p.serverPid), machineTicks().busy, Date.now()];
  const frag0 = await nstat(p.fromNs, 'IpFragCreates');
  const [tap0, udp0] = [await tapTxDropped(p.fromNs, p.clientTap), await udpDrops(p)];
  // 10 pings at 0.2 s from 2 s into the flow: the queueing delay the flow builds up in the tunnel.
  const loadedRtt = new Promise<number>((res) =>
    setTimeout(() => {
      void realExec('ip', ['netns', 'exec', p.fromNs, 'ping', '-n', '-q', '-c', '10', '-i', '0.2', '-W', '1', p.toIp], {
        allowFail: true,
        timeoutMs: 10_000,
      }).then(
        (x) => res(Number(/= [\d.]+\/([\d.]+)\//.exec(x.stdout)?.[1] ?? NaN)),
        () => res(NaN),
      );
    }, 2000),
  );
  const r = await realExec(
    'ip',
    [
      'netns',
      'exec',
      p.fromNs,
      'iperf3',
      '-4',
      '-c',
      p.toIp,
      '-p',
      String(p.iperfPort),
      '-t',
      String(SECONDS),
      ...(REVERSE ? ['-R'] : []),
      '-J',
      '--connect-timeout',
      '3000',
    ],
    { allowFail: true, timeoutMs: (SECONDS + 15) * 1000 },
  );
  const [c1, s1, m1, t1] = [processTicks(p.clientPid), processTicks(p.serverPid), machineTicks().busy, Date.now()];
  const j = JSON.parse(r.stdout || '{}') as {
    end?: { sum_received?: { bits_per_second: number; bytes: number }; sum_sent?: { retransmits?: number } };
    error?: string;
  };
  if (!j.end?.sum_received) throw new Error(`iperf3 ${p.fromNs} → ${p.toIp}: ${j.error ?? r.stderr}`);
  const gbits = (j.end.sum_received.bytes * 8) / 1e9;
  return {
    bps: j.end.sum_received.bits_per_second,
    bytes: j.end.sum_received.bytes,
    retransmits: j.end.sum_sent?.retransmits ?? 0,
    clientCpuPerGbit: (c1 - c0) / TICKS_PER_SECOND / gbits,
    serverCpuPerGbit: (s1 - s0) / TICKS_PER_SECOND / gbits,
    serverCores: (s1 - s0) / TICKS_PER_SECOND / ((t1 - t0) / 1000),
    machineCpuPerGbit: (m1 - m0) / TICKS_PER_SECOND / gbits,
    fragments: (await nstat(p.fromNs, 'IpFragCreates')) - frag0,
    tapDrops: (await tapTxDropped(p.fromNs, p.clientTap)) - tap0,
    udpDrops: (await udpDrops(p)) - udp0,
    loadedRttMs: await loadedRtt,
  };
}

/** The agentless hyperswitch's namespace (vm-b1's port is bound to it). */
const agentlessHsNs = (world: World, b1: VmPlan): string =>
  `${prefix}${world.state.vms.find((v) => v.name === b1.name)!.hostId}`;

/** The agentless path in a 2-cloud lab: vm-b1 (agentless) → vm-a1 (agent mode). */
async function agentlessPath(world: World, a1: VmPlan, b1: VmPlan): Promise<Path> {
  const a1Ip = world.state.vms.find((v) => v.name === a1.name)!.ip;
  if (!(await world.pingRetry(b1.ns, a1Ip, 5))) throw new Error('agentless VM cannot reach vm-a1');
  const clientPid = readPidFile(join(clientDir(world.plan, b1.name), 'client.pid'));
  const hsNs = agentlessHsNs(world, b1);
  const serverPids = async () =>
    (await realExec('ip', ['netns', 'pids', hsNs], { allowFail: true })).stdout
      .split(/\s+/)
      .filter(Boolean)
      .map(Number)
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'openvpn';
        } catch {
          return false;
        }
      });
  if (process.env.BENCH_NOTRACK) {
    // Experiment only (not what users run): take the tunnel's and VXLAN's outer UDP out of conntrack
    // in the hyperswitch namespace, to see what the firewall's conntrack costs this path.
    await inNetns(realExec, hsNs)('nft', ['-f', '-'], {
      input:
        'table inet hnbench {\n' +
        ' chain pre { type filter hook prerouting priority -310; udp dport != { 67, 68 } notrack; }\n' +
        ' chain out { type filter hook output priority -310; udp dport != { 67, 68 } notrack; }\n}\n',
    });
  }
  if (process.env.BENCH_NOSG) {
    // Experiment only: port security off on both ends (the agents then drop br_netfilter and the
    // filters from the path), to see what the security groups cost this path.
    for (const vm of [a1.name, b1.name]) {
      const port = world.state.vms.find((v) => v.name === vm)!.portId;
      await world.api.update('ports', 'port', port, { port_security_enabled: false, security_groups: [] });
    }
    await realClock.sleep(3_000);
  }
  const [serverPid] = await serverPids();
  if (!clientPid || !serverPid) throw new Error('agentless path: openvpn client or server not found');
  return {
    name: 'agentless',
    fromNs: b1.ns,
    serverNs: hsNs,
    toNs: a1.ns,
    toIp: a1Ip,
    iperfPort: 5201,
    clientTap: CLIENT_TAP,
    clientPid,
    serverPid,
  };
}

/** TAP devices in a namespace. */
async function taps(ns: string): Promise<string[]> {
  const r = await realExec('ip', ['-n', ns, '-j', 'link', 'show', 'type', 'tun'], { allowFail: true });
  return (JSON.parse(r.stdout || '[]') as { ifname: string }[]).map((l) => l.ifname);
}

interface BareTunnel {
  path: Path;
  stop: () => Promise<void>;
}

/**
 * A bare tunnel: the product's OpenVPN server (OpenVpnServers: same certificates, config, MTUs,
 * links) in `serverNs` listening on `listenIp`, the product's stock client config (from
 * buildUserData) in `clientNs` connecting from `clientIp`, static addresses `tunnelIps` (server,
 * client; a /28) on the two ends, no overlay. `index` tells tunnels sharing a namespace apart (port
 * id, UDP port). `plainTap`: the server's address goes on OpenVPN's TAP itself, with no redirect to
 * the GRO veth pair. `to`: iperf3's server is there, routed from the client through the tunnel;
 * otherwise it is the server's tunnel address.
 */
async function bareTunnel(o: {
  name: string;
  index: number;
  plainTap?: boolean;
  dir: string;
  serverNs: string;
  clientNs: string;
  listenIp: string;
  clientIp: string;
  tunnelIps: readonly [string, string];
  to?: { ns: string; ip: string };
  mtu: number;
  underlayMtu: number;
  iperfPort: number;
}): Promise<BareTunnel> {
  const portId = `${o.index}0000000-0000-4000-8000-00000000beef`;
  const [serverTunIp, clientTunIp] = o.tunnelIps;
  const listenPort = 1194 + o.index;
  const ca = await CertificateAuthority.open(memoryStorage());
  const server = await ca.issueServer({ name: 'hs-bare', ips: [o.listenIp] });
  const client = await ca.issueClient({ portId, providerIp: o.clientIp });
  const servers = new OpenVpnServers({
    exec: realExec,
    log: silentLogger(),
    dir: join(o.dir, 'hs'),
    netns: o.serverNs,
  });
  const dir = join(o.dir, 'client');
  const stop = async () => {
    await stopClient(dir, realClock);
    await servers.sync([]);
  };
  try {
    await servers.setCredentials({
      caPem: server.caPem,
      certPem: server.certPem,
      keyPem: server.keyPem,
      crlPem: await ca.crlPem(),
    });
    const mac = 'fa:16:3e:00:be:ef';
    await servers.ensure({
      portId,
      providerIp: o.clientIp,
      macAddress: mac,
      listenIp: o.listenIp,
      listenPort,
      mtu: o.mtu,
      underlayMtu: o.underlayMtu,
    });
    const serverExec = inNetns(realExec, o.serverNs);
    if (o.plainTap) await serverExec('tc', ['qdisc', 'del', 'dev', vpnTapName(portId), 'clsact']);
    await serverExec('ip', [
      'addr',
      'add',
      `${serverTunIp}/28`,
      'dev',
      o.plainTap ? vpnTapName(portId) : tapName(portId),
    ]);
    const before = new Set(await taps(o.clientNs));
    await bootFromUserData(
      realExec,
      o.clientNs,
      dir,
      buildUserData({
        portId,
        macAddress: mac,
        remoteIp: o.listenIp,
        remotePort: listenPort,
        mtu: o.mtu,
        underlayMtu: o.underlayMtu,
        serverName: 'hs-bare',
        caPem: client.caPem,
        certPem: client.certPem,
        keyPem: client.keyPem,
      }),
    );
    // `dev tap`: the kernel names the client's TAP (tap1 beside the agentless client's tap0).
    const tap = await waitFor(
      `the ${o.name} client TAP`,
      async () => (await taps(o.clientNs)).find((t) => !before.has(t)),
      realClock,
      20_000,
    );
    // The hook's DHCP client has no server to talk to here: stop it (ours: its command line names `dir`).
    const dhcpPid = await waitFor(
      `the ${o.name} hook's DHCP client`,
      async () => readPidFile(join(dir, 'hypernet.state', 'dhcp.pid')),
      realClock,
      20_000,
    );
    await stopPid(dhcpPid, dir, realClock, 1000);
    await realExec('ip', ['-n', o.clientNs, 'addr', 'add', `${clientTunIp}/28`, 'dev', tap]);
    if (o.to) await realExec('ip', ['-n', o.clientNs, 'route', 'add', `${o.to.ip}/32`, 'via', serverTunIp, 'dev', tap]);
    await waitFor(
      `the ${o.name} tunnel`,
      async () =>
        (
          await realExec('ip', ['netns', 'exec', o.clientNs, 'ping', '-c', '1', '-W', '1', o.to?.ip ?? serverTunIp], {
            allowFail: true,
          })
        ).code === 0,
      realClock,
      20_000,
    );
    const [clientPid, serverPid] = [readPidFile(join(dir, 'client.pid')), await servers.pidOf(portId)];
    if (!clientPid || !serverPid) throw new Error(`${o.name} tunnel: openvpn client or server not found`);
    return {
      path: {
        name: o.name,
        fromNs: o.clientNs,
        serverNs: o.serverNs,
        toNs: o.to?.ns ?? o.serverNs,
        toIp: o.to?.ip ?? serverTunIp,
        iperfPort: o.iperfPort,
        clientTap: tap,
        clientPid,
        serverPid,
      },
      stop,
    };
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
}

/** A veth pair `ifA` in `nsA` ⇄ `ifB` in `nsB`, both ends up. */
async function vethPair(nsA: string, ifA: string, nsB: string, ifB: string, mtu: number): Promise<void> {
  const m = String(mtu);
  await ipIn(nsA, ['link', 'add', ifA, 'mtu', m, 'type', 'veth', 'peer', 'name', ifB, 'mtu', m, 'netns', nsB]);
  await ipIn(nsA, ['link', 'set', ifA, 'up']);
  await ipIn(nsB, ['link', 'set', ifB, 'up']);
}

/** Runs `ip -n ns …` for each argument list, in order. */
async function ipIn(ns: string, ...cmds: string[][]): Promise<void> {
  for (const args of cmds) await realExec('ip', ['-n', ns, ...args]);
}

/** The old reference: two extra namespaces joined by one veth (203.0.113.1 ↔ .2), nothing else. */
async function vethTunnel(tmp: string, mtu: number, underlayMtu: number): Promise<BareTunnel> {
  const [s, c] = VETH_NS as [string, string];
  await addNetns(realExec, s);
  await addNetns(realExec, c);
  await vethPair(s, 'eth0', c, 'eth0', underlayMtu);
  await ipIn(s, ['addr', 'add', '203.0.113.1/24', 'dev', 'eth0']);
  await ipIn(c, ['addr', 'add', '203.0.113.2/24', 'dev', 'eth0']);
  return bareTunnel({
    name: 'veth',
    index: 2,
    dir: join(tmp, 'veth'),
    serverNs: s,
    clientNs: c,
    listenIp: '203.0.113.1',
    clientIp: '203.0.113.2',
    tunnelIps: ['192.0.2.1', '192.0.2.2'],
    mtu,
    underlayMtu,
    iperfPort: 5201,
  });
}

/**
 * The bare tunnels' own five namespaces, linked as the agentless path's are (see the top comment):
 * the client VM ⇄ the server's provider bridge `vms0` ⇄ `data0` into an internet ⇄ the far
 * hyperswitch ⇄ the far VM, plain routing between them. Their own namespaces, not the lab's, because
 * the lab's hyperswitches hold the agents' firewalls (netfilter) and a baseline must carry none.
 * Doc-range addresses (nothing else lives in these namespaces): provider 203.0.113.64/27, data link
 * 203.0.113.0/30, far underlay 198.51.100.0/30, far VM 198.51.100.128/29 (one address per tunnel).
 */
async function sameHopsTopology(underlayMtu: number, farMtu: number): Promise<void> {
  const [vmB, hs, inet, hsA, vmA] = MIRROR_NS;
  for (const ns of MIRROR_NS) await addNetns(realExec, ns);
  await vethPair(vmB, 'eth0', hs, 'n0', underlayMtu);
  await ipIn(hs, ['link', 'add', 'vms0', 'mtu', String(underlayMtu), 'type', 'bridge'], ['link', 'set', 'vms0', 'up']);
  await ipIn(hs, ['link', 'set', 'n0', 'master', 'vms0'], ['addr', 'add', '203.0.113.65/27', 'dev', 'vms0']);
  await ipIn(
    vmB,
    ['addr', 'add', '203.0.113.66/27', 'dev', 'eth0'],
    ['route', 'add', 'default', 'via', '203.0.113.65'],
  );
  await vethPair(hs, 'data0', inet, 'x0', underlayMtu);
  await ipIn(hs, ['addr', 'add', '203.0.113.2/30', 'dev', 'data0'], ['route', 'add', 'default', 'via', '203.0.113.1']);
  await vethPair(inet, 'to-a', hsA, 'ul0', underlayMtu);
  await ipIn(
    inet,
    ['addr', 'add', '203.0.113.1/30', 'dev', 'x0'],
    ['addr', 'add', '198.51.100.1/30', 'dev', 'to-a'],
    ['route', 'add', '192.0.2.0/24', 'via', '203.0.113.2'],
    ['route', 'add', '198.51.100.128/29', 'via', '198.51.100.2'],
  );
  // The far VM's link has the MTU of vm-a1's (its port's network MTU), as in the agentless path.
  await vethPair(hsA, 'tap0', vmA, 'eth0', farMtu);
  await ipIn(
    hsA,
    ['addr', 'add', '198.51.100.2/30', 'dev', 'ul0'],
    ['route', 'add', 'default', 'via', '198.51.100.1'],
    ['addr', 'add', '198.51.100.129/29', 'dev', 'tap0'],
  );
  await ipIn(
    vmA,
    ['addr', 'add', '198.51.100.130/29', 'dev', 'eth0'],
    ['addr', 'add', '198.51.100.131/29', 'dev', 'eth0'],
    ['addr', 'add', `${WG_FAR_IP}/29`, 'dev', 'eth0'],
    ['route', 'add', 'default', 'via', '198.51.100.129'],
  );
  for (const ns of [hs, inet, hsA]) await sysctlIn(realExec, ns, 'net.ipv4.ip_forward', 1);
  // br_netfilter is built into this kernel and on by default in a new namespace: off for `vms0`.
  for (const k of ['iptables', 'ip6tables', 'arptables'])
    await sysctlIn(realExec, hs, `net.bridge.bridge-nf-call-${k}`, 0).catch(() => undefined);
}

/**
 * The bare tunnel (the target's reference) and the same with OpenVPN's plain TAP, both over the
 * same hops as the agentless path (sameHopsTopology), iperf3 in the far VM namespace.
 */
async function sameHopsTunnels(
  tunnels: BareTunnel[],
  tmp: string,
  o: { mtu: number; underlayMtu: number; farMtu: number },
): Promise<void> {
  await sameHopsTopology(o.underlayMtu, o.farMtu);
  const [vmB, hs, , , vmA] = MIRROR_NS;
  const ends = { serverNs: hs, clientNs: vmB, listenIp: '203.0.113.65', clientIp: '203.0.113.66', ...o };
  tunnels.push(
    await bareTunnel({
      name: 'bare',
      index: 0,
      dir: join(tmp, 'bare'),
      ...ends,
      tunnelIps: ['192.0.2.1', '192.0.2.2'],
      to: { ns: vmA, ip: '198.51.100.130' },
      iperfPort: 5202,
    }),
  );
  tunnels.push(
    await bareTunnel({
      name: 'bare-plain',
      index: 1,
      plainTap: true,
      dir: join(tmp, 'bare-plain'),
      ...ends,
      tunnelIps: ['192.0.2.17', '192.0.2.18'],
      to: { ns: vmA, ip: '198.51.100.131' },
      iperfPort: 5203,
    }),
  );
  // The clients' hook clamps TCP MSS with an nft table in the VM: hypernet's, not OpenVPN's, so
  // the baseline drops it (iperf3's TCP takes its MSS from the TAP MTU anyway).
  await realExec('ip', ['netns', 'exec', vmB, 'nft', 'delete', 'table', 'inet', 'hypernet_vpn'], { allowFail: true });
  await assertNoNetfilter(MIRROR_NS);
}

/**
 * Throws unless every namespace has an empty nft ruleset and no bridge calling netfilter (no
 * netfilter work on a baseline).
 */
async function assertNoNetfilter(namespaces: readonly string[]): Promise<void> {
  for (const ns of namespaces) {
    const r = await realExec('ip', ['netns', 'exec', ns, 'nft', 'list', 'ruleset']);
    if (r.stdout.trim()) throw new Error(`baseline namespace ${ns} has netfilter rules:\n${r.stdout}`);
    const br = await realExec('ip', ['netns', 'exec', ns, 'cat', '/proc/sys/net/bridge/bridge-nf-call-iptables'], {
      allowFail: true,
    });
    const bridges = await realExec('ip', ['-n', ns, 'link', 'show', 'type', 'bridge']);
    if (br.stdout.trim() === '1' && bridges.stdout.trim()) throw new Error(`baseline namespace ${ns}: br_netfilter on`);
  }
}

async function killNs(ns: string): Promise<void> {
  const pids = (await realExec('ip', ['netns', 'pids', ns], { allowFail: true })).stdout
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL'); // only processes this benchmark started live in its namespaces
    } catch {
      /* gone */
    }
  }
  await realExec('ip', ['netns', 'del', ns], { allowFail: true });
}

const med = (runs: Run[], k: 'clientCpuPerGbit' | 'serverCpuPerGbit' | 'serverCores' | 'machineCpuPerGbit') =>
  median(runs.map((r) => r[k])).toFixed(2);
const summary = (runs: Run[]): string => {
  const each = (f: (r: Run) => string | number) => runs.map(f).join('/');
  return (
    `${gbit(median(runs.map((r) => r.bps)))}  (runs: ${runs.map((r) => gbit(r.bps)).join(', ')}; ` +
    `retransmits ${each((r) => r.retransmits)}; \n      CPU s/Gbit: openvpn client ${med(runs, 'clientCpuPerGbit')}, ` +
    `server ${med(runs, 'serverCpuPerGbit')} (server busy ${med(runs, 'serverCores')} cores), ` +
    `whole machine ${med(runs, 'machineCpuPerGbit')};\n      ` +
    `ping under load ${each((r) => r.loadedRttMs.toFixed(1))} ms; ` +
    `outer fragments ${each((r) => r.fragments)}; ` +
    `drops client TAP ${each((r) => r.tapDrops)}, UDP rcvbuf ${each((r) => r.udpDrops)})`
  );
};

/** Every path of the benchmark, set up at once: agentless, bare (same hops), bare with a plain TAP, veth. */
async function setUpPaths(world: World, tmp: string, tunnels: BareTunnel[]): Promise<Path[]> {
  await world.up();
  const a1 = world.plan.vms.find((v) => v.name === 'vm-a1')!;
  const b1 = world.plan.vms.find((v) => v.name === 'vm-b1')!;
  const agentless = await agentlessPath(world, a1, b1);
  const { overlayMtu: mtu, underlayMtu } = world.plan;
  const farMtu = (await vmInterface(realExec, a1.ns)).mtu ?? mtu;
  await sameHopsTunnels(tunnels, tmp, { mtu, underlayMtu, farMtu });
  if (WITH_VETH) tunnels.push(await vethTunnel(tmp, mtu, underlayMtu));
  return [agentless, ...tunnels.map((t) => t.path)];
}

/** An openvpn process's config lines (from its --cd and --config), comments and inline PEM left out. */
function openvpnConfig(pid: number): string[] {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  const arg = (k: string) => argv[argv.indexOf(k) + 1] ?? '';
  const text = readFileSync(join(arg('--cd'), arg('--config')), 'utf8').replace(/<(\w+)>[\s\S]*?<\/\1>/g, '');
  return text.split('\n').filter((l) => l.trim() && !l.startsWith('#'));
}

/** Lines naming one endpoint rather than choosing how the tunnel runs: their values may differ. */
const ENDPOINT_OPTIONS = new Set([
  'local',
  'port',
  'dev',
  'remote',
  'lladdr',
  'ca',
  'cert',
  'key',
  'crl-verify',
  'verify-x509-name',
  'tls-verify',
  'client-connect',
  'management',
]);

/**
 * How the two paths' openvpn configs differ (server with server, client with client), endpoint values
 * masked: [] when both run with the same options (cipher, proto, MTUs, tuning, …). Also the counts.
 */
function openvpnDifferences(a: Path, b: Path): { diffs: string[]; compared: string } {
  const masked = (pid: number) =>
    openvpnConfig(pid).map((l) => (ENDPOINT_OPTIONS.has(l.split(/\s+/)[0]!) ? `${l.split(/\s+/)[0]} …` : l));
  const diffs: string[] = [];
  const counts: string[] = [];
  for (const [role, pa, pb] of [
    ['server', a.serverPid, b.serverPid],
    ['client', a.clientPid, b.clientPid],
  ] as const) {
    const [la, lb] = [masked(pa), masked(pb)];
    for (const l of la) if (!lb.includes(l)) diffs.push(`${role} ${a.name} only: ${l}`);
    for (const l of lb) if (!la.includes(l)) diffs.push(`${role} ${b.name} only: ${l}`);
    counts.push(`${role} ${la.length} lines`);
  }
  return { diffs, compared: counts.join(', ') };
}

/** The namespaces of every path in path order (client to iperf3 server), for the hop lines. */
function pathOrder(world: World): string[] {
  const ns = (name: string) => world.plan.vms.find((v) => v.name === name)!.ns;
  const [a1, b1] = [ns('vm-a1'), ns('vm-b1')];
  const hsA = world.plan.clouds[0]!.hyperswitchNs;
  const hst = agentlessHsNs(world, world.plan.vms.find((v) => v.name === 'vm-b1')!);
  const [vethS, vethC] = VETH_NS;
  return [b1, hst, world.plan.internetNs, hsA, a1, ...MIRROR_NS, vethC!, vethS!];
}

/**
 * WARMUP + REPS rounds, every path once per round (interleaved, so load on the machine hits them
 * alike); the warm-up rounds are printed and dropped. The first round also traces each path's hops:
 * link counters of every namespace of the run around it (read outside the counted rounds).
 */
async function measureInterleaved(paths: Path[]): Promise<{ runs: Run[][]; hops: Hops[] }> {
  for (const p of paths) await startServer(p);
  const runs: Run[][] = paths.map(() => []);
  const hops: Hops[] = [];
  const namespaces = await listNetnsWithPrefix(realExec, prefix);
  for (let i = 0; i < WARMUP + REPS; i++) {
    const round: Run[] = [];
    for (const p of paths) {
      const before = i === 0 ? await linkCounters(realExec, namespaces) : undefined;
      const run = await iperfOnce(p);
      if (before) hops.push(hopsOf(before, await linkCounters(realExec, namespaces), run.bytes));
      round.push(run);
    }
    const warm = i < WARMUP;
    if (!warm) for (const [k, run] of round.entries()) runs[k]!.push(run);
    const label = warm ? `warm-up ${i + 1} (not counted)` : `round ${i + 1 - WARMUP}`;
    console.log(`${label}: ${round.map((r, k) => `${paths[k]!.name} ${gbit(r.bps)}`).join(', ')}`);
  }
  return { runs, hops };
}

/** The summary; records the targets: the ratio, and that the baseline is a fair one (same hops, same options). */
function printSummary(o: {
  runs: Run[][];
  hops: Hops[];
  paths: Path[];
  /** Namespaces in path order (how the hop lines list them). */
  order: string[];
  mtu: number;
  targets: Targets;
}): void {
  const { runs, hops, paths, targets } = o;
  const named = (name: string) => paths.findIndex((p) => p.name === name);
  const [wgAt, bareAt, hopsAt] = [named(WG_AGENTLESS), named(WG_BARE), named(WG_SAME_HOPS)];
  const ovpn = wgAt < 0 ? runs : runs.slice(0, wgAt);
  const [a, b, , veth] = ovpn.map((rs) => median(rs.map((r) => r.bps))) as [number, number, number, number?];
  const bps = (k: number) => runs[k]!.map((r) => r.bps);
  const perRound = roundRatios(bps(0), bps(1));
  const ratio = perRound.median;
  const ok = targets.check(`agentless / bare tunnel ${ratio.toFixed(2)}× < 0.90×`, ratio >= 0.9);
  const hopsOk = targets.check(
    'the bare tunnel crosses other hops than the agentless path',
    sameHops(hops[0]!, hops[1]!),
  );
  const vpn = openvpnDifferences(paths[0]!, paths[1]!);
  const vpnOk = targets.check(`openvpn options differ: ${vpn.diffs.join('; ')}`, vpn.diffs.length === 0);
  console.log(
    `\nagentless datapath, one TCP flow (iperf3 -t ${SECONDS}${REVERSE ? ' -R' : ''}, ` +
      `median of ${REPS} after ${WARMUP} warm-up, interleaved), TAP MTU ${o.mtu}; ${placementLine()}`,
  );
  const line = (label: string, text: string) => console.log(`  ${label.padEnd(44)}: ${text}`);
  line('agentless VM → VM in the other cloud', summary(runs[0]!));
  line('bare OpenVPN tunnel, same hops, no overlay', summary(runs[1]!));
  line("(reference) the same, OpenVPN's plain TAP", summary(runs[2]!));
  if (veth !== undefined) line('(reference) bare tunnel over one veth', summary(runs[3]!));
  for (const [k, h] of hops.entries())
    line(`hops ${paths[k]!.name}`, `${hopCounts(h)}\n      ${hopDetail(h, prefix, o.order)}`);
  line('same hops agentless / bare', `${hopsOk} (namespaces and veth pairs, from link counters)`);
  line('same openvpn options agentless / bare', `${vpnOk} (${vpn.compared}; endpoint values masked)`);
  line('ratio agentless / bare (same hops)', `${formatRatios(perRound)}  (target ≥ 0.90×: ${ok})`);
  line('ratio of medians agentless / bare', `${(a / b).toFixed(2)}×`);
  line('ratio agentless / bare with a plain TAP', `${formatRatios(roundRatios(bps(0), bps(2)))}`);
  if (veth !== undefined) line('ratio agentless / bare over one veth', `${(a / veth).toFixed(2)}×`);
  if (wgAt < 0 || bareAt < 0 || hopsAt < 0) return;
  const wgRounds = roundRatios(bps(wgAt), bps(hopsAt));
  const wgRatio = `${wgRounds.median.toFixed(2)}×`;
  const wgOk = targets.check(`WireGuard agentless / bare wireguard-go ${wgRatio} < 0.90×`, wgRounds.median >= 0.9);
  const wgHopsOk = targets.check(
    'the same-hops wireguard-go pair crosses other hops than the WireGuard agentless path',
    sameHops(hops[wgAt]!, hops[hopsAt]!),
  );
  line('WireGuard agentless VM → VM in the other cloud', summary(runs[wgAt]!));
  line('bare wireguard-go, same hops, no overlay', summary(runs[hopsAt]!));
  line('(reference) bare wireguard-go, VM ⇄ hyperswitch', summary(runs[bareAt]!));
  line('same hops WireGuard agentless / bare', `${wgHopsOk} (namespaces and veth pairs, from link counters)`);
  line('ratio WireGuard agentless / bare (same hops)', `${formatRatios(wgRounds)}  (target ≥ 0.90×: ${wgOk})`);
  line('ratio WireGuard agentless / bare VM ⇄ hyperswitch', formatRatios(roundRatios(bps(wgAt), bps(bareAt))));
  line('WireGuard agentless / OpenVPN agentless', formatRatios(roundRatios(bps(wgAt), bps(0))));
}

async function main(): Promise<void> {
  requireRoot('bench:agentless');
  console.log(`bench:agentless, prefix ${prefix}; at start: ${loadAverageLine()}`);
  await downLab(stateDir, prefix, deps);
  const tmp = mkdtempSync(join(tmpdir(), 'hypernet-bench-vpn-'));
  // Plaintext overlay between the clouds: the bare OpenVPN baseline has no second encryption layer, so the
  // ratio compares the same work (bench:encryption measures the WireGuard overlay).
  const world = new World(
    planLab({ prefix, stateDir, apiPort: 0, clouds: 2, vmsPerCloud: 1, agentlessVms: 1, encryption: 'none' }),
    deps,
  );
  const tunnels: BareTunnel[] = [];
  let paths: Path[] = [];
  let stopWg = async () => {};
  const targets = new Targets();
  try {
    paths = await setUpPaths(world, tmp, tunnels);
    if (WITH_WG) {
      const wg = await setUpWgPaths(world, realExec, prefix, WG_MIRROR);
      stopWg = wg.stop;
      paths.push(...wg.paths);
    }
    const { runs, hops } = await measureInterleaved(paths);
    const order = pathOrder(world);
    printSummary({ runs, hops, paths, order, mtu: world.plan.overlayMtu, targets });
    console.log(`at end: ${loadAverageLine()}`);
  } finally {
    for (const p of paths) p.server?.kill('SIGTERM');
    await stopWg().catch(() => undefined);
    for (const t of tunnels) await t.stop().catch(() => undefined);
    for (const ns of [...MIRROR_NS, ...VETH_NS]) await killNs(ns);
    rmSync(tmp, { recursive: true, force: true });
    await world.down().catch(() => undefined);
    await downLab(stateDir, prefix, deps);
  }
  targets.finish('bench:agentless');
}

runBench(main);
