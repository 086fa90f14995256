/**
 * Scale simulator (`npm run bench:scale`): SCALE_AGENTS simulated agents (default 1,000) against
 * SCALE_SERVERS `hypernet server` processes (default 3) on a throwaway PostgreSQL, or one server on
 * SQLite with SCALE_BACKEND=sqlite (the comparison). No kernel: each agent is the real watch loop
 * into the real model cache plus the real registration with heartbeats (every SCALE_HEARTBEAT_MS,
 * default 3 s as the agent), given every server URL (rotated, so the streams spread), and the
 * agent's pure compile of its model (scale-compile.ts). Writers then create ports at SCALE_RATE per
 * second (default 20; with moves and deletes in between, as a live site) and each create is timed from
 * its POST until every agent's cache applied it (arrival) and until every agent compiled a model with
 * it: convergence p50/p99. Where the time goes: the compile's own time per agent, HTTP requests per
 * create by route (from the servers' /metrics), the servers' and the simulator's CPU. A burst of
 * SCALE_BURST creates from 8 writers gives write throughput. Prints the watch fan-out bandwidth and
 * each server's peak RSS; exits 1 when the compiled p99 > 1 s or a server passed 1 GB.
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../src/client/api.js';
import { realClock } from '../src/common/clock.js';
import { silentLogger } from '../src/common/log.js';
import { ModelCache } from '../src/model/model-cache.js';
import type { WatchMessage } from '../src/model/watch.js';
import { Registration } from '../src/agent/loop/registration.js';
import { WatchLoop } from '../src/agent/loop/watch-loop.js';
import { runBench, Targets } from '../testkit/bench-targets.js';
import { hasPostgres, startTestPostgres, type TestPostgres } from '../testkit/postgres.js';
import { type ServerProcess, startServerProcess, stopServerProcess } from '../testkit/server-process.js';
import { median, percentile } from '../testkit/stats.js';
import { processTicks, TICKS_PER_SECOND } from '../testkit/cpu.js';
import { promSeries } from '../testkit/prometheus-text.js';
import { SimCompile } from './scale-compile.js';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const BACKEND = process.env.SCALE_BACKEND === 'sqlite' ? 'sqlite' : 'postgresql';
const SERVERS = BACKEND === 'sqlite' ? 1 : env('SCALE_SERVERS', 3);
const AGENTS = env('SCALE_AGENTS', 1_000);
const PRE_PORTS = env('SCALE_PORTS', 200);
const CREATES = env('SCALE_CREATES', 300);
const RATE = env('SCALE_RATE', 20);
const BURST = env('SCALE_BURST', 500);
const HEARTBEAT_MS = env('SCALE_HEARTBEAT_MS', 3_000);
const P99_TARGET_MS = 1_000;
const RSS_TARGET_MB = 1_024;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Per port name: when its POST left, how many agents have applied its create so far (and when the last
 * did), how many have compiled a model with it (and when the last did).
 */
interface Pending {
  sentAt: number;
  seen: number;
  doneAt?: number;
  compiled: number;
  compiledAt?: number;
}

class Fleet {
  readonly pending = new Map<string, Pending>();
  bytes = 0;
  /** Time of each compile that was not skipped (ms), and the count of skipped ones. */
  readonly compileMs: number[] = [];
  skipped = 0;
  private readonly agents: { watch: WatchLoop; registration: Registration; cache: ModelCache }[] = [];

  constructor(private readonly urls: string[]) {}

  /**
   * Starts `n` agents, `batch` at a time, each batch once the previous ones have their snapshot and
   * are registered: the timed writes then measure a site in its steady state, not its first start.
   */
  async start(n: number, batch = 50): Promise<void> {
    for (let i = 0; i < n; i += batch) {
      for (let k = i; k < Math.min(n, i + batch); k++) this.agents.push(this.agent(k));
      while (!this.agents.every((a) => a.cache.ready && a.registration.agentId)) await sleep(50);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.agents.map((a) => Promise.all([a.watch.stop(), a.registration.stop()])));
  }

  private agent(i: number) {
    const rotated = this.urls.map((_, k) => this.urls[(i + k) % this.urls.length]);
    const api = new ApiClient({ url: rotated.join(',') });
    const node = { host: `sim-${i}`, underlayIp: `198.51.100.${1 + (i % 250)}`, underlayMtu: 1500 };
    // Timed creates this agent has applied but not compiled yet, in revision order.
    let uncompiled: { name: string; revision: number }[] = [];
    // Counts what the stream carries (its lines, as sent) and marks creates of timed ports.
    const counted: Pick<ApiClient, 'watch'> = {
      watch: (since, onMessage, signal) =>
        api.watch(
          since,
          (m: WatchMessage) => {
            this.bytes += JSON.stringify(m).length + 1;
            onMessage(m);
            if (m.type === 'event' && m.kind === 'port' && m.op === 'create') {
              const name = (m.object as { name?: string }).name ?? '';
              if (this.arrived(name)) uncompiled.push({ name, revision: m.revision });
            }
          },
          signal,
        ),
    };
    const cache = new ModelCache();
    const log = silentLogger();
    const compile = new SimCompile(node, cache, (revision, ms, skipped) => {
      if (skipped) this.skipped++;
      else this.compileMs.push(ms);
      const done = uncompiled.filter((u) => u.revision <= revision);
      if (!done.length) return;
      uncompiled = uncompiled.filter((u) => u.revision > revision);
      for (const u of done) this.compiled(u.name);
    });
    const watch = new WatchLoop({ api: counted, cache, clock: realClock, log, onChange: () => compile.changed() });
    const registration = new Registration({
      api,
      clock: realClock,
      log,
      node,
      cloud: `cloud-${i % 3}`,
      capabilities: ['vxlan'],
      intervalMs: HEARTBEAT_MS,
    });
    watch.start();
    registration.start();
    return { watch, registration, cache };
  }

