/**
 * Agentless datapath benchmark (root). Both paths are set up at once and measured INTERLEAVED
 * (agentless, bare, agentless, bare, …; REPS runs each, one TCP flow, iperf3 -t SECONDS), so the
 * load of a shared machine hits both alike; medians are compared:
 *  - agentless: a lab VM with no agent (stock openvpn client from its user_data) → a VM in the other
 *    cloud, through the hyperswitch (OpenVPN TAP → bridge → VXLAN → the other cloud's agent);
 *  - bare tunnel: the same OpenVPN server (OpenVpnServers, same certificates, config and MTUs) and
 *    the same stock client config between two namespaces joined by one veth, static IPs on the TAPs,
 *    no overlay.
 * Per run it also records TCP retransmits, the CPU time (user+sys) of the two openvpn processes of
 * that path, and the outer packets fragmented (IpFragCreates in the client namespace), so a gap can
 * be told apart: loss, fragmentation, or CPU per bit. Target: agentless ≥ 0.9 × bare tunnel.
 * Everything lives in namespaces with a per-run prefix and is removed at the end (also on failure).
 * Run: npm run bench:agentless.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { realClock } from '../src/common/clock.js';
import { inNetns, realExec } from '../src/common/exec.js';
import { silentLogger } from '../src/common/log.js';
import { OpenVpnServers } from '../src/agentless/openvpn/driver.js';
import { CertificateAuthority } from '../src/agentless/pki/ca.js';
import { memoryStorage } from '../src/agentless/pki/storage.js';
import { buildUserData } from '../src/agentless/userdata.js';
import { bootFromUserData, CLIENT_TAP, clientDir, stopClient } from '../src/lab/agentless.js';
import { addNetns } from '../src/lab/netns.js';
import { planLab } from '../src/lab/plan.js';
import { readPidFile, waitFor } from '../src/lab/processes.js';
import { downLab, World } from '../src/lab/world.js';

const SECONDS = 5;
const REPS = 3;
const deps = { exec: realExec, clock: realClock };
const prefix = `hnba${process.pid}-`;
const stateDir = join(tmpdir(), 'hypernet-bench', prefix.slice(0, -1));
const TICK = 100; // USER_HZ

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const gbit = (bps: number): string => `${(bps / 1e9).toFixed(2)} Gbit/s`;

/** One path under test: where iperf3 runs and which openvpn processes carry it. */
interface Path {
  name: string;
  fromNs: string;
  toNs: string;
  toIp: string;
  /** Namespace of the path's OpenVPN server. */
  serverNs: string;
  /** The client's and the server's openvpn PIDs (for CPU accounting). */
  clientPid: number;
  serverPid: number;
  server?: ChildProcess;
}

interface Run {
  bps: number;
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
}

const cpuTicks = (pid: number): number => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(f[11]) + Number(f[12]); // utime, stime
  } catch {
    return 0;
  }
};

/** Busy jiffies of all CPUs (/proc/stat: everything but idle and iowait). */
const machineBusy = (): number => {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return f.reduce((a, b) => a + b, 0) - f[3]! - f[4]!;
};

async function nstat(ns: string, counter: string): Promise<number> {
  const r = await realExec('ip', ['netns', 'exec', ns, 'nstat', '-a', '-z', '-s', counter], { allowFail: true });
  return Number(new RegExp(`^${counter}\\s+(\\d+)`, 'm').exec(r.stdout)?.[1] ?? 0);
}

async function tapTxDropped(ns: string): Promise<number> {
  const r = await realExec('ip', ['-n', ns, '-s', '-j', 'link', 'show', 'dev', CLIENT_TAP], { allowFail: true });
  return (JSON.parse(r.stdout || '[]') as { stats64?: { tx?: { dropped?: number } } }[])[0]?.stats64?.tx?.dropped ?? 0;
}

const udpDrops = async (p: Path): Promise<number> => (await nstat(p.fromNs, 'UdpRcvbufErrors')) + (await nstat(p.serverNs, 'UdpRcvbufErrors'));

async function startServer(p: Path): Promise<void> {
  p.server = spawn('ip', ['netns', 'exec', p.toNs, 'iperf3', '-s', '-4'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 500));
}

