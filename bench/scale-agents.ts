/**
 * The simulated agents one worker thread of bench:scale owns: for each, the real watch loop into its
 * own model cache, the real registration with heartbeats, and the agent's pure compile
 * (scale-compile.ts). The worker's agents share one line decoder (scale-lines.ts). Timed creates (ports
 * named `paced-…`) are counted here: once every agent of this worker has applied a create (arrival),
 * and once every one compiled a model with it, the worker reports that moment, so the main thread gets
 * one report per worker per create, not one per agent.
 */
import { ApiClient } from '../src/client/api.js';
import { realClock } from '../src/common/clock.js';
import { silentLogger } from '../src/common/log.js';
import { ModelCache } from '../src/model/model-cache.js';
import { Registration } from '../src/agent/loop/registration.js';
import { WatchLoop } from '../src/agent/loop/watch-loop.js';
import { SimCompile } from './scale-compile.js';
import { SharedLines } from './scale-lines.js';

/** Names of the creates the simulator times. */
export const TIMED_PREFIX = 'paced-';

/** What a worker reports: a timed create reached all its agents' caches, or all their compiles. */
export type Reached = { stage: 'arrived' | 'compiled'; name: string; at: number };

/** A wall-clock time in ms that means the same in every thread (each has its own performance.now()). */
export const now = () => performance.timeOrigin + performance.now();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Agent {
  watch: WatchLoop;
  registration: Registration;
  cache: ModelCache;
}

export class SimAgents {
  readonly lines = new SharedLines();
  /** Time of each compile that was not skipped (ms), and the count of skipped ones. */
  compileMs: number[] = [];
  skipped = 0;
  private readonly agents: Agent[] = [];
  /** Per timed create: how many of this worker's agents applied it, and how many compiled it. */
  private readonly counts = new Map<string, { seen: number; compiled: number }>();

  constructor(
    private readonly urls: string[],
    private readonly heartbeatMs: number,
    private readonly report: (r: Reached) => void,
  ) {}

  /**
   * Starts agents `from`..`to`-1, `batch` at a time, each batch once the previous ones have their
   * snapshot and are registered: the timed writes then measure a site in its steady state.
   */
  async start(from: number, to: number, batch: number): Promise<void> {
    for (let i = from; i < to; i += batch) {
      for (let k = i; k < Math.min(to, i + batch); k++) this.agents.push(this.agent(k));
      while (!this.agents.every((a) => a.cache.ready && a.registration.agentId)) await sleep(50);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.agents.map((a) => Promise.all([a.watch.stop(), a.registration.stop()])));
  }

  private agent(i: number): Agent {
    const rotated = this.urls.map((_, k) => this.urls[(i + k) % this.urls.length]);
    const api = new ApiClient({ url: rotated.join(','), decodeWatchLine: this.lines.decode });
    const node = { host: `sim-${i}`, underlayIp: `198.51.100.${1 + (i % 250)}`, underlayMtu: 1500 };
    // Timed creates this agent has applied but not compiled yet, in revision order.
    let uncompiled: { name: string; revision: number }[] = [];
    const cache = new ModelCache();
    const log = silentLogger();
    const compile = new SimCompile(node, cache, (revision, ms, skipped) => {
      if (skipped) this.skipped++;
      else this.compileMs.push(ms);
      if (!uncompiled.length || uncompiled[0].revision > revision) return;
      const done = uncompiled.filter((u) => u.revision <= revision);
      uncompiled = uncompiled.filter((u) => u.revision > revision);
      for (const u of done) this.count(u.name, 'compiled');
    });
    const watch = new WatchLoop({
      api,
      cache,
      clock: realClock,
      log,
      onChange: () => compile.changed(),
      onEvent: (m) => {
        if (m.kind !== 'port' || m.op !== 'create') return;
        const name = (m.object as { name?: string }).name ?? '';
        if (!name.startsWith(TIMED_PREFIX)) return;
        uncompiled.push({ name, revision: m.revision });
        this.count(name, 'arrived');
      },
    });
    const registration = new Registration({
      api,
      clock: realClock,
      log,
      node,
      cloud: `cloud-${i % 3}`,
      capabilities: ['vxlan'],
      intervalMs: this.heartbeatMs,
    });
    watch.start();
    registration.start();
    return { watch, registration, cache };
  }

  /** One more agent of this worker reached `stage` for `name`: reported when it was the last one. */
  private count(name: string, stage: Reached['stage']): void {
    const c = this.counts.get(name) ?? { seen: 0, compiled: 0 };
    this.counts.set(name, c);
    const n = stage === 'arrived' ? ++c.seen : ++c.compiled;
    if (n === this.agents.length) this.report({ stage, name, at: now() });
    if (c.compiled === this.agents.length) this.counts.delete(name);
  }
}
