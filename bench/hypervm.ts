/**
 * HyperVM benchmark (`npm run bench:hypervm`, root), in the two-cloud world of
 * testkit/hypervm-world.ts: BENCH_REPS launches of the busybox image (about 1 MB), each timed from
 * the API call to the container answering a ping from the VM on the other cloud. They are kept until
 * the end, so each takes a fresh address (a reused one would be answered late: the VM still caches
 * the previous container's MAC for it).
 * Then BENCH_REPS migrations, each of a fresh HyperVM from cloud B to cloud A while the VM on cloud B
 * pings it every 50 ms: the downtime is the longest gap between two answers (the server's own figure,
 * container stopped → ACTIVE on the target, is printed beside it). Then the container ↔ container
 * throughput against the native twin (hypervm-throughput.ts).
 * Targets: launch p50 ≤ 5 s, migration downtime p50 ≤ 3 s, throughput ≥ 0.85×.
 * HYPERVM_PARTS (comma-separated, default `launch,throughput`): which parts run; `launch` is the launches
 * and the migrations. HYPERVM_FIREWALL: see hypervm-throughput.ts.
 */
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import type { HyperVm } from '../src/model/types.js';
import { join } from 'node:path';
import { HyperVmWorld } from '../testkit/hypervm-world.js';
import { requireRoot, runBench, Targets } from '../testkit/bench-targets.js';
import { median, percentile } from '../testkit/stats.js';
import { msUntil } from '../testkit/wait.js';
import { measureThroughput } from './hypervm-throughput.js';

const REPS = Number(process.env.BENCH_REPS ?? 5);
const TARGET_MS = 5_000;
const DOWNTIME_TARGET_MS = 3_000;
// BENCH_NS_PREFIX: a caller sharing the machine picks its own namespace prefix.
const prefix = `${process.env.BENCH_NS_PREFIX ?? 'hnE-'}${process.pid}-`;
const PARTS = new Set((process.env.HYPERVM_PARTS ?? 'launch,throughput').split(','));
for (const p of PARTS)
  if (p !== 'launch' && p !== 'throughput') throw new Error(`HYPERVM_PARTS: launch, throughput; got ${p}`);

runBench(async () => {
  requireRoot('bench:hypervm');
  const w = new HyperVmWorld(
    prefix,
    join(tmpdir(), `hypernet-bench-${prefix.slice(0, -1)}`),
    new URL('../../artifacts/bench-hypervm/', import.meta.url).pathname,
  );
  const targets = new Targets();
  if (PARTS.has('launch')) await launchesAndMigrations(w, targets);
  if (PARTS.has('throughput')) await measureThroughput(targets);
  targets.finish('bench:hypervm');
});

/** Launch times and migration downtimes, in the HyperVM world `w` (up and down here). */
async function launchesAndMigrations(w: HyperVmWorld, targets: Targets): Promise<void> {
  try {
    await w.up();
    const times: number[] = [];
    for (let i = 0; i < REPS; i++) {
      const t0 = Date.now();
      const hv = await w.launch();
      const ip = await w.hyperIp(hv);
      const ms = await msUntil(
        async () => (await w.inNs(w.ns.wb, ['ping', '-c', '1', '-W', '1', ip])).code === 0,
        30_000,
      );
      if (ms < 0) throw new Error(`launch ${i + 1}: the container never answered`);
      times.push(Date.now() - t0);
      console.log(`launch ${i + 1}/${REPS}: ${times.at(-1)} ms`);
    }
    const p50 = median(times);
    console.log(
      `launch (API call → container answers ping, ${REPS} runs): p50 ${p50} ms, p90 ${percentile(times, 90)} ms, ` +
        `target ≤ ${TARGET_MS} ms: ${targets.check(`launch p50 ${p50} ms ≤ ${TARGET_MS} ms`, p50 <= TARGET_MS)}`,
    );
    const downtimes: number[] = [];
    for (let i = 0; i < REPS; i++) {
      const { gap, server } = await migrateOnce(w);
      downtimes.push(gap);
      console.log(`migration ${i + 1}/${REPS}: ${gap} ms without answers (server: ${server} ms stopped → ACTIVE)`);
    }
    const d50 = median(downtimes);
    console.log(
      `migration downtime (longest gap in 50 ms pings, ${REPS} runs): p50 ${d50} ms, ` +
        `p90 ${percentile(downtimes, 90)} ms, target ≤ ${DOWNTIME_TARGET_MS} ms: ` +
        targets.check(`migration downtime p50 ${d50} ms ≤ ${DOWNTIME_TARGET_MS} ms`, d50 <= DOWNTIME_TARGET_MS),
    );
  } finally {
    await w.down();
  }
}

/**
 * One migration cloud B → cloud A of a fresh HyperVM, pinged from the VM on cloud B every 50 ms (a
 * bounded run: at most 60 s); the longest gap between two answers, and the server's downtime figure.
 */
async function migrateOnce(w: HyperVmWorld): Promise<{ gap: number; server: number }> {
  const hv = await w.launch(60_000, 'cloud-b');
  const ip = await w.hyperIp(hv);
  const up = async () => (await w.inNs(w.ns.wb, ['ping', '-c', '1', '-W', '1', ip])).code === 0;
  if ((await msUntil(up, 30_000)) < 0) throw new Error('the container never answered before the move');
  const ping = spawn('ip', ['netns', 'exec', w.ns.wb, 'ping', '-D', '-n', '-i', '0.05', '-W', '1', '-w', '60', ip]);
  const answers: number[] = [];
  let buf = '';
  ping.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    for (const l of lines) {
      const m = /^\[(\d+\.\d+)\].*bytes from/.exec(l);
      if (m) answers.push(Math.round(Number(m[1]) * 1000));
    }
  });
  try {
    await new Promise((r) => setTimeout(r, 500));
    await w.api.call('POST', `/v2.0/hypervms/${hv.id}/migrate`, { migrate: { cloud: 'cloud-a' } });
    const moved = await w.waitActive(hv);
    const before = answers.length;
    // Answers again, and a little longer, so the last gap is closed.
    if ((await msUntil(async () => answers.length > before + 5, 30_000)) < 0)
      throw new Error('the container never answered after the move');
    const gaps = answers.slice(1).map((t, k) => t - answers[k]);
    return { gap: Math.max(...gaps), server: (moved as HyperVm).downtime_ms ?? -1 };
  } finally {
    ping.kill('SIGINT');
    await w.api.delete('hypervms', hv.id);
  }
}
