/** Per-round ratios of interleaved benchmark paths: median, spread, and the rounds must pair up. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatRatios, roundRatios } from '../../testkit/stats.js';

test('per-round ratios pair each round and give median and spread', () => {
  // Round 2 is a slow spell hitting both paths: its ratio stays ordinary.
  const r = roundRatios([0.9, 0.3, 0.8, 1.0], [1.0, 0.4, 1.0, 1.0]);
  assert.deepEqual(
    r.ratios.map((x) => Number(x.toFixed(3))),
    [0.9, 0.75, 0.8, 1.0],
  );
  assert.equal(Number(r.median.toFixed(3)), 0.85);
  assert.equal(Number(r.min.toFixed(3)), 0.75);
  assert.equal(r.max, 1.0);
  assert.equal(formatRatios(r), '0.85× (per round 0.75–1.00×: 0.90, 0.75, 0.80, 1.00)');
});

test('rounds of different counts are refused', () => {
  assert.throws(() => roundRatios([1, 2], [1]), /rounds differ/);
});
