/**
 * tc-BPF security groups against nftables (`npm run bench:firewall-bpf`, root; docs/security-groups.md,
 * "tc-BPF"). Same run, configurations interleaved over ROUNDS (default 7) rounds, one TCP flow (iperf3,
 * 2 s) and new TCP connections per second (connect, one request and its echo, close; 2 s):
 *  - one node, two workloads on one bridge: unfiltered, nftables security groups, tc-BPF security
 *    groups (200 ports x 10 rules compiled, as bench:firewall);
 *  - the two-node VXLAN overlay (testkit/overlay-netenv.ts): no netfilter, nftables on both nodes,
 *    tc-BPF on both nodes (Neutron's default group).
 * Also the programs' own run time (kernel.bpf_stats_enabled, set for the run and restored) during the
 * iperf3 flows, against the CPU time iperf3 accounts: a figure the machine's other load moves less.
 * Targets (median of per-round ratios): one node tc-BPF / unfiltered >= 0.97x; overlay tc-BPF / no
 * netfilter >= 0.90x; connections/s tc-BPF / nftables >= 0.95x on both (no worse, within noise). A miss
 * exits 1.
 */
import { FirewallCompiler } from '../src/agent/firewall/compile.js';
import { FirewallDriver } from '../src/agent/firewall/driver.js';
import type { FirewallInput, FirewallMode } from '../src/agent/firewall/model.js';
import { firewallInput } from '../src/agent/firewall/reconciler.js';
import { compileBpf } from '../src/agent/firewall/bpf/compile.js';
import { BpfFirewallDriver } from '../src/agent/firewall/bpf/driver.js';
import { inNetnsKeepMounts, realExec, type Exec } from '../src/common/exec.js';
import { silentLogger } from '../src/common/log.js';
import { tapName } from '../src/model/kernel-names.js';
import { defaultGroup, makeRule, portId, scaleModel } from '../testkit/firewall-fixtures.js';
import { NodeEnv, startEcho, type Workload } from '../testkit/firewall-netenv.js';
import { OverlayEnv } from '../testkit/overlay-netenv.js';
import { requireRoot, runBench, Targets } from '../testkit/bench-targets.js';
import { median } from '../testkit/stats.js';
import { connRate, twoPorts } from './firewall-source.js';

/** Throughput rounds (0: apply times only). */
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const NONE = 'no filtering';
const NFT = 'nftables security groups';
const BPF = 'tc-BPF security groups';
const PREFIX = `hnB-${process.pid}-`;

/**
 * Per configuration and round: Gbit/s, Gbit per CPU-second of sender + receiver, those CPU-seconds,
 * new connections/s.
 */
type Figures = Map<string, { gbps: number[]; perCpu: number[]; cpuS: number[]; cps: number[] }>;

const pinDir = (env: NodeEnv) => `/sys/fs/bpf/hypernet/${env.nodeNs}`;

/** A tc-BPF driver for node `env`, pinned under its namespace's name. */
const bpfDriver = (env: NodeEnv): BpfFirewallDriver =>
  new BpfFirewallDriver({
    node: env.node,
    tc: inNetnsKeepMounts(realExec, env.nodeNs),
    host: realExec,
    pinDir: pinDir(env),
    log: silentLogger(),
  });

const brnf = (node: Exec, on: boolean) =>
  node('sysctl', ['-q', '-w', `net.bridge.bridge-nf-call-iptables=${on ? 1 : 0}`]);

/** CPU time the programs ran and how often (kernel.bpf_stats_enabled), summed over runs. */
const progRuns = { ns: 0, runs: 0 };

/** Adds the run statistics of the programs pinned under each of `pinDirs` to progRuns. */
async function countRuns(pinDirs: string[]): Promise<void> {
  for (const d of pinDirs)
    for (const p of ['hn_from_port', 'hn_to_port']) {
      const r = await realExec('bpftool', ['prog', 'show', 'pinned', `${d}/prog/${p}`, '-j']);
      const j = JSON.parse(r.stdout) as { run_time_ns?: number; run_cnt?: number };
      progRuns.ns += j.run_time_ns ?? 0;
      progRuns.runs += j.run_cnt ?? 0;
    }
}

