/**
 * The DHCP sub-reconciler: glue between the model and src/agent/dhcp/ (compileDhcp → DhcpDriver).
 * It asks the server for this host's DHCP port on a network when compile says one is missing (the
 * port comes back by watch), and applies after the datapath so the bridges exist. A pass that is not
 * full skips the driver (its per-network namespace, process and file checks) when the compiled
 * desired state is the one last applied without error, and otherwise lets the driver reuse its
 * remembered kernel read (`reuseKernel`: a port came or went, only hosts files change); full passes
 * always check everything. With `background`
 * (the agent's setting) the driver runs outside the pass, one apply at a time (see the option).
 * After every apply, and on every pass, this host's DHCP ports are reported ACTIVE where their
 * network is served and DOWN where it is not (dhcp/status.ts; they have no tap the datapath sees).
 */
import type { ApiClient } from '../../client/api.js';
import type { Clock } from '../../common/clock.js';
import type { Exec } from '../../common/exec.js';
import type { Logger } from '../../common/log.js';
import { compileDhcp, dhcpPortRequest, DhcpDriver } from './index.js';
import { dhcpPortStatusUpdates } from './status.js';
import type { ModelView } from '../../model/model-cache.js';
import type { PortStatusUpdate } from '../status-reporter.js';
import type { PassContext, SubReconciler } from '../loop/reconciler.js';
import type { NodeInfo } from '../datapath/types.js';

export interface DhcpReconcilerOptions {
  api: Pick<ApiClient, 'create'>;
  exec: Exec;
  clock: Clock;
  log: Logger;
  node: NodeInfo;
  netnsPrefix: string;
  stateDir: string;
  /** Do not ask again for a DHCP port within this time (it is on its way). */
  requestQuietMs?: number;
  /**
   * Apply in the background: the pass does not wait for the driver (dnsmasq reloads, namespace
   * checks), so the next pass's datapath is not held up by it. One apply at a time; a newer desired
   * state waits for the running one and replaces any older waiting one. A failure is reported by
   * the next pass (which throws it, so the loop retries) and `onBackgroundDone` wakes the loop.
   */
  background?: boolean;
  onBackgroundDone?: (ok: boolean) => void;
  /** Where the DHCP ports' status goes (a PortStatusReporter's submit); not reported without. */
  report?: (updates: readonly PortStatusUpdate[]) => void;
  /** A network's workload MTU given the model (the encrypted overlay's), else underlay − 50. */
  mtuOf?: (model: ModelView, networkId: string) => number;
  /** The metadata service runs on this node: DHCP gives its host route (see compileDhcp). */
  metadata?: boolean;
}

export class DhcpReconciler implements SubReconciler {
  readonly name = 'dhcp';
  private readonly driver: DhcpDriver;
  private readonly requested = new Map<string, number>();
  /** The desired state last applied without error (JSON), or null. */
  private appliedKey: string | null = null;
  /** Background mode: the running apply, its key, the one waiting, and the last failure to report. */
  private running: Promise<void> | null = null;
  private runningKey: string | null = null;
  private waiting: { desired: ReturnType<typeof compileDhcp>; key: string; full: boolean } | null = null;
  private failure: string | null = null;
  /** VNIs the last driver apply served without error. */
  private readonly served = new Set<number>();
  /** The model of the latest pass (the cache's live view), for reports after a background apply. */
  private model: ModelView | null = null;
  /** The desired state of the latest pass (the metadata proxies live in its namespaces). */
  lastDesired: ReturnType<typeof compileDhcp> | null = null;

  constructor(private readonly o: DhcpReconcilerOptions) {
    this.driver = new DhcpDriver({
      exec: o.exec,
      log: o.log,
      stateDir: o.stateDir,
      netnsPrefix: o.netnsPrefix,
      clock: o.clock,
    });
  }

