/**
 * API benchmark (`npm run bench:api`): starts the server as a child process (real HTTP, temp data
 * dir, SQLite file), creates BENCH_PORTS (default 10,000) ports one after another on one /16 subnet,
 * lists them all, and prints ports/s, p50/p99 create latency, list time and the server's peak RSS
 * (VmHWM) against the targets (≥ 1,000 creates/s, p99 ≤ 20 ms, list ≤ 1 s, RSS ≤ 250 MB); a missed
 * target exits 1.
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { ApiClient } from '../src/client/api.js';
import { runBench, Targets } from '../testkit/bench-targets.js';
import { startBenchServer } from '../testkit/bench-server.js';
import { percentile } from '../testkit/stats.js';

const PORTS = Number(process.env.BENCH_PORTS ?? 10_000);

/** Sequential JSON requests over one keep-alive connection. */
function request(
  agent: http.Agent,
  port: number,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      { host: '127.0.0.1', port, method, path, agent, headers: payload ? { 'content-type': 'application/json' } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** `PORTS` creates one after another: each one's latency (ms) and the whole run's seconds. */
async function measureCreates(agent: http.Agent, port: number, networkId: string) {
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < PORTS; i++) {
    const s = performance.now();
    const r = await request(agent, port, 'POST', '/v2.0/ports', { port: { network_id: networkId, name: `p${i}` } });
    lat.push(performance.now() - s);
    if (r.status !== 201) throw new Error(`port ${i}: HTTP ${r.status} ${r.text}`);
  }
  return { lat, seconds: (performance.now() - t0) / 1000 };
}

/** One list of every port: its time (ms) and body size; fails unless it holds all `PORTS`. */
async function measureList(agent: http.Agent, port: number) {
  const t0 = performance.now();
  const list = await request(agent, port, 'GET', '/v2.0/ports');
  const ms = performance.now() - t0;
  const count = (JSON.parse(list.text) as { ports: unknown[] }).ports.length;
  if (count !== PORTS) throw new Error(`listed ${count} ports, expected ${PORTS}`);
  return { ms, count, bytes: list.text.length };
}

/** Peak resident memory (VmHWM) of process `pid` in MB, NaN when the kernel does not report it. */
function peakRssMb(pid: number): number {
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return hwm ? Number(hwm[1]) / 1024 : NaN;
}

type Creates = Awaited<ReturnType<typeof measureCreates>>;
type List = Awaited<ReturnType<typeof measureList>>;

/** The figures, then the summary table; records the targets. */
function printSummary(c: Creates, list: List, rssMb: number, targets: Targets): void {
  const rate = PORTS / c.seconds;
  const p50 = percentile(c.lat, 50);
  const p99 = percentile(c.lat, 99);
  const slow = c.lat.filter((l) => l > 50);
  console.log(`created ${PORTS} ports in ${c.seconds.toFixed(2)} s: ${rate.toFixed(0)} ports/s`);
  console.log(
    `create latency p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${Math.max(...c.lat).toFixed(1)} ms ` +
      `(${slow.length} over 50 ms, ${(slow.reduce((a, b) => a + b, 0) / 1000).toFixed(1)} s in them)`,
  );
  console.log(`list of ${list.count} ports: ${list.ms.toFixed(0)} ms (${(list.bytes / 1e6).toFixed(1)} MB)`);
  console.log(`server peak RSS (VmHWM): ${rssMb.toFixed(0)} MB`);
  const rows: [string, string, string, boolean][] = [
    ['creates/s', rate.toFixed(0), '>= 1000', rate >= 1000],
    ['p99 create', `${p99.toFixed(2)} ms`, '<= 20 ms', p99 <= 20],
    ['list all', `${list.ms.toFixed(0)} ms`, '<= 1000 ms', list.ms <= 1000],
    // NaN (no VmHWM) is a miss: the target could not be shown to hold.
    ['server RSS', `${rssMb.toFixed(0)} MB`, '<= 250 MB', rssMb <= 250],
  ];
  console.log('\nsummary');
  console.log('metric        value        target       ok');
  for (const [m, v, t, ok] of rows) {
    const word = targets.check(`${m} ${v} (target ${t})`, ok);
    console.log(`${m.padEnd(14)}${v.padEnd(13)}${t.padEnd(13)}${word}`);
  }
}

async function main(): Promise<void> {
  // The benchmark's single project makes far more ports than the default quota of 500.
  const server = await startBenchServer('quota_port: -1\n');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const targets = new Targets();
  try {
    const port = Number(new URL(server.url).port);
    const api = new ApiClient({ url: server.url });
    const net = await api.create<{ id: string }>('networks', 'network', { name: 'bench' });
    await api.create('subnets', 'subnet', { network_id: net.id, cidr: '10.0.0.0/16', ip_version: 4 });
    const creates = await measureCreates(agent, port, net.id);
    const list = await measureList(agent, port);
    const rssMb = peakRssMb(server.pid);
    printSummary(creates, list, rssMb, targets);
  } finally {
    agent.destroy();
    await server.stop();
  }
  targets.finish('bench:api');
}

runBench(main);
