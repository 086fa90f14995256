/**
 * How long one bulk create holds the store's write lock. Runs the real app on a real SQLite file,
 * as admin with unlimited quotas, and times every write transaction through the store's
 * `onWriteHeld` hook. For each bulk size it creates networks, ports (one automatic IPv4 address
 * each), ports with the most fixed IPs and address pairs a port may have, and security group rules,
 * and prints the longest hold. `max_bulk_items` is picked so the heaviest kind stays under ~50 ms.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../src/client/api.js';
import { realClock } from '../src/common/clock.js';
import { silentLogger } from '../src/common/log.js';
import type { Network, SecurityGroup, Subnet } from '../src/model/types.js';
import { buildApp } from '../src/server/app.js';
import { DEFAULT_MAX_BULK_ITEMS, defaultConfig } from '../src/server/config.js';
import { SqliteStore } from '../src/server/store/sqlite.js';

const SIZES = process.env.BENCH_BULK_SIZES
  ? process.env.BENCH_BULK_SIZES.split(',').map(Number)
  : [...new Set([10, DEFAULT_MAX_BULK_ITEMS, 50, 100])].sort((a, b) => a - b);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hn-bench-bulk-'));
  let held: number[] = [];
  const store = new SqliteStore({ dataDir: join(dir, 'data'), onWriteHeld: (ms) => held.push(ms) });
  const config = {
    ...defaultConfig(),
    maxBulkItems: Math.max(...SIZES),
    // Larger than the default so sizes above the bound can be measured too.
    maxRequestBodySize: 4 * 1024 * 1024,
    quotaDefaults: { network: -1, subnet: -1, port: -1, security_group: -1, security_group_rule: -1 },
  };
  const auth = { mode: 'noauth' as const, defaultProjectId: 'admin' };
  const app = await buildApp({ store, clock: realClock, logger: silentLogger(), config, auth });
  try {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address() as { port: number };
    const c = new ApiClient({ url: `http://127.0.0.1:${addr.port}` });
    const net = await c.create<Network>('networks', 'network', { name: 'bench' });
    const subnets: Subnet[] = [];
    for (let i = 0; i < 5; i++) {
      subnets.push(await c.create<Subnet>('subnets', 'subnet', { network_id: net.id, cidr: `10.${i}.0.0/16` }));
    }
    // Each round adds its rules to a fresh group: a rule's cost grows with the rules already in its group.
    let sg = await c.create<SecurityGroup>('security-groups', 'security_group', { name: 'bench' });
    let nextPort = 1000;
    const kinds: [string, string, (i: number) => Record<string, unknown>][] = [
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
          return {
            security_group_id: sg.id,
            direction: 'ingress',
            protocol: 'tcp',
            port_range_min: port,
            port_range_max: port,
          };
        },
      ],
    ];
    const rows: string[] = [];
    for (const size of SIZES) {
      for (const [label, path, make] of kinds) {
        const plural = path.replace(/-/g, '_');
        let worst = 0;
        let bytes = 0;
        for (let r = 0; r < ROUNDS; r++) {
          held = [];
          if (path === 'security-group-rules')
            sg = await c.create<SecurityGroup>('security-groups', 'security_group', { name: `bench-${size}-${r}` });
          const items = Array.from({ length: size }, (_, i) => make(i));
          bytes = JSON.stringify({ [plural]: items }).length;
          await c.call('POST', `/v2.0/${path}`, { [plural]: items });
          worst = Math.max(worst, ...held);
        }
        rows.push(`${String(size).padStart(5)}  ${label.padEnd(30)} ${worst.toFixed(1).padStart(7)} ms ${bytes} B`);
      }
    }
    console.log('bulk size  kind                 longest write-lock hold (of %d rounds), body size', ROUNDS);
    for (const r of rows) console.log(r);
    console.log(`max_bulk_items default: ${DEFAULT_MAX_BULK_ITEMS}`);
  } finally {
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