/** Rounds of `configs` (each set up, measured from `from` to `to`, then `after`, if any). */
async function interleave(
  configs: Array<[string, () => Promise<unknown>, (() => Promise<void>)?]>,
  from: Workload,
  to: Workload,
): Promise<Figures> {
  const f: Figures = new Map(configs.map(([n]) => [n, { gbps: [], perCpu: [], cpuS: [], cps: [] }]));
  for (let round = 0; round < ROUNDS; round++)
    for (const [name, setup, after] of configs) {
      await setup();
      const r = await from.exec('iperf3', ['-c', to.ip, '-t', '2', '-J'], { timeoutMs: 20_000 });
      // iperf3's CPU figures include kernel work done in its processes' context: less sensitive to
      // other load on a shared machine than the rate itself (as in bench:firewall).
      const end = JSON.parse(r.stdout).end;
      const gbps = end.sum_received.bits_per_second / 1e9;
      f.get(name)!.gbps.push(gbps);
      const cpu = (end.cpu_utilization_percent.host_total + end.cpu_utilization_percent.remote_total) / 100;
      f.get(name)!.perCpu.push(gbps / cpu);
      f.get(name)!.cpuS.push(cpu * end.sum_received.seconds);
      await after?.(); // the programs' statistics cover the iperf3 flow, not the connections
      f.get(name)!.cps.push(await connRate(from, to.ip, 5001));
    }
  return f;
}

/** One node: nftables and tc-BPF, each with 200 ports x 10 rules compiled, two of them wired. */
async function oneNode(mode: FirewallMode): Promise<Figures> {
  const env = new NodeEnv(`${PREFIX}n-`);
  const nft = new FirewallDriver(env.node, silentLogger());
  const bpf = bpfDriver(env);
  try {
    await env.create();
    const w1 = await env.addWorkload(1, tapName(portId(1)), 'fa:16:3e:00:00:01', '10.0.0.2');
    const w2 = await env.addWorkload(2, tapName(portId(2)), 'fa:16:3e:00:00:02', '10.0.0.3');
    env.spawnIn(w2.ns, 'iperf3', ['-s']);
    await startEcho(env, w2.ns, [5001]);
    const sg200 = scaleModel(200, mode);
    const wired: FirewallInput = { ...sg200, localPorts: sg200.localPorts.slice(0, 2) };
    const compiler = new FirewallCompiler();
    const off = () => Promise.all([nft.teardown(), bpf.teardown()]).then(() => brnf(env.node, false));
    return await interleave(
      [
        [NONE, off],
        [NFT, () => off().then(() => brnf(env.node, true).then(() => nft.apply(compiler.compile(sg200))))],
        [BPF, () => off().then(() => bpf.apply(compileBpf(wired))), () => countRuns([pinDir(env)])],
      ],
      w1,
      w2,
    );
  } finally {
    await bpf.teardown();
    await env.destroy();
  }
}

/** The two-node overlay with Neutron's default group on both ports. */
async function overlay(mode: FirewallMode): Promise<Figures> {
  const env = new OverlayEnv(`${PREFIX}ov-`);
  const bpf = env.nodes.map(bpfDriver);
  try {
    await env.create();
    const { hosts, model, wa, wb } = await twoPorts(env, ['vxlan']);
    const groups = [defaultGroup('default')];
    const inputs = hosts.map((h) => firewallInput(h, model, mode, groups, false));
    const nft = env.nodes.map((n) => new FirewallDriver(n.node, silentLogger()));
    const compilers = env.nodes.map(() => new FirewallCompiler());
    const off = () =>
      Promise.all([...nft.map((d) => d.teardown()), ...bpf.map((d) => d.teardown())]).then(() =>
        Promise.all(env.nodes.map((n) => brnf(n.node, false))),
      );
    return await interleave(
      [
        [NONE, off],
        [
          NFT,
          async () => {
            await off();
            for (const [i, n] of env.nodes.entries()) {
              await brnf(n.node, true);
              await nft[i]!.apply(compilers[i]!.compile(inputs[i]!));
            }
          },
        ],
        [
          BPF,
          () => off().then(() => Promise.all(bpf.map((d, i) => d.apply(compileBpf(inputs[i]!))))),
          () => countRuns(env.nodes.map(pinDir)),
        ],
      ],
      wa,
      wb,
    );
  } finally {
    for (const d of bpf) await d.teardown();
    await env.destroy();
  }
}

