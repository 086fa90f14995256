/**
 * The loop's scheduling as a table (pure): state × event → action and next state, one row each, as
 * Tailscale tests its router. Times are ms; resync 2,000 ms.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decide,
  INITIAL_SCHEDULE,
  type ScheduleAction,
  type ScheduleEvent,
  type ScheduleState,
} from '../../../src/agent/loop/schedule.js';

const cfg = { resyncMs: 2_000, canPrepare: false };
const prep = { ...cfg, canPrepare: true };
/** After a good full pass at t=1000 with key k1, nothing pending. */
const IDLE: ScheduleState = { ...INITIAL_SCHEDULE, dirty: false, kernelDirty: false, fullAt: 1_000, okKey: 'k1' };
const tick = (key: string | null = 'k1', model = true): ScheduleEvent => ({ type: 'tick', model, key: () => key });
const done = (ok: boolean, full: boolean, key: string | null = 'k2', retryMs = 300): ScheduleEvent => ({
  type: 'pass-done',
  ok,
  full,
  key,
  retryMs,
});
const pass = (full: boolean, modelChanged: boolean, key: string | null, prepare = false): ScheduleAction => ({
  kind: 'pass',
  full,
  modelChanged,
  key,
  prepare,
});
const sleep = (ms: number, prepare = false): ScheduleAction => ({ kind: 'sleep', ms, prepare });
const skip = (ms: number, prepare = false): ScheduleAction => ({ kind: 'skip', ms, prepare });

const rows: Array<{
  name: string;
  state: ScheduleState;
  event: ScheduleEvent;
  now: number;
  cfg?: typeof cfg;
  action: ScheduleAction;
  next: Partial<ScheduleState>;
}> = [
  {
    name: 'no model: sleep a resync, touch nothing',
    state: INITIAL_SCHEDULE,
    event: tick('k1', false),
    now: 0,
    action: sleep(2_000),
    next: { dirty: false, fullAt: -Infinity, kernelDirty: true },
  },
  {
    name: 'first tick: a full pass, model changed',
    state: INITIAL_SCHEDULE,
    event: tick(),
    now: 10,
    action: pass(true, true, 'k1'),
    next: { fullAt: 10, kernelDirty: false, okKey: null, dirty: false },
  },
  {
    name: 'model event with the same key: skipped until the full pass is due',
    state: { ...IDLE, dirty: true },
    event: tick('k1'),
    now: 1_500,
    action: skip(1_500),
    next: { dirty: false, okKey: 'k1' },
  },
  {
    name: 'model event with a new key: a pass that is not full',
    state: { ...IDLE, dirty: true },
    event: tick('k2'),
    now: 1_500,
    action: pass(false, true, 'k2'),
    next: { okKey: null, fullAt: 1_000 },
  },
  {
    name: 'kernel wake-up, same key: a pass, model unchanged',
    state: { ...IDLE, dirty: true, kernelDirty: true },
    event: tick('k1'),
    now: 1_500,
    action: pass(false, false, 'k1'),
    next: { kernelDirty: false, okKey: null },
  },
  {
    name: 'no inputKey (null): never skipped',
    state: { ...IDLE, dirty: true, okKey: null },
    event: tick(null),
    now: 1_500,
    action: pass(false, true, null),
    next: {},
  },
  {
    name: 'resync due, nothing prepares: a full pass',
    state: IDLE,
    event: tick('k1'),
    now: 3_000,
    action: pass(true, false, 'k1'),
    next: { fullAt: 3_000, okKey: null },
  },
  {
    name: 'resync due, preparers: clock tick starts the preparation and waits',
    state: IDLE,
    event: tick('k1'),
    now: 3_000,
    cfg: prep,
    action: sleep(2_000, true),
    next: { preparing: true, fullAt: 1_000 },
  },
  {
    name: 'preparing, a change: a pass that is not full, no second preparation',
    state: { ...IDLE, preparing: true, dirty: true },
    event: tick('k2'),
    now: 3_100,
    cfg: prep,
    action: pass(false, true, 'k2'),
    next: { preparing: true, okKey: null },
  },
  {
    name: 'preparing, same key: skipped, sleep a resync',
    state: { ...IDLE, preparing: true, dirty: true },
    event: tick('k1'),
    now: 3_100,
    cfg: prep,
    action: skip(2_000),
    next: { preparing: true },
  },
  {
    name: 'prepared: the next tick is the full pass',
    state: { ...IDLE, prepared: true, dirty: true },
    event: tick('k1'),
    now: 3_200,
    cfg: prep,
    action: pass(true, false, 'k1'),
    next: { prepared: false, fullAt: 3_200, okKey: null },
  },
  {
    name: 'preparation done: dirty, prepared',
    state: { ...IDLE, preparing: true },
    event: { type: 'prepared' },
    now: 3_200,
    action: { kind: 'none' },
    next: { preparing: false, prepared: true, dirty: true },
  },
  {
    name: 'markDirty: dirty and kernel dirty',
    state: IDLE,
    event: { type: 'kernel-changed' },
    now: 0,
    action: { kind: 'none' },
    next: { dirty: true, kernelDirty: true },
  },
  {
    name: 'markModelChanged: dirty only',
    state: IDLE,
    event: { type: 'model-changed' },
    now: 0,
    action: { kind: 'none' },
    next: { dirty: true, kernelDirty: false },
  },
  {
    name: 'full pass ok: remember its key, sleep a resync',
    state: { ...IDLE, okKey: null },
    event: done(true, true),
    now: 1_200,
    action: sleep(2_000),
    next: { okKey: 'k2' },
  },
  {
    name: 'pass that is not full ok: wake for the full one',
    state: { ...IDLE, okKey: null },
    event: done(true, false),
    now: 2_500,
    action: sleep(500),
    next: { okKey: 'k2' },
  },
  {
    name: 'failed pass: back off, kernel dirty, no key',
    state: { ...IDLE, okKey: null },
    event: done(false, true),
    now: 1_200,
    action: sleep(300),
    next: { kernelDirty: true, okKey: null },
  },
  {
    name: 'failed pass past the full due time: at least 1 ms',
    state: { ...IDLE, okKey: null },
    event: done(false, false, 'k2', 5_000),
    now: 9_000,
    action: sleep(1),
    next: { kernelDirty: true },
  },
];

