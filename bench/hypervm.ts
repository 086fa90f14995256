/**
 * HyperVM benchmark (`npm run bench:hypervm`, root), in the two-cloud world of
 * testkit/hypervm-world.ts: BENCH_REPS launches of the busybox image (about 1 MB), each timed from
 * the API call to the container answering a ping from the VM on the other cloud. They are kept until
 * the end, so each takes a fresh address (a reused one would be answered late: the VM still caches
 * the previous container's MAC for it).
 * Target: launch p50 ≤ 5 s. Then the container ↔ container throughput against the native twin
 * (hypervm-throughput.ts, target ≥ 0.85×). Not measured yet: migration downtime.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HyperVmWorld } from '../testkit/hypervm-world.js';
import { requireRoot, runBench, Targets } from '../testkit/bench-targets.js';
import { median, percentile } from '../testkit/stats.js';
import { msUntil } from '../testkit/wait.js';
import { measureThroughput } from './hypervm-throughput.js';

const REPS = Number(process.env.BENCH_REPS ?? 5);
const TARGET_MS = 5_000;
const prefix = `hnE-${process.pid}-`;

runBench(async () => {
  requireRoot('bench:hypervm');
  const w = new HyperVmWorld(
    prefix,
    join(tmpdir(), `hypernet-bench-${prefix.slice(0, -1)}`),
    new URL('../../artifacts/bench-hypervm/', import.meta.url).pathname,
  );
  const targets = new Targets();
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
  } finally {
    await w.down();
  }
  await measureThroughput(targets);
  targets.finish('bench:hypervm');
});
