/**
 * The custom-route controller of one cloud: level-triggered glue of compile, diff and the driver.
 * A pass reads the store (ports, agents, subnets), compiles against its view of EC2, rebinds the
 * ports of a dead hyperswitch (compare-and-set), and applies the diff. Passes run a short debounce
 * after a commit, on a tick (agent liveness changes without a commit), and never overlap. The view
 * is EC2's answer to three Describe calls, kept up to date with what the driver did, and read again
 * every `resyncMs` and after any failure; so a restarted server starts from what EC2 holds. A failed
 * pass is logged and retried with backoff; nothing here throws into the server.
 */
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';
import { SerialRuns } from '../../common/serial-runs.js';
import type { CrView, CustomRouteCloud } from '../../model/custom-route-cloud.js';
import { customRouteOf } from '../../model/custom-route.js';
import type { Agent } from '../../model/types.js';
import type { ServerConfig } from '../config.js';
import type { Ctx } from '../resource.js';
import { isAlive } from '../resources/agents.js';
import type { Store } from '../store/store.js';
import { agentEni, compile } from './compile.js';
import { applyOps, diff } from './diff.js';
import { applyCrOps } from './driver.js';
import { rebindPorts } from './rebind.js';
import type { CrDesired } from './types.js';

export interface CrMetrics {
  /** A failover done: seconds from the dead agent's last heartbeat to its routes replaced. */
  failover(cloud: string, seconds: number): void;
}

export interface CrControllerOptions {
  cloud: string;
  api: CustomRouteCloud;
  groupNames: { vm: string; hs: string };
  store: Store;
  config: ServerConfig;
  clock: Clock;
  log: Logger;
  metrics?: CrMetrics;
  /** Full re-read of EC2 (default 60 s). */
  resyncMs?: number;
  /** After a commit (default 200 ms). */
  debounceMs?: number;
  /** Liveness tick (default: a quarter of agent_down_time, 250 ms to 5 s). */
  tickMs?: number;
}

const MAX_BACKOFF_MS = 30_000;

export class CustomRouteController {
  private view: CrView | undefined;
  private viewAt = 0;
  /** Hyper CIDRs owned earlier: a network deleted since still has its routes swept. */
  private owned = new Set<string>();
  /** ENIs EC2 did not know at the last look: asked again at the next full read, not every pass. */
  private absent = new Set<string>();
  private readonly runs = new SerialRuns(
    () => this.run(),
    () => !this.stopped && this.o.clock.now() >= this.retryAt,
  );
  private stopped = false;
  private failures = 0;
  private retryAt = 0;
  private debounce: NodeJS.Timeout | undefined;
  private tick: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  /** What compile skipped and found exposed last, each logged when it changes (not every pass). */
  private readonly reported = new Map<string, string>();
  /** Passes completed without error (tests wait on it). */
  passes = 0;

  constructor(private readonly o: CrControllerOptions) {}

  start(): void {
    this.unsubscribe = this.o.store.onCommit(() => this.soon());
    const tickMs = this.o.tickMs ?? Math.min(5_000, Math.max(250, (this.o.config.agentDownTime * 1000) / 4));
    this.tick = setInterval(() => this.kick(), tickMs);
    this.tick.unref();
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    clearInterval(this.tick);
    clearTimeout(this.debounce);
    await this.runs.idle();
  }

