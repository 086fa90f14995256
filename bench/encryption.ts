/**
 * Encrypted overlay benchmark (`npm run bench:encryption`, root). One lab world (real server and
 * agents): three clouds' hyperswitches, one VM each; hs-b and hs-c carry the same cloud label (two
 * nodes of one cloud), hs-a another. The server runs the default policy (cross-cloud). Interleaved
 * rounds of one TCP flow (iperf3 -t SECONDS) on these paths:
 *  - encrypted overlay: vm-a1 → hs-a → WireGuard(VXLAN) → hs-b → vm-b1 (default policy);
 *  - bare tunnel: a second wireguard-go pair between hs-a and hs-b, no overlay, its MTU the VMs' (the
 *    same packets' worth of payload), hyperswitch to hyperswitch, its daemons' UDP socket buffers and
 *    TX queues set as the agent sets its own (hn-wgbuf, WG_TXQUEUELEN), so the ratio measures the
 *    overlay and nothing else;
 *  - inside one cloud: vm-b1 → vm-c1, plain under the default policy, then encrypted with the network
 *    set to `all` (the cost of `all` inside one cloud);
 *  - plaintext overlay: vm-a1 → vm-b1 with the network set to `none`;
 *  - underlay: hs-a → hs-b on the lab internet, no tunnel at all.
 * Per flow: retransmits, UDP receive-buffer drops in the receiving hyperswitch, and CPU seconds per
 * Gbit: each end's wireguard-go (/proc/PID/stat) and the machine's softirq and busy time (/proc/stat;
 * the machine is shared, so those include other work).
 * Rounds: BENCH_WARMUP (default 1, printed, not counted) then BENCH_REPS (default 5). Before each flow
 * the sending end's wireguard-go is pinned to one CPU and the receiving end's to the other, the same
 * on every path (testkit/placement.ts; BENCH_PIN=0 leaves them unpinned).
 * Target: the median of the per-round ratios encrypted overlay / bare tunnel ≥ 0.85, printed with
 * their spread; exit 1 when missed. WireGuard agentless
 * clients are measured by bench:agentless, beside the OpenVPN agentless path.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { realClock } from '../src/common/clock.js';
import { realExec } from '../src/common/exec.js';
import { WG_TXQUEUELEN } from '../src/agent/crypt/compile.js';
import { WG_SOCKET_BUFFER, WGBUF_PATH } from '../src/agent/native/wgbuf.js';
import { labWgIface } from '../src/lab/agent-processes.js';
import { type CloudPlan, planLab } from '../src/lab/plan.js';
import { downLab, type LabVm, World } from '../src/lab/world.js';
import type { Network } from '../src/model/types.js';
import { requireRoot, runBench, Targets } from '../testkit/bench-targets.js';
import { machineTicks, pidsByArgv, processTicks, TICKS_PER_SECOND } from '../testkit/cpu.js';
import { loadAverageLine, pinPath, placementLine } from '../testkit/placement.js';
import { formatRatios, median, roundRatios } from '../testkit/stats.js';
import { eventually } from '../testkit/wait.js';

const REPS = Number(process.env.BENCH_REPS ?? 5);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 1);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const TARGET = 0.85;
const exec = realExec;
const clock = realClock;
const prefix = process.env.BENCH_PREFIX ?? `hne${process.pid % 1e6}-`;
const plan = planLab({
  prefix,
  stateDir: `/tmp/hypernet-bench/${prefix.slice(0, -1)}`,
  apiPort: 0,
  clouds: 3,
  vmsPerCloud: 1,
  cloudLabels: ['cloud-a', 'cloud-b', 'cloud-b'],
});
const world = new World(plan, { exec, clock });
const run = (n: string, cmd: string, args: string[], timeoutMs = 60_000) =>
  exec('ip', ['netns', 'exec', n, cmd, ...args], { allowFail: true, timeoutMs });
/**
 * The bare tunnel's interfaces (one per hyperswitch; names differ, as wireguard-go's control sockets
 * share one directory for the whole machine) and their addresses (inside the namespaces only).
 */
const BARE = [`hnbare${process.pid % 100000}a`, `hnbare${process.pid % 100000}b`];
const BARE_IP = ['100.126.255.1', '100.126.255.2'];

/** One flow's figures. CPU is seconds per Gbit received. */
interface Flow {
  bps: number;
  retransmits: number;
  udpDrops: number;
  wgSender: number | null;
  wgReceiver: number | null;
  softirq: number;
  busy: number;
}

