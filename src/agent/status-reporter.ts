/**
 * Port status toward the server: pure computation of what each local port's status should be
 * (ACTIVE once its tap is enslaved and up, DOWN otherwise, ERROR when the agent refused one of its
 * objects: the reason goes in `binding:vif_details.error`, which `hypernet status` shows), and a
 * reporter that PUTs only changes
 * (`PUT /v2.0/ports/{id}` with status and `binding:vif_type` 'tap'), not repeating itself while the
 * model has not caught up yet, but repeating at once when the model moved past its report with
 * another status (a node the port left reported it DOWN from a stale view: the owner's word wins).
 * `submit` reports in the background (the reconcile pass does not wait for the PUTs): one round at a time, the latest updates replacing any still waiting; a failed round
 * calls `retry` (the loop's markDirty) after `retryMs`, so the next pass computes and sends again.
 * A port the server no longer has (deleted while its report was on the way: a VM and its port go
 * together) is not a failure: there is nothing left to report, and nothing to retry.
 */
import type { Logger } from '../common/log.js';
import type { Clock } from '../common/clock.js';
import { ApiError, type ApiClient } from '../client/api.js';
import { portError } from '../model/bindings.js';
import type { ModelView } from '../model/model-cache.js';
import type { ActualState, DesiredPort, DesiredState } from './datapath/types.js';

export interface PortStatusUpdate {
  portId: string;
  status: 'ACTIVE' | 'DOWN' | 'ERROR';
  vifType?: 'tap';
  /** ERROR: why (kept by the server in `binding:vif_details.error`); '' clears an earlier one. */
  error?: string;
}

/** The port's tap is in the kernel, enslaved to its bridge and up (and the port is admin up). */
export function isWired(p: DesiredPort, actual: ActualState): boolean {
  const tap = actual.links.get(p.tap);
  return !!tap && tap.master === p.bridge && tap.up && p.up;
}

/**
 * The updates that bring the server's view of `desired`'s ports in line with `actual`; `rejected`
 * gives the reason for a port the agent refused (it is ERROR whatever its tap does). `servedWithoutTap`
 * holds ports another feature serves with no tap (a WireGuard agentless port is a peer of the
 * hyperswitch's WireGuard interface): they are wired when served.
 */
export function portStatusUpdates(
  desired: DesiredState,
  actual: ActualState,
  model: ModelView,
  rejected: (portId: string) => string | undefined = () => undefined,
  servedWithoutTap: ReadonlySet<string> = new Set(),
): PortStatusUpdate[] {
  const out: PortStatusUpdate[] = [];
  for (const p of desired.ports) {
    const port = model.ports.get(p.portId);
    if (!port) continue;
    const reason = rejected(p.portId);
    if (reason !== undefined) {
      if (port.status !== 'ERROR' || portError(port) !== reason)
        out.push({ portId: p.portId, status: 'ERROR', error: reason });
      continue;
    }
    if (p.prepared) continue;
    const wired = isWired(p, actual) || (servedWithoutTap.has(p.portId) && p.up);
    const clear = portError(port) !== undefined ? { error: '' } : {};
    if (wired && (port.status !== 'ACTIVE' || port['binding:vif_type'] !== 'tap' || clear.error !== undefined))
      out.push({ portId: p.portId, status: 'ACTIVE', vifType: 'tap', ...clear });
    else if (!wired && (port.status === 'ACTIVE' || port.status === 'ERROR'))
      out.push({ portId: p.portId, status: 'DOWN', ...clear });
  }
  return out;
}

/** Sends updates; an identical update is not re-sent within `quietMs` (the event is on its way). */
export class PortStatusReporter {
  /** What was last sent per port, when, and the port's revision in the model the report came from. */
  private readonly sent = new Map<string, { status: string; at: number; revision?: number }>();
  /** The latest updates not sent yet, with the model they were computed from. */
  private waiting: { updates: readonly PortStatusUpdate[]; model?: ModelView } | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly api: Pick<ApiClient, 'update'>,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly quietMs = 5_000,
    private readonly retry?: () => void,
    private readonly retryMs = 1_000,
  ) {}

  /** Reports `updates` (computed from `model`, when given) in the background; returns at once. */
  submit(updates: readonly PortStatusUpdate[], model?: ModelView): void {
    if (updates.length === 0) return;
    this.waiting = { updates, model };
    this.running ??= this.drain();
  }

  /** Resolves when nothing is waiting or being sent (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    let failed = 0;
    while (this.waiting) {
      const { updates, model } = this.waiting;
      this.waiting = null;
      failed += await this.report(updates, model);
    }
    this.running = null;
    if (failed && this.retry) void this.clock.sleep(this.retryMs).then(this.retry);
  }

  /** Returns how many failed. */
  async report(updates: readonly PortStatusUpdate[], model?: ModelView): Promise<number> {
    let failed = 0;
    // What was sent longer ago than quietMs is not needed any more (it only holds back repeats).
    for (const [id, s] of this.sent) if (this.clock.now() - s.at >= this.quietMs) this.sent.delete(id);
    for (const u of updates) {
      const last = this.sent.get(u.portId);
      const said = u.error ? `${u.status}: ${u.error}` : u.status;
      const revision = model?.ports.get(u.portId)?.revision_number;
      // The model shows a later revision than the one reported from, and still another status: overridden.
      const overridden = revision !== undefined && last?.revision !== undefined && revision > last.revision;
      if (last && last.status === said && this.clock.now() - last.at < this.quietMs && !overridden) continue;
      const body: Record<string, unknown> = { status: u.status };
      if (u.vifType) body['binding:vif_type'] = u.vifType;
      if (u.error !== undefined) body['binding:vif_details'] = u.error ? { error: u.error } : {};
      try {
        await this.api.update('ports', 'port', u.portId, body);
        this.sent.set(u.portId, { status: said, at: this.clock.now(), revision });
        this.log.info({ port: u.portId, status: u.status, error: u.error || undefined }, 'port status reported');
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) {
          this.log.debug({ port: u.portId, status: u.status }, 'port status not reported: the port is gone');
          continue;
        }
        failed++;
        this.log.warn({ port: u.portId, err: (e as Error).message }, 'port status report failed');
      }
    }
    return failed;
  }
}
