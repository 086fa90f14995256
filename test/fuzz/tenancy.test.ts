/**
 * Fuzz: tenant isolation. Tenants (pa, pb) aim list/show/update/delete, tags and bindings at each
 * other's objects and name each other's ids in bodies; no answer may show the other's private ids and
 * no request may change, create or remove an object of another project (plus every invariant of
 * invariants.ts). FUZZ_SEED replays a run; FUZZ_COLLECT=1 lists every distinct finding.
 */
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { TestServer } from '../server/helpers.js';
import { atOthers, request } from './arbitraries.js';
import { checkProperty, fuzzSeed, startFuzzServer, Violations, type Who } from './harness.js';
import { statsLine, step } from './invariants.js';
import { seedWorld } from './world.js';

const FILE = 'tenancy';

describe('fuzz: no tenant sees or changes another tenant’s objects', () => {
  let s: TestServer;
  const v = new Violations();
  const stats = new Map<string, number>();
  before(async () => {
    s = await startFuzzServer();
    await seedWorld(s);
  });
  after(async () => {
    await s?.stop();
  });

  it('cross-tenant list/show/update/delete are 404/403 and lists never hold the other’s objects', async () => {
    const seed = fuzzSeed(FILE);
    const arb = request(fc.constantFrom<Who>('alice', 'bob')).map(atOthers);
    await checkProperty(FILE, seed, arb, (r) => step({ s, v, stats }, r), { numRuns: 1000, timeLimitMs: 35_000 });
    console.log(`# ${FILE} answers: ${statsLine(stats)}`);
    if (v.seen.size) throw new Error(`fuzz findings (collect mode, seed ${seed}):\n${v.summary()}`);
  });
});
