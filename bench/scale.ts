/**
 * Scale simulator (`npm run bench:scale`): SCALE_AGENTS simulated agents (default 1,000) against
 * SCALE_SERVERS `hypernet server` processes (default 3) on a throwaway PostgreSQL, or one server on
 * SQLite with SCALE_BACKEND=sqlite (the comparison). No kernel: each agent is the real watch loop
 * into the real model cache plus the real registration with heartbeats (every SCALE_HEARTBEAT_MS,
 * default 3 s as the agent), given every server URL (rotated, so the streams spread), and the
 * agent's pure compile of its model (scale-compile.ts). The agents are spread over SCALE_WORKERS
 * worker threads (default: one per core; scale-fleet.ts), so the simulator is not one event loop. Writers then create ports at SCALE_RATE per
 * second (default 20; with moves and deletes in between, as a live site) and each create is timed from
 * its POST until every agent's cache applied it (arrival) and until every agent compiled a model with
 * it: convergence p50/p99. Where the time goes: the compile's own time per agent, HTTP requests per
 * create by route (from the servers' /metrics), the servers' and the simulator's CPU. A burst of
 * SCALE_BURST creates from 8 writers gives write throughput. Prints the watch fan-out bandwidth and
 * each server's peak RSS; exits 1 when the compiled p99 > 1 s or a server passed 1 GB.
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../src/client/api.js';
import { runBench, Targets } from '../testkit/bench-targets.js';
import { hasPostgres, startTestPostgres, type TestPostgres } from '../testkit/postgres.js';
import { type ServerProcess, startServerProcess, stopServerProcess } from '../testkit/server-process.js';
import { median, percentile } from '../testkit/stats.js';
import { processTicks, TICKS_PER_SECOND } from '../testkit/cpu.js';
import { promSeries } from '../testkit/prometheus-text.js';
import { TIMED_PREFIX, now } from './scale-agents.js';
import { pendingAt, WorkerFleet } from './scale-fleet.js';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const BACKEND = process.env.SCALE_BACKEND === 'sqlite' ? 'sqlite' : 'postgresql';
const SERVERS = BACKEND === 'sqlite' ? 1 : env('SCALE_SERVERS', 3);
const AGENTS = env('SCALE_AGENTS', 1_000);
const PRE_PORTS = env('SCALE_PORTS', 200);
const CREATES = env('SCALE_CREATES', 300);
const RATE = env('SCALE_RATE', 20);
const BURST = env('SCALE_BURST', 500);
const HEARTBEAT_MS = env('SCALE_HEARTBEAT_MS', 3_000);
const WORKERS = env('SCALE_WORKERS', availableParallelism());
const P99_TARGET_MS = 1_000;
const RSS_TARGET_MB = 1_024;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Peak resident memory (VmHWM) of a process, in MB. */
function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** Creates at `RATE`/s (a move and a delete every few creates), timing each create's convergence. */
async function pacedWrites(
  api: ApiClient,
  fleet: WorkerFleet,
  networkId: string,
): Promise<{ arrived: number[]; compiled: number[] }> {
  const ids: string[] = [];
  const t0 = now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < CREATES; i++) {
    const due = t0 + (i * 1000) / RATE;
    const wait = due - now();
    if (wait > 0) await sleep(wait);
    const name = `${TIMED_PREFIX}${i}`;
    fleet.pending.set(name, pendingAt(now()));
    inflight.push(
      api.create<{ id: string }>('ports', 'port', { network_id: networkId, name }).then(async (p) => {
        ids.push(p.id);
        if (i % 4 === 3) await api.update('ports', 'port', ids[i % ids.length], { 'binding:host_id': `sim-${i}` });
        if (i % 8 === 7) await api.delete('ports', ids.shift()!);
      }),
    );
  }
  await Promise.all(inflight);
  const deadline = now() + 30_000;
  const names = [...fleet.pending.keys()];
  while (names.some((n) => fleet.pending.get(n)!.compiledAt === undefined) && now() < deadline) await sleep(50);
  const since = (at: number | undefined, sentAt: number) => (at === undefined ? Number.POSITIVE_INFINITY : at - sentAt);
  const ps = names.map((n) => fleet.pending.get(n)!);
  return {
    arrived: ps.map((p) => since(p.arrivedAt, p.sentAt)),
    compiled: ps.map((p) => since(p.compiledAt, p.sentAt)),
  };
}

