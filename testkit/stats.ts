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
