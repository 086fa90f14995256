/**
 * When the reconcile loop runs a pass, and which kind (pure): one reducer `decide(state, event, now)`
 * over the loop's scheduling state, so every flag the loop keeps (dirty, kernel dirty, when the last
 * full pass started, the key of the last good pass, the full pass's preparation) changes in one
 * place and the decisions can be tested as a table (test/agent/loop/schedule.test.ts). The loop
 * (reconciler.ts) does what the action says: sleep, skip, start the preparation, run a pass.
 *
 * The rules: nothing runs without a model; the first pass is full, and then one at least every
 * `resyncMs` — once its preparation is done when some sub-reconciler prepares (started when it is
 * due; until then, passes that are not full still run on wake-ups, and a clock wake-up waits). A
 * pass that is not full and woken only by model events whose compiled inputs (the key) are those of
 * the last good pass is skipped. A failed pass marks the kernel dirty and retries after `retryMs`.
 */

export interface ScheduleState {
  /** Something woke the loop since the last tick. */
  readonly dirty: boolean;
  /** A wake-up that is not a model change (a tap, a retry) since the last pass started. */
  readonly kernelDirty: boolean;
  /** When the last full pass started (-Infinity: the next pass is full). */
  readonly fullAt: number;
  /** inputKey of the last pass that succeeded (null: none, or it failed since). */
  readonly okKey: string | null;
  /** The full pass's preparation is running. */
  readonly preparing: boolean;
  /** A preparation finished: the next pass is the full one. */
  readonly prepared: boolean;
}

export const INITIAL_SCHEDULE: ScheduleState = {
  dirty: true,
  kernelDirty: true,
  fullAt: -Infinity,
  okKey: null,
  preparing: false,
  prepared: false,
};

export interface ScheduleConfig {
  resyncMs: number;
  /** Some sub-reconciler prepares full passes (prepareFull). */
  canPrepare: boolean;
}

export type ScheduleEvent =
  /** Something other than the model may have changed (markDirty). */
  | { readonly type: 'kernel-changed' }
  /** The model changed (markModelChanged). */
  | { readonly type: 'model-changed' }
  /** The full pass's preparation finished. */
  | { readonly type: 'prepared' }
  /** The loop woke (and coalesced): `key` is the model's inputKey (asked only when needed); no model: null. */
  | { readonly type: 'tick'; readonly model: boolean; readonly key: () => string | null }
  /** A pass ended; `retryMs` is the backoff's next delay (used when it failed). */
  | {
      readonly type: 'pass-done';
      readonly ok: boolean;
      readonly full: boolean;
      readonly key: string | null;
      readonly retryMs: number;
    };

export type ScheduleAction =
  /** Nothing to do (the mark events: the loop is woken by its caller). */
  | { readonly kind: 'none' }
  /** Sleep `ms` unless woken; `prepare`: start the full pass's preparation first. */
  | { readonly kind: 'sleep'; readonly ms: number; readonly prepare: boolean }
  /** As sleep, for a pass skipped because its inputs are those of the last good pass. */
  | { readonly kind: 'skip'; readonly ms: number; readonly prepare: boolean }
  | {
      readonly kind: 'pass';
      readonly full: boolean;
      readonly modelChanged: boolean;
      readonly key: string | null;
      readonly prepare: boolean;
    };

export interface Decision {
  readonly action: ScheduleAction;
  readonly next: ScheduleState;
}

const NONE: ScheduleAction = { kind: 'none' };

/** The loop's next step and state after `event` at `now`. */
export function decide(s: ScheduleState, event: ScheduleEvent, now: number, cfg: ScheduleConfig): Decision {
  switch (event.type) {
    case 'kernel-changed':
      return { action: NONE, next: { ...s, dirty: true, kernelDirty: true } };
    case 'model-changed':
      return { action: NONE, next: { ...s, dirty: true } };
    case 'prepared':
      return { action: NONE, next: { ...s, preparing: false, prepared: true, dirty: true } };
    case 'tick':
      return tick(s, event, now, cfg);
    case 'pass-done':
      return passDone(s, event, now, cfg);
  }
}

/** Milliseconds until the next full pass is due (at least 1). */
const untilFull = (s: ScheduleState, now: number, cfg: ScheduleConfig): number =>
  Math.max(1, s.fullAt + cfg.resyncMs - now);

function tick(
  s: ScheduleState,
  e: Extract<ScheduleEvent, { type: 'tick' }>,
  now: number,
  cfg: ScheduleConfig,
): Decision {
  const woken = s.dirty;
  let n: ScheduleState = { ...s, dirty: false };
  if (!e.model) return { action: { kind: 'sleep', ms: cfg.resyncMs, prepare: false }, next: n };
  // Full: the first pass, or a prepared one; else, once due, after its preparation (started now).
  let full: boolean;
  let prepare = false;
  if (n.fullAt === -Infinity || n.prepared) full = true;
  else if (now - n.fullAt < cfg.resyncMs) full = false;
  else if (!cfg.canPrepare) full = true;
  else {
    full = false;
    if (!n.preparing) {
      prepare = true;
      n = { ...n, preparing: true };
    }
  }
  // Woken by the clock while the full pass is being prepared: wait for it (or a change).
  if (!full && !woken && n.preparing) return { action: { kind: 'sleep', ms: cfg.resyncMs, prepare }, next: n };
  const kernelDirty = n.kernelDirty;
  n = { ...n, kernelDirty: false };
  const key = e.key();
  if (!full && !kernelDirty && key !== null && key === n.okKey) {
    // Sleep until the next wake-up, or until the next full pass is due (or prepared).
    const ms = n.preparing ? cfg.resyncMs : untilFull(n, now, cfg);
    return { action: { kind: 'skip', ms, prepare }, next: n };
  }
  if (full) n = { ...n, fullAt: now, prepared: false };
  const modelChanged = key === null || key !== n.okKey;
  return { action: { kind: 'pass', full, modelChanged, key, prepare }, next: { ...n, okKey: null } };
}

function passDone(
  s: ScheduleState,
  e: Extract<ScheduleEvent, { type: 'pass-done' }>,
  now: number,
  cfg: ScheduleConfig,
): Decision {
  const next: ScheduleState = e.ok ? { ...s, okKey: e.key } : { ...s, kernelDirty: true };
  let ms = e.ok ? cfg.resyncMs : e.retryMs;
  if (!e.full) ms = Math.min(ms, untilFull(next, now, cfg));
  return { action: { kind: 'sleep', ms, prepare: false }, next };
}