/** Requests answered so far by every server, by `METHOD route`. */
async function requestsByRoute(urls: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const url of urls) {
    for (const [k, v] of promSeries(await (await fetch(`${url}/metrics`)).text())) {
      if (!k.startsWith('hypernet_http_requests_total{')) continue;
      const route = `${/method="([^"]*)"/.exec(k)?.[1]} ${/route="([^"]*)"/.exec(k)?.[1]}`;
      out.set(route, (out.get(route) ?? 0) + v);
    }
  }
  return out;
}

/** The routes asked most between two counts, as `N.N x METHOD route` per create. */
function perCreate(before: Map<string, number>, after: Map<string, number>, creates: number): string {
  return [...after]
    .map(([route, n]) => [route, (n - (before.get(route) ?? 0)) / creates] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([route, n]) => `${n.toFixed(1)} x ${route}`)
    .join(', ');
}

/** `BURST` creates from 8 concurrent writers as fast as the servers take them: creates per second. */
async function burst(urls: string[], networkId: string): Promise<number> {
  const writers = 8;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      const api = new ApiClient({ url: urls.map((_, k) => urls[(w + k) % urls.length]).join(',') });
      while (next < BURST) {
        const i = next++;
        await api.create('ports', 'port', { network_id: networkId, name: `burst-${i}` });
      }
    }),
  );
  return BURST / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  if (BACKEND === 'postgresql' && !hasPostgres()) throw new Error('PostgreSQL is not installed (npm run setup)');
  let db: TestPostgres | undefined;
  let dir: string | undefined;
  const servers: ServerProcess[] = [];
  let fleet: WorkerFleet | undefined;
  const quiet = { ...process.env, HYPERNET_LOG_LEVEL: 'warn' };
  // Each step runs even when one before it failed: no server or cluster is left behind.
  const cleanup = async () => {
    await fleet?.stop().catch((e: unknown) => console.error('stopping the agents:', e));
    await Promise.allSettled(servers.map((s) => stopServerProcess(s)));
    db?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
  // Interrupted (Ctrl-C, timeout): the servers and the PostgreSQL cluster go too.
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.once(sig, () => {
      void cleanup().finally(() => process.exit(130));
    });
  try {
    if (BACKEND === 'postgresql') {
      db = await startTestPostgres();
      for (let i = 0; i < SERVERS; i++) servers.push(await startServerProcess(['--database', db.url], quiet));
    } else {
      dir = mkdtempSync(join(tmpdir(), 'hn-scale-'));
      servers.push(await startServerProcess(['--data-dir', join(dir, 'data')], quiet));
    }
    const urls = servers.map((s) => s.url);
    const admin = new ApiClient({ url: urls.join(',') });
    const net = await admin.create<{ id: string; project_id: string }>('networks', 'network', { name: 'scale' });
    // The default port quota (500) is below what the run creates.
    await admin.call('PUT', `/v2.0/quotas/${net.project_id}`, { quota: { port: -1 } });
    await admin.create('subnets', 'subnet', { network_id: net.id, cidr: '10.64.0.0/16', ip_version: 4 });
    for (let i = 0; i < PRE_PORTS; i += 25) {
      const n = Math.min(25, PRE_PORTS - i);
      const ports = Array.from({ length: n }, (_, k) => ({ network_id: net.id, name: `pre-${i + k}` }));
      await admin.call('POST', '/v2.0/ports', { ports }, { 'idempotency-key': `pre-${i}` });
    }

    fleet = new WorkerFleet(urls, HEARTBEAT_MS);
    const s0 = performance.now();
    await fleet.start(AGENTS, WORKERS);
    const startS = (performance.now() - s0) / 1000;
    const before = await fleet.stats();
    const simRss0 = peakRssMb(process.pid);
    const r0 = await requestsByRoute(urls);
    const ticks0 = servers.map((s) => processTicks(s.child.pid!));
    const cpu0 = process.cpuUsage();
    const w0 = performance.now();
    const { arrived, compiled } = await pacedWrites(admin, fleet, net.id);
    const pacedS = (performance.now() - w0) / 1000;
    const after = await fleet.stats();
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const fanout = (sum(after.map((a) => a.bytes)) - sum(before.map((b) => b.bytes))) / pacedS / 1e6;
    const serverCpu = servers.map((s, i) => (processTicks(s.child.pid!) - ticks0[i]) / TICKS_PER_SECOND / pacedS);
    const cpu1 = process.cpuUsage(cpu0);
    const simCpu = (cpu1.user + cpu1.system) / 1e6 / pacedS;
    const routes = perCreate(r0, await requestsByRoute(urls), CREATES);
    const compileMs = after.flatMap((a, i) => a.compileMs.slice(before[i].compileMs.length));
    const skipped = sum(after.map((a) => a.skipped)) - sum(before.map((b) => b.skipped));
    const heapMb = sum(after.map((a) => a.heapMb));
    const perSecond = await burst(urls, net.id);
    const rss = servers.map((s) => peakRssMb(s.child.pid!));

    const t = new Targets();
    const p99 = percentile(compiled, 99);
    const lost = compiled.filter((x) => !Number.isFinite(x)).length;
    console.log(
      `bench:scale ${BACKEND}, ${SERVERS} server(s), ${AGENTS} simulated agents on ${fleet.size} worker ` +
        `threads (heartbeat every ` +
        `${HEARTBEAT_MS} ms), ${PRE_PORTS} ports before`,
    );
    console.log(`  agents registered and synced in ${startS.toFixed(1)} s`);
    console.log(
      `  port create -> in all ${AGENTS} agents' caches (${CREATES} creates at ${RATE}/s): ` +
        `p50 ${median(arrived).toFixed(0)} ms, p99 ${percentile(arrived, 99).toFixed(0)} ms`,
    );
    console.log(
      `  convergence, port create -> compiled by all ${AGENTS} agents: ` +
        `p50 ${median(compiled).toFixed(0)} ms, p99 ${p99.toFixed(0)} ms` +
        `${lost ? `, ${lost} never compiled everywhere` : ''} (target p99 <= ${P99_TARGET_MS} ms: ` +
        `${t.check(`convergence p99 ${p99.toFixed(0)} ms > ${P99_TARGET_MS} ms`, p99 <= P99_TARGET_MS)})`,
    );
    console.log(
      `  agent compile: ${compileMs.length} compiles, p50 ${median(compileMs).toFixed(2)} ms, ` +
        `p99 ${percentile(compileMs, 99).toFixed(2)} ms each; ${skipped} skipped (inputs unchanged)`,
    );
    console.log(`  requests per create: ${routes}`);
    console.log(
      `  CPU during the paced writes (cores): servers ${serverCpu.map((c) => c.toFixed(2)).join(', ')}; ` +
        `simulator (all agents, ${fleet.size} worker threads) ${simCpu.toFixed(2)}`,
    );
    console.log(
      `  simulator memory: peak RSS ${peakRssMb(process.pid).toFixed(0)} MB (${simRss0.toFixed(0)} MB once synced), ` +
        `workers' heaps ${heapMb.toFixed(0)} MB = ${((heapMb * 1024) / AGENTS).toFixed(0)} KB per agent`,
    );
    console.log(`  write throughput: ${perSecond.toFixed(0)} creates/s (${BURST} creates, 8 writers)`);
    console.log(`  watch fan-out: ${fanout.toFixed(2)} MB/s to ${AGENTS} agents during the paced writes`);
    const worst = Math.max(...rss);
    console.log(
      `  server peak RSS: ${rss.map((m) => `${m.toFixed(0)} MB`).join(', ')} (target <= ${RSS_TARGET_MB} MB: ` +
        `${t.check(`server RSS ${worst.toFixed(0)} MB > ${RSS_TARGET_MB} MB`, worst <= RSS_TARGET_MB)})`,
    );
    t.finish('bench:scale');
  } finally {
    await cleanup();
  }
}

runBench(main);