  async reconcile(model: ModelView, pass?: PassContext): Promise<void> {
    const { node, clock, log } = this.o;
    const desired = compileDhcp({
      host: node.host,
      networks: [...model.networks.values()],
      subnets: [...model.subnets.values()],
      ports: [...model.ports.values()],
      underlayMtu: node.underlayMtu,
      mtuOf: this.o.mtuOf && ((id: string) => this.o.mtuOf!(model, id)),
      netnsPrefix: this.o.netnsPrefix,
      metadata: this.o.metadata,
    });
    this.lastDesired = desired;
    for (const p of desired.problems) log.warn({ problem: p }, 'dhcp');
    this.model = model;
    this.reportStatus(desired);
    const errors: string[] = [];
    for (const networkId of desired.needsDhcpPort) {
      const at = this.requested.get(networkId);
      if (at !== undefined && clock.now() - at < (this.o.requestQuietMs ?? 10_000)) continue;
      this.requested.set(networkId, clock.now());
      try {
        await this.o.api.create('ports', 'port', dhcpPortRequest(networkId, node.host).port);
        log.info({ network: networkId }, 'dhcp port requested');
      } catch (e) {
        errors.push(`dhcp port for ${networkId}: ${(e as Error).message}`);
      }
    }
    const key = JSON.stringify(desired);
    const full = !pass || pass.full;
    if (this.o.background) {
      if (this.failure) {
        errors.push(this.failure);
        this.failure = null;
      }
      const pending = this.waiting?.key ?? this.runningKey;
      // A full pass always applies again (after the running one); else only a desired state not already applied or on
      // its way.
      if (full || (key !== this.appliedKey && key !== pending) || (pending !== null && key !== pending))
        this.queue(desired, key, full);
      if (errors.length) throw new Error(errors.join('; '));
      return;
    }
    if (!full && key === this.appliedKey) {
      if (errors.length) throw new Error(errors.join('; '));
      return;
    }
    this.appliedKey = null;
    errors.push(...(await this.applyNow(desired, full)));
    this.reportStatus(desired);
    if (errors.length) throw new Error(errors.join('; '));
    this.appliedKey = key;
  }

  private reportStatus(desired: ReturnType<typeof compileDhcp>): void {
    if (this.o.report && this.model)
      this.o.report(dhcpPortStatusUpdates(this.o.node.host, desired, this.served, this.model));
  }

  private async applyNow(desired: ReturnType<typeof compileDhcp>, full: boolean): Promise<string[]> {
    const errors: string[] = [];
    const r = await this.driver.apply(desired, { reuseKernel: !full });
    this.served.clear();
    for (const n of r.networks) if (n.status === 'ok') this.served.add(n.vni);
    for (const n of r.networks)
      if (n.status !== 'ok') errors.push(`vni ${n.vni}: ${n.status}${n.error ? ` ${n.error}` : ''}`);
    for (const e of r.removeErrors) errors.push(`remove vni ${e.vni}: ${e.error}`);
    return errors;
  }

  private queue(desired: ReturnType<typeof compileDhcp>, key: string, full: boolean): void {
    // A full check still owed is not dropped by a newer desired state from a lighter pass.
    this.waiting = { desired, key, full: full || (this.waiting?.full ?? false) };
    if (this.running) return;
    this.running = (async () => {
      while (this.waiting) {
        const next = this.waiting;
        this.waiting = null;
        this.runningKey = next.key;
        this.appliedKey = null;
        let errors: string[];
        try {
          errors = await this.applyNow(next.desired, next.full);
        } catch (e) {
          errors = [(e as Error).message];
        }
        this.runningKey = null;
        this.reportStatus(next.desired);
        if (errors.length) this.failure = errors.join('; ');
        else this.appliedKey = next.key;
        this.o.onBackgroundDone?.(errors.length === 0);
      }
    })().finally(() => {
      this.running = null;
    });
  }

  /** Waits for a background apply in progress (the agent's stop). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }
}
