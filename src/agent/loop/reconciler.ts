/**
 * The level-triggered reconcile loop. Changes only set a "dirty" flag (never queue events); a run
 * takes the current model, and every sub-reconciler re-reads the kernel itself. Runs coalesce, repeat
 * every `resyncMs` to repair drift, and back off after failures. Nothing runs until `model()` returns
 * a view (first full snapshot seen, stream connected).
 *
 * Sub-reconcilers run in sequence, independently: one failing does not stop the next. Adding one
 * (DHCP, firewall) is one entry in the list given to the constructor (see main.ts); an entry that is
 * itself a list runs its sub-reconcilers at the same time (they must touch disjoint state).
 *
 * Every pass gets a `PassContext`: `full` is true on the first pass and then at least every
 * `resyncMs` (a sub-reconciler may skip work whose inputs did not change only on passes that are not
 * full, so drift is still repaired), `modelChanged` is false when the model's compiled inputs
 * (inputKey) are those of the last pass that succeeded (a tap, not the model, woke the loop), and
 * `kernel` lets one sub-reconciler hand the datapath state it read to the next (valid only while
 * nobody changed it). Each pass logs the time of every step when it took longer than `slowPassMs`.
 *
 * A full pass that is due is first prepared: every sub-reconciler with `prepareFull` does the slow
 * reads of its full check (the whole kernel state, at 1,000 ports most of a full pass) in the
 * background while passes that are not full keep running, and the full pass follows once they are
 * done. So a new port is not held up behind a full read: with one every 2 s on a busy node, that
 * wait was the tail of the convergence time. (The first pass, with nothing to overlap, reads inline.)
 *
 * When to run which pass is decided by the pure reducer of schedule.ts; this class only sleeps,
 * prepares and runs what it says.
 */
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';
import { Backoff } from './backoff.js';
import { decide, INITIAL_SCHEDULE, type ScheduleAction, type ScheduleEvent, type ScheduleState } from './schedule.js';
import type { ModelView } from '../../model/model-cache.js';
import type { ActualState } from '../datapath/types.js';

/** What the sub-reconcilers of one pass share. */
export interface PassContext {
  /** A periodic (or first) pass: re-check everything, skip nothing because its inputs look unchanged. */
  readonly full: boolean;
  /** The compiled inputs differ from those of the last pass that succeeded (or are unknown). */
  readonly modelChanged: boolean;
  /** The datapath state as last read in this pass, when nothing has changed it since (else undefined). */
  kernel?: ActualState;
}

export interface SubReconciler {
  readonly name: string;
  /** Converge the part of the node this sub-reconciler owns to `model`; throw to be retried. */
  reconcile(model: ModelView, pass?: PassContext): Promise<void>;
  /**
   * Before a full pass, alongside other passes: the reads its full check needs, kept for that pass
   * (which must still be right when the sub-reconciler's own changes happen meanwhile). Must not throw.
   */
  prepareFull?(): Promise<void>;
}

/** What one pass did, as given to `onPass` (metrics): its kind, time per sub-reconciler, who failed. */
export interface PassRecord {
  readonly full: boolean;
  readonly ok: boolean;
  /** The model revision the pass converged to. */
  readonly revision: number;
  /** When the pass ended (clock ms). */
  readonly endedAt: number;
  /** Milliseconds per sub-reconciler name. */
  readonly steps: Readonly<Record<string, number>>;
  /** Names of the sub-reconcilers that threw. */
  readonly failed: readonly string[];
}

/** One step of a pass: a sub-reconciler, or several run at the same time. */
export type PassStep = SubReconciler | readonly SubReconciler[];

export interface ReconcilerOptions {
  clock: Clock;
  log: Logger;
  /** The model to converge to, or null while not ready / server unreachable (kernel left alone). */
  model: () => ModelView | null;
  resyncMs?: number;
  /** Quiet time after a wake-up, so a burst of changes gives one run. */
  coalesceMs?: number;
  /** Log the step times of passes slower than this (default 100 ms). */
  slowPassMs?: number;
  /**
   * Everything of the model the sub-reconcilers converge from, as a comparable key. A pass that is
   * not full, woken only by model changes (markModelChanged), is skipped when the key equals that of
   * the last pass that succeeded: an event that changes nothing this node compiles (e.g. the port
   * status this agent just reported) costs no pass. Kernel wake-ups (markDirty) always run a pass.
   */
  inputKey?: (model: ModelView) => string;
  /** Told of every pass once it ended (the agent's metrics); must not throw. */
  onPass?: (record: PassRecord, model: ModelView) => void;
  /** Called when a pass is skipped because `model` needs nothing new of the node (metrics: it converged). */
  onSkip?: (model: ModelView, at: number) => void;
}

