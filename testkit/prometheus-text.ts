/** Reading a Prometheus text scrape in tests and benchmarks: every sample line by its series. */

/** `name{labels} value` lines (comments left out) as a map from `name{labels}` to the value. */
export function promSeries(text: string): Map<string, number> {
  return new Map(
    text
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))]),
  );
}