for (const r of rows) {
  test(`schedule: ${r.name}`, () => {
    const d = decide(r.state, r.event, r.now, r.cfg ?? cfg);
    assert.deepEqual(d.action, r.action);
    assert.deepEqual(d.next, { ...r.state, ...(r.event.type === 'tick' ? { dirty: false } : {}), ...r.next });
  });
}

test('schedule: a run of events as the loop sees them', () => {
  let s = INITIAL_SCHEDULE;
  const run = (e: ScheduleEvent, now: number, c = prep) => {
    const d = decide(s, e, now, c);
    s = d.next;
    return d.action;
  };
  assert.equal((run(tick('a'), 0) as { full: boolean }).full, true);
  run(done(true, true, 'a'), 50);
  run({ type: 'model-changed' }, 100);
  assert.equal(run(tick('a'), 105).kind, 'skip', 'only status changed');
  run({ type: 'kernel-changed' }, 200);
  assert.deepEqual(run(tick('a'), 205), pass(false, false, 'a'));
  run(done(false, false, 'a', 250), 210);
  assert.equal(s.kernelDirty, true, 'a failure is retried as a kernel wake-up');
  assert.deepEqual(run(tick('a'), 460), pass(false, true, 'a'), 'no good key after a failure');
  run(done(true, false, 'a'), 470);
  assert.deepEqual(run(tick('a'), 2_001), sleep(2_000, true), 'due: prepare');
  run({ type: 'prepared' }, 2_300);
  assert.deepEqual(run(tick('a'), 2_305), pass(true, false, 'a'));
});