  /** A pass after the debounce (commits come in bursts). */
  private soon(): void {
    if (this.debounce || this.stopped) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      this.kick();
    }, this.o.debounceMs ?? 200);
    this.debounce.unref();
  }

  /** A pass now, or once more after the one under way; none while backing off after a failure. */
  kick(): void {
    if (!this.stopped && this.o.clock.now() >= this.retryAt) this.runs.kick();
  }

  /** One pass; a failure is logged, and the next try waits (0.5 s doubling to 30 s). */
  private async run(): Promise<void> {
    try {
      await this.pass();
      this.failures = 0;
      this.retryAt = 0;
      this.passes++;
    } catch (e) {
      this.failures++;
      const wait = Math.min(MAX_BACKOFF_MS, 500 * 2 ** (this.failures - 1));
      this.retryAt = this.o.clock.now() + wait;
      // What EC2 holds after a failure is unknown: read it again.
      this.view = undefined;
      this.o.log.warn({ cloud: this.o.cloud, err: (e as Error).message, retry_ms: wait }, 'custom-route pass failed');
      setTimeout(() => this.kick(), wait).unref();
    }
  }

  private ctx(): Ctx {
    return { caller: { isAdmin: true, projectId: '' }, config: this.o.config, nowMs: this.o.clock.now() };
  }

  private async pass(): Promise<void> {
    const { store, api, clock, log, cloud } = this.o;
    const ctx = this.ctx();
    const { ports, agents, subnets } = await store.read(async (tx) => ({
      ports: await tx.list('port'),
      agents: (await tx.list('agent')).map((a): Agent => ({ ...a, alive: isAlive(ctx, a) })),
      subnets: await tx.list('subnet'),
    }));
    const eniIds = new Set<string>();
    for (const a of agents) if (a.configurations.cloud === cloud && agentEni(a)) eniIds.add(agentEni(a)!);
    for (const p of ports) {
      try {
        const cr = customRouteOf(p['binding:profile']);
        if (cr) eniIds.add(cr.interface);
      } catch {
        // compile reports it
      }
    }
    const groups = [this.o.groupNames.vm, this.o.groupNames.hs];
    if (!this.view || clock.now() - this.viewAt >= (this.o.resyncMs ?? 60_000)) {
      this.view = await api.describe([...eniIds], groups);
      this.viewAt = clock.now();
      this.absent = new Set([...eniIds].filter((id) => !this.view!.enis[id]));
    } else {
      const missing = [...eniIds].filter((id) => !this.view!.enis[id] && !this.absent.has(id));
      if (missing.length) {
        for (const e of await api.describeEnis(missing)) this.view.enis[e.id] = e;
        for (const id of missing) if (!this.view.enis[id]) this.absent.add(id);
      }
    }

    for (let round = 0; round < 3; round++) {
      const want = compile({ cloud, ports, agents, subnets, view: this.view, groupNames: this.o.groupNames });
      this.report('skipped', want.skipped, 'custom-route: ports not served');
      this.report('exposed', want.exposed, 'custom-route: in-addition ports reachable past the hyperswitch');
      for (const c of want.owned) this.owned.add(c);
      want.owned = [...this.owned];
      if (round === 0) await this.failover(want, agents);
      const ops = diff(want, this.view);
      if (!ops.length) return;
      const r = await applyCrOps(api, ops);
      this.view = applyOps(this.view, r.done, r.groupIds);
      for (const o of r.done)
        log.info({ cloud, ...o, ...('rules' in o ? { rules: o.rules.length } : {}) }, 'custom-route: EC2 updated');
      if (r.error) throw r.error;
      // Another round only when groups were made (their ids are needed by later steps).
      if (!r.done.some((o) => o.op === 'createGroup')) return;
    }
  }

  /** Rebinds the ports of dead hyperswitches (the routes follow in this pass's diff), and logs it. */
  private async failover(want: CrDesired, agents: readonly Agent[]): Promise<void> {
    if (!want.rebinds.length) return;
    const { store, api, clock, log, cloud } = this.o;
    const t0 = clock.now();
    const moved = new Set(await rebindPorts(store, this.ctx(), want.rebinds));
    const tRebind = clock.now();
    // The routes now, before the rest of the diff: traffic is what waits.
    const routeOps = diff(want, this.view!).filter((o) => o.op === 'setRoute' && o.was);
    const r = await applyCrOps(api, routeOps);
    this.view = applyOps(this.view!, r.done, r.groupIds);
    if (r.error) throw r.error;
    const tRoutes = clock.now();
    const pairs = new Map<string, { from: string; to: string; ports: string[] }>();
    for (const rb of want.rebinds) {
      const k = `${rb.from}>${rb.to}`;
      const e = pairs.get(k) ?? { from: rb.from, to: rb.to, ports: [] };
      if (moved.has(rb.port)) e.ports.push(rb.port);
      pairs.set(k, e);
    }
    for (const p of pairs.values()) {
      const dead = agents.find((a) => a.host === p.from);
      const lastHeard = dead ? Date.parse(dead.heartbeat_timestamp) : t0;
      const seconds = (tRoutes - lastHeard) / 1000;
      log.warn(
        {
          cloud,
          from: p.from,
          to: p.to,
          ports: p.ports.length,
          rebound_here: p.ports.length > 0,
          routes_replaced: r.replaced,
          silent_s: (t0 - lastHeard) / 1000,
          rebind_ms: tRebind - t0,
          routes_ms: tRoutes - tRebind,
          total_s: seconds,
        },
        'custom-route failover',
      );
      if (p.ports.length) this.o.metrics?.failover(cloud, seconds);
    }
  }

  /** Logs `items` under `msg` when they differ from the last pass's (a standing condition is said once). */
  private report(kind: string, items: readonly { port: string; reason: string }[], msg: string): void {
    const now = JSON.stringify(items);
    if (now !== (this.reported.get(kind) ?? '[]') && items.length)
      this.o.log.warn({ cloud: this.o.cloud, [kind]: items }, msg);
    this.reported.set(kind, now);
  }
}
