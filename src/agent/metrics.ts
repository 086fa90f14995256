/**
 * The agent's Prometheus metrics (prom-client), fed by the reconcile loop's pass records: time per
 * sub-reconciler, apply errors, the ports bound to this node by status, when a pass last succeeded
 * and the watch revision it converged to, and the convergence time of port changes (from their arrival on
 * the watch stream to the end of the pass that applied them). Also whether a full pass has succeeded yet, which `/readyz`
 * (probes.ts) needs. One registry per agent, as on the server.
 */
import type client from 'prom-client';
import { Counter, Gauge, Histogram } from 'prom-client';
import { LATENCY_BUCKETS, processRegistry } from '../common/prometheus.js';
import type { ModelView } from '../model/model-cache.js';
import type { PortStatus } from '../model/types.js';
import type { PassRecord } from './loop/reconciler.js';

/** Every status, so a state with no port reads 0 rather than vanishing from the scrape. */
const PORT_STATUSES: readonly PortStatus[] = ['ACTIVE', 'DOWN', 'BUILD', 'ERROR'];

/** Port changes remembered while waiting for the pass that applies them. */
const MAX_PENDING = 10_000;

export class AgentMetrics {
  readonly registry: client.Registry = processRegistry('hypernet_agent_');
  /** A full pass has succeeded (the node was adopted and checked against the whole model once). */
  firstFullPassOk = false;
  private readonly registers = [this.registry];
  readonly passSeconds = new Histogram({
    name: 'hypernet_agent_reconcile_duration_seconds',
    help: 'Time of each sub-reconciler in a reconcile pass, by sub-reconciler and pass kind (full or not)',
    labelNames: ['reconciler', 'full'] as const,
    buckets: LATENCY_BUCKETS,
    registers: this.registers,
  });
  readonly applyErrors = new Counter({
    name: 'hypernet_agent_apply_errors_total',
    help: 'Sub-reconciler runs that failed (retried with backoff), by sub-reconciler',
    labelNames: ['reconciler'] as const,
    registers: this.registers,
  });
  readonly ports = new Gauge({
    name: 'hypernet_agent_ports',
    help: 'Ports bound to this node, by status, as of the last pass',
    labelNames: ['status'] as const,
    registers: this.registers,
  });
  readonly lastSuccess = new Gauge({
    name: 'hypernet_agent_last_successful_pass_timestamp_seconds',
    help: 'Unix time when a reconcile pass last succeeded in every sub-reconciler',
    registers: this.registers,
  });
  readonly revision = new Gauge({
    name: 'hypernet_agent_watch_revision',
    help: 'Model (watch) revision of the last reconcile pass',
    registers: this.registers,
  });

  readonly convergence = new Histogram({
    name: 'hypernet_agent_convergence_seconds',
    help: 'Time from a port change arriving on the watch stream to the end of the reconcile pass that applied it',
    buckets: LATENCY_BUCKETS,
    registers: this.registers,
  });
  /** Port changes not yet applied: watch revision and arrival time (clock ms), in revision order. */
  private pending: { revision: number; at: number }[] = [];

  constructor(private readonly host: string) {}

  /** A port event of `revision` arrived at `at` (clock ms). */
  portChanged(revision: number, at: number): void {
    // Bounded: while passes fail nothing is taken off, and the oldest arrivals are the ones that count.
    if (this.pending.length < MAX_PENDING) this.pending.push({ revision, at });
  }

  /** The node converged to `revision` at `at` (a pass succeeded, or one was skipped as not needed). */
  converged(revision: number, at: number): void {
    let n = 0;
    while (n < this.pending.length && this.pending[n].revision <= revision) {
      this.convergence.observe(Math.max(0, at - this.pending[n].at) / 1000);
      n++;
    }
    if (n) this.pending = this.pending.slice(n);
  }

  /** Why the agent is not ready for `/readyz`, or null: `synced` is the model cache's (snapshot seen, stream up). */
  notReady(synced: boolean): string | null {
    if (!synced) return 'model not synced';
    return this.firstFullPassOk ? null : 'no full reconcile pass has succeeded yet';
  }

  /** Takes one pass record (the loop's `onPass`) and the model it converged to. */
  record(pass: PassRecord, model: ModelView): void {
    const full = String(pass.full);
    for (const [reconciler, ms] of Object.entries(pass.steps))
      this.passSeconds.observe({ reconciler, full }, ms / 1000);
    for (const reconciler of pass.failed) this.applyErrors.inc({ reconciler });
    const counts = new Map<string, number>(PORT_STATUSES.map((s) => [s, 0]));
    for (const p of model.ports.values())
      if (p['binding:host_id'] === this.host) counts.set(p.status, (counts.get(p.status) ?? 0) + 1);
    for (const [status, n] of counts) this.ports.set({ status }, n);
    this.revision.set(pass.revision);
    if (!pass.ok) return;
    this.converged(pass.revision, pass.endedAt);
    this.lastSuccess.set(pass.endedAt / 1000);
    if (pass.full) this.firstFullPassOk = true;
  }
}