async function timed(f: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

/** Apply times at 1,000 ports x 10 rules (ms): full applies, cold and after a restart; rule changes. */
interface ApplyTimes {
  cold: number[];
  restart: number[];
  rule: number[];
}

/**
 * Apply times on a node with 1,000 taps (veth pairs in its namespace): a full apply with nothing
 * loaded (compile, load the programs, write every entry, attach every tap), a full apply by a new
 * driver over what a previous agent left pinned and attached (an agent restart), three of each; and
 * six single rule changes (a rule added to and removed from one port's group: compile + map delta).
 */
async function applyTimes(mode: FirewallMode): Promise<ApplyTimes> {
  const env = new NodeEnv(`hnbq-${process.pid}-a-`);
  const m = scaleModel(1000, mode);
  const t: ApplyTimes = { cold: [], restart: [], rule: [] };
  let drv = bpfDriver(env);
  try {
    await env.create();
    const links = m.localPorts.map((p, i) => `link add ${p.ifname} type veth peer name p${i}`);
    await env.node('ip', ['-batch', '-'], { input: `${links.join('\n')}\n` });
    for (let k = 0; k < 3; k++) {
      await drv.teardown();
      drv = bpfDriver(env);
      t.cold.push(await timed(() => drv.apply(compileBpf(m))));
      drv = bpfDriver(env);
      t.restart.push(await timed(() => drv.apply(compileBpf(m))));
    }
    const sg1 = m.securityGroups.find((g) => g.id === 'sg1')!;
    const extra = makeRule('sg1', {
      direction: 'ingress',
      protocol: 'tcp',
      port_range_min: 8080,
      port_range_max: 8080,
    });
    const more = { ...sg1, security_group_rules: [...sg1.security_group_rules, extra] };
    for (let k = 0; k < 6; k++) {
      const groups = m.securityGroups.map((g) => (g.id === 'sg1' && k % 2 === 0 ? more : g));
      t.rule.push(await timed(() => drv.apply(compileBpf({ ...m, securityGroups: groups }))));
    }
    return t;
  } finally {
    await drv.teardown();
    await env.destroy();
  }
}

function reportApply(t: ApplyTimes, targets: Targets): void {
  const runs = (xs: number[]) => `[runs: ${xs.map((x) => x.toFixed(0)).join(' ')}]`;
  const full = Math.max(median(t.cold), median(t.restart));
  const fullOk = targets.check(`tc-BPF full apply median ${full.toFixed(0)} ms > 1000 ms`, full <= 1000);
  const rule = median(t.rule);
  const ruleOk = targets.check(`tc-BPF single rule change median ${rule.toFixed(0)} ms > 200 ms`, rule <= 200);
  console.log(
    `tc-BPF full apply 1000 ports x 10 rules (compile + entries + 1000 taps attached): nothing loaded median ` +
      `${median(t.cold).toFixed(0)} ms ${runs(t.cold)}, after an agent restart median ` +
      `${median(t.restart).toFixed(0)} ms ${runs(t.restart)}; target <= 1000 ms: ${fullOk}`,
  );
  console.log(
    `tc-BPF single rule change (1000 ports, add/remove alternating; compile + map delta): median ` +
      `${rule.toFixed(0)} ms ${runs(t.rule)}; target <= 200 ms: ${ruleOk}`,
  );
}

function report(where: string, f: Figures, target: number, targets: Targets): void {
  for (const [name, { gbps, perCpu, cps }] of f)
    console.log(
      `${where}, ${name}: median ${median(gbps).toFixed(2)} Gbit/s [runs: ${gbps.map((x) => x.toFixed(2)).join(' ')}]; ` +
        `median ${median(perCpu).toFixed(2)} Gbit per CPU-second; ` +
        `median ${median(cps).toFixed(0)} new connections/s [runs: ${cps.map((x) => x.toFixed(0)).join(' ')}]`,
    );
  const paired = (a: string, b: string, k: 'gbps' | 'perCpu' | 'cps') =>
    median(f.get(a)![k].map((x, i) => x / f.get(b)![k][i]!));
  const bpf = paired(BPF, NONE, 'gbps');
  const cps = paired(BPF, NFT, 'cps');
  const ok = targets.check(`${where}: tc-BPF / no filtering ${bpf.toFixed(3)}x < ${target}x`, bpf >= target);
  const cok = targets.check(`${where}: connections/s tc-BPF / nftables ${cps.toFixed(3)}x < 0.95x`, cps >= 0.95);
  console.log(
    `${where}, median of per-round ratios: tc-BPF / no filtering ${bpf.toFixed(3)}x (target >= ${target}x: ${ok}); ` +
      `nftables / no filtering ${paired(NFT, NONE, 'gbps').toFixed(3)}x; tc-BPF / nftables ` +
      `${paired(BPF, NFT, 'gbps').toFixed(3)}x; per CPU-second: tc-BPF / no filtering ` +
      `${paired(BPF, NONE, 'perCpu').toFixed(3)}x, nftables / no filtering ${paired(NFT, NONE, 'perCpu').toFixed(3)}x; connections/s tc-BPF / nftables ${cps.toFixed(3)}x (>= 0.95x: ${cok}), ` +
      `tc-BPF / no filtering ${paired(BPF, NONE, 'cps').toFixed(3)}x`,
  );
}

async function main(): Promise<void> {
  requireRoot('bench:firewall-bpf');
  const probe = new NodeEnv(`${PREFIX}p-`);
  let mode: FirewallMode;
  try {
    await probe.create();
    mode = await new FirewallDriver(probe.node, silentLogger()).detectMode();
  } finally {
    await probe.destroy();
  }
  const targets = new Targets();
  console.log(`bench:firewall-bpf: ${ROUNDS} interleaved rounds, conntrack mode ${mode}`);
  // Run-time statistics of BPF programs, machine-wide while on (this bench's are the only ones here).
  const stats = (await realExec('sysctl', ['-n', 'kernel.bpf_stats_enabled'])).stdout.trim();
  await realExec('sysctl', ['-q', '-w', 'kernel.bpf_stats_enabled=1']);
  reportApply(await applyTimes(mode), targets);
  try {
    for (const [where, run, target] of ROUNDS === 0
      ? []
      : ([
          ['one node', oneNode, 0.97],
          ['overlay', overlay, 0.9],
        ] as const)) {
      progRuns.ns = progRuns.runs = 0;
      const f = await run(mode);
      report(where, f, target, targets);
      const flowCpuS = f.get(BPF)!.cpuS.reduce((a, b) => a + b, 0);
      console.log(
        `${where}, tc-BPF programs during the iperf3 flows: ${progRuns.runs} runs, ` +
          `${(progRuns.ns / Math.max(1, progRuns.runs)).toFixed(0)} ns per run, ${(progRuns.ns / 1e6).toFixed(1)} ms ` +
          `CPU = ${((100 * progRuns.ns) / 1e9 / flowCpuS).toFixed(2)}% of the ${flowCpuS.toFixed(2)} CPU-seconds ` +
          `iperf3 accounted to sender and receiver`,
      );
    }
  } finally {
    await realExec('sysctl', ['-q', '-w', `kernel.bpf_stats_enabled=${stats}`]);
  }
  targets.finish('bench:firewall-bpf');
}

runBench(main);