/** What a path is: from which namespace to which address, its receiving hyperswitch, its WireGuard daemons. */
interface PathSpec {
  from: string;
  to: string;
  receiverNs: string;
  wg?: [string, string];
}

const wgTicks = (iface: string | undefined): number =>
  iface ? pidsByArgv(['wireguard-go', iface]).reduce((t, pid) => t + processTicks(pid), 0) : 0;

async function udpRcvbufErrors(ns: string): Promise<number> {
  const r = await run(ns, 'nstat', ['-a', '-z', '-s', 'UdpRcvbufErrors']);
  return Number(/^UdpRcvbufErrors\s+(\d+)/m.exec(r.stdout)?.[1] ?? 0);
}

async function iperf(p: PathSpec): Promise<Flow> {
  // Each flow: a policy switch may have restarted a daemon, and b's sends on one path, receives on another.
  if (p.wg) await pinPath(exec, pidsByArgv(['wireguard-go', p.wg[0]]), pidsByArgv(['wireguard-go', p.wg[1]]));
  const [s0, r0, m0, d0] = [
    wgTicks(p.wg?.[0]),
    wgTicks(p.wg?.[1]),
    machineTicks(),
    await udpRcvbufErrors(p.receiverNs),
  ];
  const r = await run(p.from, 'iperf3', ['-4', '-c', p.to, '-t', String(SECONDS), '-J', '--connect-timeout', '3000']);
  const [s1, r1, m1, d1] = [
    wgTicks(p.wg?.[0]),
    wgTicks(p.wg?.[1]),
    machineTicks(),
    await udpRcvbufErrors(p.receiverNs),
  ];
  const j = JSON.parse(r.stdout || '{}') as {
    end?: { sum_received?: { bits_per_second: number; bytes: number }; sum_sent?: { retransmits?: number } };
    error?: string;
  };
  if (!j.end?.sum_received) throw new Error(`iperf3 ${p.from} → ${p.to}: ${j.error ?? r.stderr}`);
  const gbit = (j.end.sum_received.bytes * 8) / 1e9;
  const perGbit = (ticks: number) => ticks / TICKS_PER_SECOND / gbit;
  return {
    bps: j.end.sum_received.bits_per_second,
    retransmits: j.end.sum_sent?.retransmits ?? 0,
    udpDrops: d1 - d0,
    wgSender: p.wg ? perGbit(s1 - s0) : null,
    wgReceiver: p.wg ? perGbit(r1 - r0) : null,
    softirq: perGbit(m1.softirq - m0.softirq),
    busy: perGbit(m1.busy - m0.busy),
  };
}

/** A wireguard-go pair between the two hyperswitches, on its own port, MTU `mtu`. */
async function bareTunnel(mtu: number): Promise<void> {
  const [a, b] = plan.clouds as [CloudPlan, CloudPlan];
  const keys = await Promise.all(
    [a, b].map(async () => {
      const priv = (await exec('wg', ['genkey'])).stdout.trim();
      const pub = (await exec('wg', ['pubkey'], { input: `${priv}\n` })).stdout.trim();
      return { priv, pub };
    }),
  );
  const must = async (p: ReturnType<typeof run>) => {
    const r = await p;
    if (r.code !== 0) throw new Error(`bare tunnel: ${r.stderr || r.stdout}`);
  };
  for (const [i, c] of [a, b].entries()) {
    const other = i === 0 ? b : a;
    const dev = BARE[i];
    await must(run(c.hyperswitchNs, 'wireguard-go', [dev]));
    await must(
      run(c.hyperswitchNs, 'sh', [
        '-c',
        `umask 077; f=$(mktemp); echo ${keys[i].priv} > $f; wg set ${dev} listen-port 51821 private-key $f ` +
          `peer ${keys[1 - i].pub} endpoint ${other.underlayIp}:51821 allowed-ips ${BARE_IP[1 - i]}/32; rm -f $f`,
      ]),
    );
    await must(run(c.hyperswitchNs, 'ip', ['addr', 'add', `${BARE_IP[i]}/24`, 'dev', dev]));
    // The TX queue the agent gives its own wireguard-go interfaces.
    const txq = ['txqueuelen', String(WG_TXQUEUELEN)];
    await must(run(c.hyperswitchNs, 'ip', ['link', 'set', 'dev', dev, 'mtu', String(mtu), ...txq, 'up']));
    // The same socket buffers as the agent gives its own wireguard-go (and wireguard-go sets since 2023).
    await must(run(c.hyperswitchNs, WGBUF_PATH, [dev, String(WG_SOCKET_BUFFER)]));
  }
  const ok = await eventually(
    async () => (await run(a.hyperswitchNs, 'ping', ['-c', '1', '-W', '1', BARE_IP[1]])).code === 0,
    10_000,
  );
  if (!ok) throw new Error('the bare WireGuard tunnel does not pass traffic');
}