async function iperfOnce(p: Path): Promise<Run> {
  const [c0, s0, m0, t0] = [cpuTicks(p.clientPid), cpuTicks(p.serverPid), machineBusy(), Date.now()];
  const frag0 = await nstat(p.fromNs, 'IpFragCreates');
  const [tap0, udp0] = [await tapTxDropped(p.fromNs), await udpDrops(p)];
  const r = await realExec('ip', ['netns', 'exec', p.fromNs, 'iperf3', '-4', '-c', p.toIp, '-t', String(SECONDS), '-J', '--connect-timeout', '3000'],
    { allowFail: true, timeoutMs: (SECONDS + 15) * 1000 });
  const [c1, s1, m1, t1] = [cpuTicks(p.clientPid), cpuTicks(p.serverPid), machineBusy(), Date.now()];
  const j = JSON.parse(r.stdout || '{}') as { end?: { sum_received?: { bits_per_second: number; bytes: number }; sum_sent?: { retransmits?: number } }; error?: string };
  if (!j.end?.sum_received) throw new Error(`iperf3 ${p.fromNs} → ${p.toIp}: ${j.error ?? r.stderr}`);
  const gbits = (j.end.sum_received.bytes * 8) / 1e9;
  return {
    bps: j.end.sum_received.bits_per_second,
    retransmits: j.end.sum_sent?.retransmits ?? 0,
    clientCpuPerGbit: (c1 - c0) / TICK / gbits,
    serverCpuPerGbit: (s1 - s0) / TICK / gbits,
    serverCores: (s1 - s0) / TICK / ((t1 - t0) / 1000),
    machineCpuPerGbit: (m1 - m0) / TICK / gbits,
    fragments: (await nstat(p.fromNs, 'IpFragCreates')) - frag0,
    tapDrops: (await tapTxDropped(p.fromNs)) - tap0,
    udpDrops: (await udpDrops(p)) - udp0,
  };
}

/** The agentless path in a 2-cloud lab: vm-b1 (agentless) → vm-a1 (agent mode). */
async function agentlessPath(world: World): Promise<Path> {
  await world.up();
  const a1 = world.state.vms.find((v) => v.name === 'vm-a1')!;
  const b1 = world.state.vms.find((v) => v.name === 'vm-b1')!;
  if (!(await world.pingRetry(b1.ns, a1.ip, 5))) throw new Error('agentless VM cannot reach vm-a1');
  const clientPid = readPidFile(join(clientDir(world.plan, 'vm-b1'), 'client.pid'));
  const hsNs = `${prefix}${b1.hostId}`;
  const serverPids = async () => (await realExec('ip', ['netns', 'pids', hsNs], { allowFail: true })).stdout.split(/\s+/).filter(Boolean).map(Number)
    .filter((pid) => { try { return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'openvpn'; } catch { return false; } });
  if (process.env.BENCH_NOTRACK) {
    // Experiment only (not what users run): take the tunnel's and VXLAN's outer UDP out of conntrack
    // in the hyperswitch namespace, to see what the firewall's conntrack costs this path.
    await inNetns(realExec, hsNs)('nft', ['-f', '-'], { input: 'table inet hnbench {\n chain pre { type filter hook prerouting priority -310; udp dport != { 67, 68 } notrack; }\n' +
      ' chain out { type filter hook output priority -310; udp dport != { 67, 68 } notrack; }\n}\n' });
  }
  const [serverPid] = await serverPids();
  if (!clientPid || !serverPid) throw new Error('agentless path: openvpn client or server not found');
  return { name: 'agentless', fromNs: b1.ns, serverNs: hsNs, toNs: a1.ns, toIp: a1.ip, clientPid, serverPid };
}

