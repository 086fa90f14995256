/**
 * Order statistics every benchmark reports (one definition, so "median" and "p99" mean the same in
 * every summary): the median of an even count is the mean of the two middle values; percentiles are
 * nearest-rank (the smallest sample with at least p% of samples at or below it).
 */

const sorted = (xs: readonly number[]): number[] => {
  if (xs.length === 0) throw new Error('no samples');
  return [...xs].sort((a, b) => a - b);
};

export function median(xs: readonly number[]): number {
  const s = sorted(xs);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Nearest-rank percentile, p in (0, 100]. */
export function percentile(xs: readonly number[], p: number): number {
  const s = sorted(xs);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/**
 * Per-round ratios of two interleaved paths (num[i] / den[i], same round), their median and spread.
 * The median of per-round ratios cancels a slow spell of a shared machine that hits both paths of a
 * round alike, where the ratio of two medians mixes rounds.
 */
export interface RoundRatios {
  ratios: number[];
  median: number;
  min: number;
  max: number;
}

export function roundRatios(num: readonly number[], den: readonly number[]): RoundRatios {
  if (num.length !== den.length) throw new Error(`rounds differ: ${num.length} against ${den.length}`);
  const ratios = num.map((x, i) => x / den[i]!);
  return { ratios, median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
}

/** "0.87× (per round 0.80–0.95×: 0.80, 0.87, 0.95)": the median, the spread and every round. */
export const formatRatios = (r: RoundRatios): string =>
  `${r.median.toFixed(2)}× (per round ${r.min.toFixed(2)}–${r.max.toFixed(2)}×: ` +
  `${r.ratios.map((x) => x.toFixed(2)).join(', ')})`;