  /** A timed create reached one more agent's cache; false when `name` is not timed. */
  private arrived(name: string): boolean {
    const p = this.pending.get(name);
    if (!p) return false;
    p.seen++;
    if (p.seen === this.agents.length) p.doneAt = performance.now();
    return true;
  }

  private compiled(name: string): void {
    const p = this.pending.get(name)!;
    p.compiled++;
    if (p.compiled === this.agents.length) p.compiledAt = performance.now();
  }
}

/** Peak resident memory (VmHWM) of a process, in MB. */
function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** Creates at `RATE`/s (a move and a delete every few creates), timing each create's convergence. */
async function pacedWrites(
  api: ApiClient,
  fleet: Fleet,
  networkId: string,
): Promise<{ arrived: number[]; compiled: number[] }> {
  const ids: string[] = [];
  const t0 = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < CREATES; i++) {
    const due = t0 + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const name = `paced-${i}`;
    fleet.pending.set(name, { sentAt: performance.now(), seen: 0, compiled: 0 });
    inflight.push(
      api.create<{ id: string }>('ports', 'port', { network_id: networkId, name }).then(async (p) => {
        ids.push(p.id);
        if (i % 4 === 3) await api.update('ports', 'port', ids[i % ids.length], { 'binding:host_id': `sim-${i}` });
        if (i % 8 === 7) await api.delete('ports', ids.shift()!);
      }),
    );
  }
  await Promise.all(inflight);
  const deadline = performance.now() + 30_000;
  const names = [...fleet.pending.keys()];
  while (names.some((n) => fleet.pending.get(n)!.compiledAt === undefined) && performance.now() < deadline)
    await sleep(50);
  const since = (at: number | undefined, sentAt: number) => (at === undefined ? Number.POSITIVE_INFINITY : at - sentAt);
  const ps = names.map((n) => fleet.pending.get(n)!);
  return { arrived: ps.map((p) => since(p.doneAt, p.sentAt)), compiled: ps.map((p) => since(p.compiledAt, p.sentAt)) };
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
  let fleet: Fleet | undefined;
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

    fleet = new Fleet(urls);
    const s0 = performance.now();
    await fleet.start(AGENTS);
    const startS = (performance.now() - s0) / 1000;
    const b0 = fleet.bytes;
    const r0 = await requestsByRoute(urls);
    const ticks0 = servers.map((s) => processTicks(s.child.pid!));
    const cpu0 = process.cpuUsage();
    const compiles0 = fleet.compileMs.length;
    const skipped0 = fleet.skipped;
    const w0 = performance.now();
    const { arrived, compiled } = await pacedWrites(admin, fleet, net.id);
    const pacedS = (performance.now() - w0) / 1000;
    const fanout = (fleet.bytes - b0) / pacedS / 1e6;
    const serverCpu = servers.map((s, i) => (processTicks(s.child.pid!) - ticks0[i]) / TICKS_PER_SECOND / pacedS);
    const cpu1 = process.cpuUsage(cpu0);
    const simCpu = (cpu1.user + cpu1.system) / 1e6 / pacedS;
    const routes = perCreate(r0, await requestsByRoute(urls), CREATES);
    const compileMs = fleet.compileMs.slice(compiles0);
    const perSecond = await burst(urls, net.id);
    const rss = servers.map((s) => peakRssMb(s.child.pid!));

    const t = new Targets();
    const p99 = percentile(compiled, 99);
    const lost = compiled.filter((x) => !Number.isFinite(x)).length;
    console.log(
      `bench:scale ${BACKEND}, ${SERVERS} server(s), ${AGENTS} simulated agents (heartbeat every ` +
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
        `p99 ${percentile(compileMs, 99).toFixed(2)} ms each; ${fleet.skipped - skipped0} skipped (inputs unchanged)`,
    );
    console.log(`  requests per create: ${routes}`);
    console.log(
      `  CPU during the paced writes (cores): servers ${serverCpu.map((c) => c.toFixed(2)).join(', ')}; ` +
        `simulator (all agents, one process) ${simCpu.toFixed(2)}`,
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