/** Resolves on a later turn of the event loop (after pending microtasks and I/O callbacks). */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class Reconciler {
  private wake: (() => void) | null = null;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private readonly backoff = new Backoff(250, 10_000);
  /** Scheduling state, changed only through decide() (schedule.ts). */
  private schedule: ScheduleState = INITIAL_SCHEDULE;
  /** The sub-reconcilers that prepare a full pass. */
  private readonly preparers: readonly SubReconciler[];
  /** Completed runs (for tests and logs). */
  runs = 0;
  /** Passes skipped because the model's compiled inputs were unchanged (tests and logs). */
  skipped = 0;

  constructor(
    private readonly subs: readonly PassStep[],
    private readonly opts: ReconcilerOptions,
  ) {
    this.preparers = subs.flatMap((s) => (Array.isArray(s) ? s : [s as SubReconciler])).filter((s) => s.prepareFull);
  }

  private get resyncMs(): number {
    return this.opts.resyncMs ?? 2_000;
  }

  /** Something other than the model may have changed (a tap appeared, a report failed): run a pass. */
  markDirty(): void {
    this.step({ type: 'kernel-changed' });
    this.wake?.();
  }

  /** The model changed: run a pass unless its compiled inputs (inputKey) are those of the last good pass. */
  markModelChanged(): void {
    this.step({ type: 'model-changed' });
    this.wake?.();
  }

  /** Applies one scheduling event; returns what to do. */
  private step(event: ScheduleEvent): ScheduleAction {
    const canPrepare = this.preparers.length > 0;
    const d = decide(this.schedule, event, this.opts.clock.now(), { resyncMs: this.resyncMs, canPrepare });
    this.schedule = d.next;
    return d.action;
  }

  /** One pass over every sub-reconciler; true when all succeeded. */
  async runOnce(model: ModelView, full = true, modelChanged = true): Promise<boolean> {
    const { clock, log } = this.opts;
    const pass: PassContext = { full, modelChanged };
    const steps: Record<string, number> = {};
    const t0 = clock.now();
    const failed: string[] = [];
    const one = async (s: SubReconciler): Promise<void> => {
      const t = clock.now();
      try {
        await s.reconcile(model, pass);
      } catch (e) {
        failed.push(s.name);
        log.warn({ reconciler: s.name, err: (e as Error).message }, 'reconcile failed, will retry');
      }
      steps[s.name] = clock.now() - t;
    };
    for (const step of this.subs) {
      // Each sub-reconciler of a parallel step starts on a later turn of the event loop, after the
      // synchronous work of those before it and the writes they queued: the fast path's entries go
      // to the kernel before the firewall compiles (at 1,000 ports that compile held them 20–50 ms).
      if (Array.isArray(step))
        await Promise.all(step.map((s: SubReconciler, i) => (i ? nextTurn().then(() => one(s)) : one(s))));
      else await one(step as SubReconciler);
    }
    const endedAt = clock.now();
    const ms = endedAt - t0;
    if (ms >= (this.opts.slowPassMs ?? 100)) log.info({ ms, full, revision: model.revision, steps }, 'reconcile pass');
    this.runs++;
    const ok = failed.length === 0;
    this.opts.onPass?.({ full, ok, revision: model.revision, endedAt, steps, failed }, model);
    return ok;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    let waitMs = 0;
    while (!this.stopped) {
      if (!this.schedule.dirty && waitMs > 0) await this.sleep(waitMs);
      if (this.stopped) break;
      if (this.opts.coalesceMs) await this.opts.clock.sleep(this.opts.coalesceMs);
      const model = this.opts.model();
      const inputKey = this.opts.inputKey;
      const a = this.step({
        type: 'tick',
        model: model !== null,
        key: () => (model && inputKey ? inputKey(model) : null),
      });
      if (a.kind === 'none') continue;
      if (a.prepare) this.prepare();
      if (a.kind === 'skip') {
        this.skipped++;
        if (model) this.opts.onSkip?.(model, this.opts.clock.now());
      }
      if (a.kind !== 'pass') {
        waitMs = a.ms;
        continue;
      }
      const ok = await this.runOnce(model!, a.full, a.modelChanged);
      if (ok) this.backoff.reset();
      const done = this.step({
        type: 'pass-done',
        ok,
        full: a.full,
        key: a.key,
        retryMs: ok ? 0 : this.backoff.next(),
      });
      waitMs = done.kind === 'sleep' ? done.ms : 0;
    }
  }

  /** Starts every sub-reconciler's prepareFull in the background; its end makes the next pass the full one. */
  private prepare(): void {
    void Promise.all(this.preparers.map((s) => s.prepareFull!().catch(() => undefined))).then(() => {
      this.step({ type: 'prepared' });
      this.wake?.();
    });
  }

  /** Sleeps `ms` unless markDirty/stop wakes it first (the timer goes with it: a stopped loop keeps nothing alive). */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      let done = false;
      const timer = new AbortController();
      const finish = (): void => {
        if (done) return;
        done = true;
        this.wake = null;
        timer.abort();
        resolve();
      };
      this.wake = finish;
      void this.opts.clock.sleep(ms, timer.signal).then(finish);
    });
  }
}
