/**
 * How long one bulk create holds the store's write lock (`npm run bench:bulk-lock`). Runs the real
 * app on a real SQLite file, as admin with unlimited quotas, and times every write transaction
 * through the store's `onWriteHeld` hook. For each bulk size (BENCH_BULK_SIZES, default 10, 25, 50,
 * 100; BENCH_ROUNDS rounds, default 3) it creates networks, ports (one automatic IPv4 address each),
 * ports with the most fixed IPs and address pairs a port may have, and security group rules, and
 * prints the longest hold. `max_bulk_items` is picked so the heaviest kind stays under ~50 ms: the
 * target is that at the default bound no kind holds the lock longer than 50 ms (a miss exits 1).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../src/client/api.js';
import { realClock } from '../src/common/clock.js';
import { silentLogger } from '../src/common/log.js';
import type { Network, SecurityGroup, Subnet } from '../src/model/types.js';
import { buildApp } from '../src/server/app.js';
import { DEFAULT_MAX_BULK_ITEMS, defaultConfig, QUOTA_RESOURCES, type QuotaLimits } from '../src/server/config.js';
import { SqliteStore } from '../src/server/store/sqlite.js';
import { runBench, Targets } from '../testkit/bench-targets.js';

const SIZES = process.env.BENCH_BULK_SIZES
  ? process.env.BENCH_BULK_SIZES.split(',').map(Number)
  : [...new Set([10, DEFAULT_MAX_BULK_ITEMS, 50, 100])].sort((a, b) => a - b);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** The longest a bulk of `max_bulk_items` objects may keep every other writer waiting. */
const TARGET_MS = 50;

/** One kind of bulk: its label, API path, and the body of its i-th object. */
type Kind = [label: string, path: string, make: (i: number) => Record<string, unknown>];

/** The longest hold of one (bulk size, kind) over `ROUNDS` rounds, and the body size of a bulk. */
interface Hold {
  size: number;
  label: string;
  worstMs: number;
  bytes: number;
}

/** The kinds measured, on one network with five /16 subnets. */
async function makeKinds(c: ApiClient): Promise<Kind[]> {
  const net = await c.create<Network>('networks', 'network', { name: 'bench' });
  const subnets: Subnet[] = [];
  for (let i = 0; i < 5; i++) {
    subnets.push(await c.create<Subnet>('subnets', 'subnet', { network_id: net.id, cidr: `10.${i}.0.0/16` }));
  }
  let nextPort = 1000;
  return [
    ['networks', 'networks', () => ({})],
    ['ports', 'ports', () => ({ network_id: net.id })],
    [
      'ports (5 fixed IPs, 10 pairs)',
      'ports',
      (i) => ({
        network_id: net.id,
        fixed_ips: subnets.map((s) => ({ subnet_id: s.id })),
        allowed_address_pairs: Array.from({ length: 10 }, (_, k) => ({ ip_address: `192.0.2.${(i + k) % 250}` })),
      }),
    ],
    [
      'security-group-rules',
      'security-group-rules',
      () => {
        nextPort += 1;
        const port = nextPort % 65000;
        return { direction: 'ingress', protocol: 'tcp', port_range_min: port, port_range_max: port };
      },
    ],
  ];
}

/** Every (size, kind): `ROUNDS` bulk POSTs, the longest write-lock hold seen during them. */
async function measureHolds(c: ApiClient, held: number[]): Promise<Hold[]> {
  const kinds = await makeKinds(c);
  const out: Hold[] = [];
  for (const size of SIZES) {
    for (const [label, path, make] of kinds) {
      const plural = path.replace(/-/g, '_');
      let worstMs = 0;
      let bytes = 0;
      for (let r = 0; r < ROUNDS; r++) {
        held.length = 0;
        // Each round adds its rules to a fresh group: a rule's cost grows with the rules already in its group.
        const sg =
          path === 'security-group-rules'
            ? await c.create<SecurityGroup>('security-groups', 'security_group', { name: `bench-${size}-${r}` })
            : undefined;
        const items = Array.from({ length: size }, (_, i) => ({
          ...make(i),
          ...(sg ? { security_group_id: sg.id } : {}),
        }));
        bytes = JSON.stringify({ [plural]: items }).length;
        await c.call('POST', `/v2.0/${path}`, { [plural]: items });
        worstMs = Math.max(worstMs, ...held);
      }
      out.push({ size, label, worstMs, bytes });
    }
  }
  return out;
}

/** The table of holds, then the target line; records the target. */
function printSummary(holds: Hold[], targets: Targets): void {
  console.log('bulk size  kind                 longest write-lock hold (of %d rounds), body size', ROUNDS);
  for (const h of holds) {
    console.log(
      `${String(h.size).padStart(5)}  ${h.label.padEnd(30)} ${h.worstMs.toFixed(1).padStart(7)} ms ${h.bytes} B`,
    );
  }
  console.log(`max_bulk_items default: ${DEFAULT_MAX_BULK_ITEMS}`);
  const atBound = holds.filter((h) => h.size === DEFAULT_MAX_BULK_ITEMS);
  if (!atBound.length) {
    console.log(`target not checked: BENCH_BULK_SIZES leaves out the default bound ${DEFAULT_MAX_BULK_ITEMS}`);
    return;
  }
  const worst = atBound.reduce((w, h) => (h.worstMs > w.worstMs ? h : w));
  const ok = targets.check(
    `longest hold at ${DEFAULT_MAX_BULK_ITEMS} items ${worst.worstMs.toFixed(1)} ms (${worst.label}) > ${TARGET_MS} ms`,
    worst.worstMs <= TARGET_MS,
  );
  console.log(
    `longest hold at the default bound (${DEFAULT_MAX_BULK_ITEMS} items): ${worst.worstMs.toFixed(1)} ms ` +
      `(${worst.label}; target ≤ ${TARGET_MS} ms: ${ok})`,
  );
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hn-bench-bulk-'));
  const held: number[] = [];
  const store = new SqliteStore({ dataDir: join(dir, 'data'), onWriteHeld: (ms) => held.push(ms) });
  const config = {
    ...defaultConfig(),
    maxBulkItems: Math.max(...SIZES),
    // Larger than the default so sizes above the bound can be measured too.
    maxRequestBodySize: 4 * 1024 * 1024,
    quotaDefaults: Object.fromEntries(QUOTA_RESOURCES.map((r) => [r, -1])) as QuotaLimits,
  };
  const auth = { mode: 'noauth' as const, defaultProjectId: 'admin' };
  const app = await buildApp({ store, clock: realClock, logger: silentLogger(), config, auth });
  const targets = new Targets();
  try {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address() as { port: number };
    const holds = await measureHolds(new ApiClient({ url: `http://127.0.0.1:${addr.port}` }), held);
    printSummary(holds, targets);
  } finally {
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  targets.finish('bench:bulk-lock');
}

runBench(main);
