/**
 * PrefetchedRead: a full pass takes the read made ahead only for the same key, only when it succeeded,
 * and only when its owner applied nothing meanwhile (also while it ran); else it reads again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PrefetchedRead } from '../../../src/agent/loop/prefetched-read.js';

/** A read that returns `key#n` (n counts the reads), or fails while `failing` is set. */
function counted() {
  const s = { reads: 0, failing: false, gate: null as Promise<void> | null };
  const r = new PrefetchedRead(async (key: string) => {
    s.reads++;
    const n = s.reads;
    if (s.gate) await s.gate;
    if (s.failing) throw new Error('read failed');
    return `${key}#${n}`;
  });
  return { r, s };
}

test('the read made ahead is taken once, for its key', async () => {
  const { r, s } = counted();
  await r.prefetch('a');
  assert.equal(await r.take('a'), 'a#1');
  assert.equal(await r.take('a'), 'a#2', 'used up: the next full pass reads');
  await r.prefetch('a');
  assert.equal(await r.take('b'), 'b#4', 'another key reads afresh');
  assert.equal(s.reads, 4);
});

test('an apply after the read, or while it runs, spoils it', async () => {
  const { r } = counted();
  await r.prefetch('a');
  r.spoil();
  assert.equal(await r.take('a'), 'a#2');
  const { r: r2, s: s2 } = counted();
  let open = (): void => undefined;
  s2.gate = new Promise((resolve) => {
    open = resolve;
  });
  const ahead = r2.prefetch('a');
  r2.spoil();
  open();
  await ahead;
  s2.gate = null;
  assert.equal(await r2.take('a'), 'a#2', 'spoilt while it ran');
  r2.spoil();
  assert.equal(await r2.take('a'), 'a#3', 'spoil with nothing waiting changes nothing');
});

test('a failed read made ahead never throws, and the full pass reads again', async () => {
  const { r, s } = counted();
  s.failing = true;
  await r.prefetch('a');
  s.failing = false;
  assert.equal(await r.take('a'), 'a#2');
});

test('a read made ahead and never taken is replaced by the next one (it may be old)', async () => {
  const { r } = counted();
  await r.prefetch('a');
  await r.prefetch('a');
  assert.equal(await r.take('a'), 'a#2');
});
