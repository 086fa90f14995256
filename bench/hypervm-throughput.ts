/**
 * The throughput part of `bench:hypervm`: one TCP flow (iperf3) from a HyperVM's container in cloud-a
 * to one in cloud-b, on a lab world with one HyperVM per cloud (real server, agents, LXC; the lab's
 * default security groups on both nodes; encryption off, as the baseline encrypts nothing), against
 * the same flow routed natively over the same hops in the lab's native twin (container/VM → its
 * cloud's hyperswitch → the internet → the other hyperswitch → container/VM, no netfilter).
 * Rounds are interleaved (native, containers, native, …); the ratio of the medians must be ≥ 0.85.
 * iperf3 runs from the host in each container's network namespace (the busybox image has no iperf3):
 * the packets start and end where the container's own would, on the container's side of its veth.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { realClock } from '../src/common/clock.js';
import { realExec } from '../src/common/exec.js';
import { planLab } from '../src/lab/plan.js';
import type { LabHyperVmRecord } from '../src/lab/state.js';
import { sweepNamespaces } from '../src/lab/topology.js';
import { downLab, World } from '../src/lab/world.js';
import type { Targets } from '../testkit/bench-targets.js';
import { iperfTcp } from '../testkit/iperf.js';
import { buildNativeTwin } from '../testkit/native-twin.js';
import { hopCounts, hopDetail, hopsOf, linkCounters, sameHops, type Hops } from '../testkit/path-hops.js';
import { planNamespaces } from '../src/lab/plan.js';
import { median } from '../testkit/stats.js';

const REPS = Number(process.env.BENCH_REPS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const TARGET = 0.85;
const exec = realExec;
const clock = realClock;
const prefix = 'hnP-ht-';
const twinPrefix = 'hnP-htn-';
const fmt = (bps: number) => `${(bps / 1e9).toFixed(2)} Gbit/s`;

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

/** Measures the container ↔ container ratio on its own lab world and twin; records the target. */
export async function measureThroughput(targets: Targets): Promise<void> {
  const plan = planLab({
    prefix,
    stateDir: '/tmp/hnP-bench-hypervm',
    apiPort: 0,
    vmsPerCloud: 0,
    hypervms: 2,
    encryption: 'none',
  });
  const world = new World(plan, { exec, clock, onStep: (s, ms) => console.log(`  ✓ ${s} (${ms} ms)`) });
  await downLab(plan.paths.stateDir, prefix, { exec, clock });
  await sweepNamespaces(exec, clock, twinPrefix);
  const servers: ChildProcess[] = [];
  try {
    console.log(`throughput: lab world ${prefix} with a HyperVM per cloud, native twin ${twinPrefix}`);
    await world.up();
    const [ha, hb] = plan.clouds.map((c) => world.state.hypervms!.find((h) => h.cloud === c.label)!);
    const from = await attachContainerNetns(ha, `${prefix}ct-a`);
    const to = await attachContainerNetns(hb, `${prefix}ct-b`);
    const twin = await buildNativeTwin(exec, { prefix: twinPrefix, stateDir: plan.paths.stateDir, underlayMtu: 1500 });
    for (const n of [to, twin.toNs])
      servers.push(spawn('ip', ['netns', 'exec', n, 'iperf3', '-s', '-4'], { stdio: 'ignore' }));
    await clock.sleep(500);
    const native: number[] = [];
    const containers: number[] = [];
    const hops: Hops[] = [];
    const onPath = [from, ha.ns, plan.internetNs, hb.ns, to];
    for (let i = 0; i < REPS; i++) {
      native.push(await flow(twin.fromNs, twin.toIp, i === 0 ? planNamespaces(twin.plan) : null, hops));
      containers.push(await flow(from, hb.ip, i === 0 ? onPath : null, hops));
      console.log(`  run ${i + 1}/${REPS}: native ${fmt(native[i])}, container ↔ container ${fmt(containers[i])}`);
    }
    const [hn, hc] = hops as [Hops, Hops];
    console.log(`  hops native: ${hopCounts(hn)}: ${hopDetail(hn, twinPrefix)}`);
    console.log(`  hops containers: ${hopCounts(hc)}: ${hopDetail(hc, prefix, onPath)}`);
    if (!sameHops(hn, hc)) throw new Error('the native twin and the containers do not cross the same hops');
    const ratio = median(containers) / median(native);
    const ok = targets.check(`container ↔ container / native ${ratio.toFixed(2)} ≥ ${TARGET}`, ratio >= TARGET);
    console.log(
      `one TCP flow (iperf3 -t ${SECONDS}, median of ${REPS}, interleaved), container in cloud-a → container in cloud-b:`,
    );
    console.log(`  native (routed twin, no overlay, no netfilter): ${fmt(median(native))}`);
    console.log(`  containers (overlay, lab default security groups on both nodes): ${fmt(median(containers))}`);
    console.log(`  container ↔ container / native: ${ratio.toFixed(2)} (target ≥ ${TARGET}: ${ok})`);
  } finally {
    for (const s of servers) s.kill();
    await downLab(plan.paths.stateDir, prefix, { exec, clock });
    await sweepNamespaces(exec, clock, twinPrefix);
  }
}
