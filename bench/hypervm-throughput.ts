/**
 * The throughput part of `bench:hypervm`: one TCP flow (iperf3) from a HyperVM's container in cloud-a
 * to one in cloud-b, on lab worlds with one HyperVM per cloud (real server, agents, LXC; the lab's
 * default security groups on both nodes; encryption off, as the baseline encrypts nothing), against
 * the same flow routed natively over the same hops in the lab's native twin (container/VM → its
 * cloud's hyperswitch → the internet → the other hyperswitch → container/VM, no netfilter).
 * One lab world per firewall mode (HYPERVM_FIREWALL: nftables, tc-bpf, or both when unset), all up at
 * once, so rounds interleave (native, then each mode's containers, …) against one native baseline.
 * The ratio of the medians must be ≥ 0.85 for the agent's default mode (or the one mode chosen).
 * iperf3 runs from the host in each container's network namespace (the busybox image has no iperf3):
 * the packets start and end where the container's own would, on the container's side of its veth.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { DEFAULT_FIREWALL_MODE, FIREWALL_MODES } from '../src/agent/command.js';
import { realClock } from '../src/common/clock.js';
import { realExec } from '../src/common/exec.js';
import { type LabFirewall, type LabPlan, planLab, planNamespaces } from '../src/lab/plan.js';
import type { LabHyperVmRecord } from '../src/lab/state.js';
import { sweepNamespaces } from '../src/lab/topology.js';
import { downLab, World } from '../src/lab/world.js';
import type { Targets } from '../testkit/bench-targets.js';
import { iperfTcp } from '../testkit/iperf.js';
import { buildNativeTwin } from '../testkit/native-twin.js';
import { hopCounts, hopDetail, hopsOf, linkCounters, sameHops, type Hops } from '../testkit/path-hops.js';
import { median } from '../testkit/stats.js';

const REPS = Number(process.env.BENCH_REPS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const TARGET = 0.85;
const exec = realExec;
const clock = realClock;
// BENCH_NS_PREFIX: a caller sharing the machine picks its own namespace prefix (default hnP-).
const base = process.env.BENCH_NS_PREFIX ?? 'hnP-';
const PREFIX: Record<LabFirewall, string> = { nftables: `${base}ht-`, 'tc-bpf': `${base}hb-` };
const twinPrefix = `${base}htn-`;
const fmt = (bps: number) => `${(bps / 1e9).toFixed(2)} Gbit/s`;

/** The modes to measure: HYPERVM_FIREWALL's one, or both. */
function firewallModes(): LabFirewall[] {
  const m = process.env.HYPERVM_FIREWALL;
  if (!m) return [...FIREWALL_MODES];
  if (!(FIREWALL_MODES as readonly string[]).includes(m))
    throw new Error(`HYPERVM_FIREWALL: one of ${FIREWALL_MODES.join(', ')} (unset: both)`);
  return [m as LabFirewall];
}

/**
 * Names a container's network namespace `name` (`ip netns attach`), so iperf3 runs in it with
 * `ip netns exec`; LXC's command socket lives in the node's namespace, hence lxc-info there.
 */
async function attachContainerNetns(hv: LabHyperVmRecord, name: string): Promise<string> {
  const info = ['netns', 'exec', hv.ns, 'lxc-info', '-n', `hv-${hv.id}`, '-P', hv.lxcDir, '-p', '-H'];
  const pid = (await exec('ip', info)).stdout.trim();
  if (!/^\d+$/.test(pid)) throw new Error(`container of ${hv.name} has no init PID: "${pid}"`);
  await exec('ip', ['netns', 'attach', name, pid]);
  return name;
}

/** One flow; on the first round also the hops it crossed, read from the links' counters in `namespaces`. */
async function flow(from: string, to: string, namespaces: string[] | null, hops: Hops[]): Promise<number> {
  const before = namespaces && (await linkCounters(exec, namespaces));
  const bps = await iperfTcp(exec, from, to, SECONDS);
  if (before) hops.push(hopsOf(before, await linkCounters(exec, namespaces!), (bps * SECONDS) / 8));
  return bps;
}

/** One firewall mode's lab world: its plan, and once up, the flow's ends and the namespaces on its path. */
interface ModeWorld {
  mode: LabFirewall;
  plan: LabPlan;
  from?: string;
  toIp?: string;
  onPath?: string[];
  rates: number[];
  hops: Hops[];
}

const planFor = (mode: LabFirewall): LabPlan =>
  planLab({
    prefix: PREFIX[mode],
    stateDir: `/tmp/${PREFIX[mode]}bench-hypervm`,
    apiPort: 0,
    vmsPerCloud: 0,
    hypervms: 2,
    encryption: 'none',
    firewall: mode,
  });

