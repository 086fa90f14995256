/**
 * Fuzz: hostile requests from every kind of caller (admin, both tenants, no token, a bad token) at
 * every resource, the tags and bindings sub-resources, the watch and the meta routes. Checks the
 * invariants of invariants.ts after each one; as root, also that the model still compiles in the agent.
 * FUZZ_SEED replays a run; FUZZ_COLLECT=1 lists every distinct finding instead of stopping at the first.
 */
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { TestServer } from '../server/helpers.js';
import { AgentCheck } from './agent-check.js';
import { request } from './arbitraries.js';
import { checkProperty, fuzzSeed, startFuzzServer, Violations, type Who } from './harness.js';
import { statsLine, step } from './invariants.js';
import { seedWorld } from './world.js';

const FILE = 'api';

describe('fuzz: the API under hostile requests', () => {
  let s: TestServer;
  let agent: AgentCheck | undefined;
  const v = new Violations();
  const stats = new Map<string, number>();
  before(async () => {
    s = await startFuzzServer();
    await seedWorld(s);
    if (process.getuid?.() === 0) agent = await AgentCheck.open();
  });
  after(async () => {
    await agent?.close();
    await s?.stop();
  });

  it('no 5xx; rejections are NeutronErrors that change nothing; accepted objects compile', async () => {
    if (!agent) console.log('# not root: the agent compile check (nft -c, dnsmasq --test) is skipped');
    const seed = fuzzSeed(FILE);
    const who = fc.constantFrom<Who>('alice', 'alice', 'bob', 'bob', 'carol', 'admin', 'admin', 'nobody', 'stranger');
    await checkProperty(FILE, seed, request(who), (r) => step({ s, v, agent, stats }, r), {
      numRuns: 1500,
      timeLimitMs: 50_000,
    });
    console.log(`# ${FILE} answers: ${statsLine(stats)}`);
    if (v.seen.size) throw new Error(`fuzz findings (collect mode, seed ${seed}):\n${v.summary()}`);
  });
});
