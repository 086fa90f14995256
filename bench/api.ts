/**
 * API benchmark: starts the server as a child process (real HTTP, temp data dir, SQLite file),
 * creates 10,000 ports one after another on one /16 subnet, lists them all, and prints ports/s,
 * p50/p99 create latency, list time and the server's peak RSS (VmHWM) against the targets.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../src/client/api.js';
import { runBench } from '../testkit/bench-targets.js';
import { percentile } from '../testkit/stats.js';

const PORTS = Number(process.env.BENCH_PORTS ?? 10_000);
const here = dirname(fileURLToPath(import.meta.url));
const serverMain = join(here, '..', 'src', 'server-main.js');

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

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hn-bench-'));
  // The benchmark's single project makes far more ports than the default quota of 500.
  const configFile = join(dir, 'server.yaml');
  writeFileSync(configFile, 'quota_port: -1\n');
  const args = [serverMain, '--port', '0', '--data-dir', join(dir, 'data'), '--config', configFile];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, HYPERNET_LOG_LEVEL: 'warn' },
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
    });
    const port = Number(new URL(url).port);
    const api = new ApiClient({ url });
    const net = await api.create<{ id: string }>('networks', 'network', { name: 'bench' });
    await api.create('subnets', 'subnet', { network_id: net.id, cidr: '10.0.0.0/16', ip_version: 4 });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const lat: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < PORTS; i++) {
      const s = performance.now();
      const r = await request(agent, port, 'POST', '/v2.0/ports', { port: { network_id: net.id, name: `p${i}` } });
      lat.push(performance.now() - s);
      if (r.status !== 201) throw new Error(`port ${i}: HTTP ${r.status} ${r.text}`);
    }
    const total = (performance.now() - t0) / 1000;
    const ls = performance.now();
    const list = await request(agent, port, 'GET', '/v2.0/ports');
    const listMs = performance.now() - ls;
    const count = (JSON.parse(list.text) as { ports: unknown[] }).ports.length;
    if (count !== PORTS) throw new Error(`listed ${count} ports, expected ${PORTS}`);
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    const rssMb = hwm ? Number(hwm[1]) / 1024 : NaN;
    agent.destroy();
    lat.sort((a, b) => a - b);
    const rate = PORTS / total;
    const p50 = percentile(lat, 50);
    const p99 = percentile(lat, 99);
    console.log(`created ${PORTS} ports in ${total.toFixed(2)} s: ${rate.toFixed(0)} ports/s`);
    const slow = lat.filter((l) => l > 50);
    console.log(
      `create latency p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${lat[lat.length - 1].toFixed(1)} ms (${slow.length} over 50 ms, ${(slow.reduce((a, b) => a + b, 0) / 1000).toFixed(1)} s in them)`,
    );
    console.log(`list of ${count} ports: ${listMs.toFixed(0)} ms (${(list.text.length / 1e6).toFixed(1)} MB)`);
    console.log(`server peak RSS (VmHWM): ${rssMb.toFixed(0)} MB`);
    const rows: [string, string, string, boolean][] = [
      ['creates/s', rate.toFixed(0), '>= 1000', rate >= 1000],
      ['p99 create', `${p99.toFixed(2)} ms`, '<= 20 ms', p99 <= 20],
      ['list all', `${listMs.toFixed(0)} ms`, '<= 1000 ms', listMs <= 1000],
      ['server RSS', `${rssMb.toFixed(0)} MB`, '<= 250 MB', rssMb <= 250],
    ];
    console.log('\nsummary');
    console.log('metric        value        target       ok');
    for (const [m, v, t, ok] of rows) console.log(`${m.padEnd(14)}${v.padEnd(13)}${t.padEnd(13)}${ok ? 'yes' : 'NO'}`);
    const missed = rows.filter((r) => !r[3]);
    if (missed.length) {
      console.error(`bench:api: target(s) missed: ${missed.map(([m, v, t]) => `${m} ${v} (target ${t})`).join('; ')}`);
      process.exitCode = 1;
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench(main);