type Policy = 'none' | 'all' | null;

async function reachable(p: PathSpec): Promise<void> {
  const ok = await eventually(async () => (await run(p.from, 'ping', ['-c', '1', '-W', '1', p.to])).code === 0, 15_000);
  if (!ok) throw new Error(`${p.from} does not reach ${p.to}`);
}

/** Sets the network's policy and waits until hs-b's WireGuard has the peers that policy gives it. */
async function setPolicy(networkId: string, p: Policy): Promise<void> {
  await world.api.update<Network>('networks', 'network', networkId, { 'hypernet:encryption': p });
  const b = plan.clouds[1]!;
  const wg = labWgIface(b);
  // hs-b's peers: hs-a (another cloud) under the default, hs-a and hs-c under `all`, none under `none`.
  const want = p === 'none' ? 0 : p === 'all' ? 2 : 1;
  const ok = await eventually(async () => {
    const d = await run(b.hyperswitchNs, 'wg', ['show', wg, 'peers']);
    return d.stdout.split('\n').filter(Boolean).length === want;
  }, 15_000);
  if (!ok) throw new Error(`the agents did not converge to policy ${p ?? 'default'}`);
}

const PATHS = ['encrypted', 'bare', 'sameCloudPlain', 'sameCloudAll', 'plain', 'underlay'] as const;
type PathKey = (typeof PATHS)[number];
/** Which paths run under which policy of the network (the bare tunnel and underlay do not use it). */
const PHASES: [Policy, PathKey[]][] = [
  [null, ['encrypted', 'bare', 'sameCloudPlain']],
  ['all', ['sameCloudAll']],
  ['none', ['plain', 'underlay']],
];
const LABELS: Record<PathKey, string> = {
  encrypted: 'encrypted overlay, vm-a1 → vm-b1 (2 clouds)',
  bare: 'bare wireguard-go, hs-a → hs-b',
  sameCloudPlain: 'one cloud, vm-b1 → vm-c1, plain',
  sameCloudAll: 'one cloud, vm-b1 → vm-c1, `all`',
  plain: 'plaintext overlay, vm-a1 → vm-b1 (`none`)',
  underlay: 'underlay, hs-a → hs-b, no tunnel',
};

function printSummary(got: Record<PathKey, Flow[]>, targets: Targets): void {
  const med = (k: PathKey, f: (x: Flow) => number | null) => {
    const v = got[k].map(f).filter((x): x is number => x !== null);
    return v.length ? median(v) : null;
  };
  const n = (x: number | null, d = 2) => (x === null ? '-' : x.toFixed(d));
  console.log('\n=== encryption benchmark summary (medians, one TCP flow) ===');
  console.log(
    `${'path'.padEnd(44)} ${'Gbit/s'.padStart(7)} ${'retr'.padStart(7)} ${'udp drops'.padStart(9)}  ` +
      'CPU s/Gbit: wg-go send, wg-go recv, softirq, machine',
  );
  for (const k of PATHS)
    console.log(
      `${LABELS[k].padEnd(44)} ${n(med(k, (f) => f.bps / 1e9)).padStart(7)} ${n(
        med(k, (f) => f.retransmits),
        0,
      ).padStart(7)} ` +
        `${n(
          med(k, (f) => f.udpDrops),
          0,
        ).padStart(9)}  ${n(med(k, (f) => f.wgSender))}, ` +
        `${n(med(k, (f) => f.wgReceiver))}, ${n(med(k, (f) => f.softirq))}, ${n(med(k, (f) => f.busy))}`,
    );
  const rounds = (a: PathKey, b: PathKey) =>
    roundRatios(
      got[a].map((f) => f.bps),
      got[b].map((f) => f.bps),
    );
  const r = rounds('encrypted', 'bare');
  console.log(
    `encrypted / bare tunnel: ${formatRatios(r)} (target ≥ ${TARGET}: ` +
      `${targets.check(`encrypted overlay ≥ ${TARGET}× bare tunnel`, r.median >= TARGET)})`,
  );
  console.log(`encrypted / plaintext overlay: ${formatRatios(rounds('encrypted', 'plain'))}`);
  console.log(`encrypted / underlay: ${formatRatios(rounds('encrypted', 'underlay'))}`);
  console.log(
    `one cloud, \`all\` / plain (the cost of \`all\` inside a cloud): ${formatRatios(rounds('sameCloudAll', 'sameCloudPlain'))}`,
  );
}