/** Brings up one mode's world and names its containers' namespaces. */
async function upWorld(w: ModeWorld): Promise<void> {
  const world = new World(w.plan, { exec, clock, onStep: (s, ms) => console.log(`  ✓ ${w.mode}: ${s} (${ms} ms)`) });
  await world.up();
  const [ha, hb] = w.plan.clouds.map((c) => world.state.hypervms!.find((h) => h.cloud === c.label)!);
  w.from = await attachContainerNetns(ha, `${w.plan.prefix}ct-a`);
  const to = await attachContainerNetns(hb, `${w.plan.prefix}ct-b`);
  w.toIp = hb.ip;
  w.onPath = [w.from, ha.ns, w.plan.internetNs, hb.ns, to];
}

const down = (plan: LabPlan) => downLab(plan.paths.stateDir, plan.prefix, { exec, clock });

/** Measures the container ↔ container ratio per firewall mode against one native twin; records the target. */
export async function measureThroughput(targets: Targets): Promise<void> {
  const worlds: ModeWorld[] = firewallModes().map((mode) => ({ mode, plan: planFor(mode), rates: [], hops: [] }));
  for (const w of worlds) await down(w.plan);
  await sweepNamespaces(exec, clock, twinPrefix);
  const servers: ChildProcess[] = [];
  try {
    const names = worlds.map((w) => `${w.plan.prefix} (${w.mode})`).join(', ');
    console.log(`throughput: lab worlds ${names} with a HyperVM per cloud, native twin ${twinPrefix}`);
    for (const w of worlds) await upWorld(w);
    const stateDir = worlds[0].plan.paths.stateDir;
    const twin = await buildNativeTwin(exec, { prefix: twinPrefix, stateDir, underlayMtu: 1500 });
    for (const n of [twin.toNs, ...worlds.map((w) => w.onPath!.at(-1)!)])
      servers.push(spawn('ip', ['netns', 'exec', n, 'iperf3', '-s', '-4'], { stdio: 'ignore' }));
    await clock.sleep(500);
    const native: number[] = [];
    const nativeHops: Hops[] = [];
    for (let i = 0; i < REPS; i++) {
      native.push(await flow(twin.fromNs, twin.toIp, i === 0 ? planNamespaces(twin.plan) : null, nativeHops));
      for (const w of worlds) w.rates.push(await flow(w.from!, w.toIp!, i === 0 ? w.onPath! : null, w.hops));
      const each = worlds.map((w) => `containers ${w.mode} ${fmt(w.rates[i])}`).join(', ');
      console.log(`  run ${i + 1}/${REPS}: native ${fmt(native[i])}, ${each}`);
    }
    console.log(`  hops native: ${hopCounts(nativeHops[0])}: ${hopDetail(nativeHops[0], twinPrefix)}`);
    for (const w of worlds) {
      console.log(`  hops ${w.mode}: ${hopCounts(w.hops[0])}: ${hopDetail(w.hops[0], w.plan.prefix, w.onPath)}`);
      if (!sameHops(nativeHops[0], w.hops[0]))
        throw new Error(`the native twin and the ${w.mode} containers do not cross the same hops`);
    }
    console.log(
      `one TCP flow (iperf3 -t ${SECONDS}, median of ${REPS}, interleaved), container in cloud-a → container in cloud-b:`,
    );
    console.log(`  native (routed twin, no overlay, no netfilter): ${fmt(median(native))}`);
    const judged = worlds.some((w) => w.mode === DEFAULT_FIREWALL_MODE) ? DEFAULT_FIREWALL_MODE : worlds[0].mode;
    for (const w of worlds) {
      const ratio = median(w.rates) / median(native);
      const verdict =
        w.mode === judged
          ? `target ≥ ${TARGET}: ${targets.check(`container ↔ container (${w.mode}) / native ${ratio.toFixed(2)} ≥ ${TARGET}`, ratio >= TARGET)}`
          : `not the default: ${ratio >= TARGET ? 'would meet' : 'would miss'} ${TARGET}`;
      console.log(
        `  containers (overlay, lab default security groups on both nodes, ${w.mode}): ${fmt(median(w.rates))}`,
      );
      // Beside the ratio of medians: the median of each round's own ratio (the load moves both flows of a round).
      const perRound = median(w.rates.map((r, i) => r / native[i])).toFixed(2);
      console.log(
        `  container ↔ container (${w.mode}) / native: ${ratio.toFixed(2)}, per-round median ${perRound} (${verdict})`,
      );
    }
  } finally {
    for (const s of servers) s.kill();
    for (const w of worlds) await down(w.plan);
    await sweepNamespaces(exec, clock, twinPrefix);
  }
}