/** The same OpenVPN server and stock client across one veth, no overlay. */
async function bareTunnel(tmp: string, mtu: number, underlayMtu: number): Promise<{ path: Path; stop: () => Promise<void> }> {
  const [s, c] = [`${prefix}bare-s`, `${prefix}bare-c`];
  const portId = '00000000-0000-4000-8000-00000000beef';
  await addNetns(realExec, s);
  await addNetns(realExec, c);
  await realExec('ip', ['-n', s, 'link', 'add', 'eth0', 'mtu', String(underlayMtu), 'type', 'veth', 'peer', 'name', 'eth0', 'mtu', String(underlayMtu), 'netns', c]);
  for (const [ns, ip] of [[s, '203.0.113.1'], [c, '203.0.113.2']] as const) {
    await realExec('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    await realExec('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
  }
  const ca = await CertificateAuthority.open(memoryStorage());
  const server = await ca.issueServer({ name: 'hs-bare', ips: ['203.0.113.1'] });
  const client = await ca.issueClient({ portId, providerIp: '203.0.113.2' });
  const servers = new OpenVpnServers({ exec: realExec, log: silentLogger(), dir: join(tmp, 'hs'), netns: s });
  await servers.setCredentials({ caPem: server.caPem, certPem: server.certPem, keyPem: server.keyPem, crlPem: await ca.crlPem() });
  const mac = 'fa:16:3e:00:be:ef';
  await servers.ensure({ portId, providerIp: '203.0.113.2', macAddress: mac, listenIp: '203.0.113.1', listenPort: 1194, mtu, underlayMtu });
  await inNetns(realExec, s)('ip', ['addr', 'add', '10.9.0.1/24', 'dev', `tap${portId.slice(0, 11)}`]);
  const dir = join(tmp, 'client');
  await bootFromUserData(realExec, c, dir, buildUserData({ portId, macAddress: mac, remoteIp: '203.0.113.1', remotePort: 1194, mtu, underlayMtu,
    serverName: 'hs-bare', caPem: client.caPem, certPem: client.certPem, keyPem: client.keyPem }));
  await waitFor('the bare client TAP', async () => (await realExec('ip', ['-n', c, 'link', 'show', CLIENT_TAP], { allowFail: true })).code === 0, realClock, 20_000);
  await realExec('ip', ['-n', c, 'addr', 'add', '10.9.0.2/24', 'dev', CLIENT_TAP]);
  await waitFor('the bare tunnel', async () => (await realExec('ip', ['netns', 'exec', c, 'ping', '-c', '1', '-W', '1', '10.9.0.1'], { allowFail: true })).code === 0, realClock, 20_000);
  const [clientPid, serverPid] = [readPidFile(join(dir, 'client.pid')), await servers.pidOf(portId)];
  if (!clientPid || !serverPid) throw new Error('bare tunnel: openvpn client or server not found');
  return {
    path: { name: 'bare', fromNs: c, serverNs: s, toNs: s, toIp: '10.9.0.1', clientPid, serverPid },
    stop: async () => {
      await stopClient(dir, realClock);
      await servers.sync([]);
    },
  };
}

async function killNs(ns: string): Promise<void> {
  const pids = (await realExec('ip', ['netns', 'pids', ns], { allowFail: true })).stdout.split(/\s+/).filter(Boolean).map(Number);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL'); // only processes this benchmark started live in its namespaces
    } catch {
      /* gone */
    }
  }
  await realExec('ip', ['netns', 'del', ns], { allowFail: true });
}

const med = (runs: Run[], k: 'clientCpuPerGbit' | 'serverCpuPerGbit' | 'serverCores' | 'machineCpuPerGbit') => median(runs.map((r) => r[k])).toFixed(2);
const summary = (runs: Run[]) =>
  `${gbit(median(runs.map((r) => r.bps)))}  (runs: ${runs.map((r) => gbit(r.bps)).join(', ')}; retransmits ${runs.map((r) => r.retransmits).join('/')}; ` +
  `\n      CPU s/Gbit: openvpn client ${med(runs, 'clientCpuPerGbit')}, server ${med(runs, 'serverCpuPerGbit')} (server busy ${med(runs, 'serverCores')} cores), whole machine ${med(runs, 'machineCpuPerGbit')};\n      ` +
  `outer fragments ${runs.map((r) => r.fragments).join('/')}; ` +
  `drops client TAP ${runs.map((r) => r.tapDrops).join('/')}, UDP rcvbuf ${runs.map((r) => r.udpDrops).join('/')})`;

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error('bench:agentless needs root (network namespaces)');
    process.exit(2);
  }
  await downLab(stateDir, prefix, deps);
  const tmp = mkdtempSync(join(tmpdir(), 'hypernet-bench-vpn-'));
  const world = new World(planLab({ prefix, stateDir, apiPort: 0, clouds: 2, vmsPerCloud: 1, agentlessVms: 1 }), deps);
  let bare: Awaited<ReturnType<typeof bareTunnel>> | undefined;
  const paths: Path[] = [];
  try {
    const agentless = await agentlessPath(world);
    bare = await bareTunnel(tmp, world.plan.overlayMtu, world.plan.underlayMtu);
    paths.push(agentless, bare.path);
    for (const p of paths) await startServer(p);
    const runs: Run[][] = [[], []];
    for (let i = 0; i < REPS; i++) for (const [k, p] of paths.entries()) runs[k]!.push(await iperfOnce(p));
    const [a, b] = runs.map((rs) => median(rs.map((r) => r.bps))) as [number, number];
    const ratio = a / b;
    console.log(`\nagentless datapath, one TCP flow (iperf3 -t ${SECONDS}, median of ${REPS}, interleaved), TAP MTU ${world.plan.overlayMtu}`);
    console.log(`  agentless VM → VM in the other cloud : ${summary(runs[0]!)}`);
    console.log(`  bare OpenVPN tunnel, no overlay      : ${summary(runs[1]!)}`);
    console.log(`  ratio agentless / bare               : ${ratio.toFixed(2)}×  (target ≥ 0.90×: ${ratio >= 0.9 ? 'met' : 'NOT met'})`);
  } finally {
    for (const p of paths) p.server?.kill('SIGTERM');
    await bare?.stop().catch(() => undefined);
    for (const ns of [`${prefix}bare-s`, `${prefix}bare-c`]) await killNs(ns);
    rmSync(tmp, { recursive: true, force: true });
    await world.down().catch(() => undefined);
    await downLab(stateDir, prefix, deps);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