async function main(): Promise<void> {
  requireRoot('bench:encryption');
  console.log(
    `encryption benchmark: 3 hyperswitches in 2 clouds, prefix ${prefix}, ${WARMUP} warm-up + ${REPS} rounds ` +
      `of ${SECONDS} s; ${placementLine()}; at start: ${loadAverageLine()}`,
  );
  await downLab(plan.paths.stateDir, prefix, { exec, clock });
  const targets = new Targets();
  const servers: ChildProcess[] = [];
  const got = Object.fromEntries(PATHS.map((k) => [k, [] as Flow[]])) as Record<PathKey, Flow[]>;
  try {
    const [va, vb, vc] = (await world.up()) as [LabVm, LabVm, LabVm];
    const [a, b, c] = plan.clouds as [CloudPlan, CloudPlan, CloudPlan];
    const netId = world.state.networkId!;
    await bareTunnel(plan.overlayMtu);
    const wgOf = (x: CloudPlan) => labWgIface(x);
    const spec: Record<PathKey, PathSpec> = {
      encrypted: { from: va.site.ns, to: vb.ip, receiverNs: b.hyperswitchNs, wg: [wgOf(a), wgOf(b)] },
      bare: { from: a.hyperswitchNs, to: BARE_IP[1]!, receiverNs: b.hyperswitchNs, wg: [BARE[0]!, BARE[1]!] },
      sameCloudPlain: { from: vb.site.ns, to: vc.ip, receiverNs: c.hyperswitchNs },
      sameCloudAll: { from: vb.site.ns, to: vc.ip, receiverNs: c.hyperswitchNs, wg: [wgOf(b), wgOf(c)] },
      plain: { from: va.site.ns, to: vb.ip, receiverNs: b.hyperswitchNs },
      underlay: { from: a.hyperswitchNs, to: b.underlayIp, receiverNs: b.hyperswitchNs },
    };
    for (const n of [vb.site.ns, vc.site.ns, b.hyperswitchNs])
      servers.push(spawn('ip', ['netns', 'exec', n, 'iperf3', '-s', '-4'], { stdio: 'ignore' }));
    await clock.sleep(500);
    for (let i = 0; i < WARMUP + REPS; i++) {
      const round = {} as Record<PathKey, Flow>;
      for (const [policy, keys] of PHASES) {
        await setPolicy(netId, policy);
        // hs-b's peers are there; the other nodes' datapaths may still be moving: wait until each path answers.
        for (const k of keys) await reachable(spec[k]);
        for (const k of keys) round[k] = await iperf(spec[k]);
      }
      const warm = i < WARMUP;
      if (!warm) for (const k of PATHS) got[k].push(round[k]);
      const label = warm ? `warm-up ${i + 1} (not counted)` : `round ${i + 1 - WARMUP}`;
      console.log(`${label}: ${PATHS.map((k) => `${k} ${(round[k].bps / 1e9).toFixed(2)}`).join(', ')} Gbit/s`);
    }
    printSummary(got, targets);
    console.log(`at end: ${loadAverageLine()}`);
  } finally {
    for (const s of servers) s.kill();
    world.copyLogs(join(process.cwd(), 'artifacts', 'bench-encryption'));
    // The bare tunnel's wireguard-go ends with its interface (the lab's down also ends what lives in its namespaces).
    for (const [i, c] of plan.clouds.slice(0, 2).entries())
      await run(c.hyperswitchNs, 'ip', ['link', 'del', 'dev', BARE[i]!]);
    const r = await world.down();
    console.log(`cleaned up: ${r.namespaces.length} namespaces, ${r.processes.size} processes`);
  }
  targets.finish('bench:encryption');
}

runBench(main);
