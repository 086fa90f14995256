/**
 * Finding the first free number of a range without scanning it all: the common case (sequential
 * allocation) takes `max + 1` after the highest used number; only when the top of the range is full
 * does it walk the used numbers in sorted batches looking for a gap. Shared by IP and VNI allocation.
 */
export interface UsedNumbers {
  /** Highest used number in [from, to], or undefined. */
  max(from: bigint, to: bigint): Promise<bigint | undefined>;
  /** Used numbers in [from, to], sorted, at most `limit`. */
  list(from: bigint, to: bigint, limit: number): Promise<bigint[]>;
}

const BATCH = 1024;

/** First free number in [from, to] (preferring after the highest used one), or undefined when full. */
export async function firstFree(from: bigint, to: bigint, used: UsedNumbers): Promise<bigint | undefined> {
  if (from > to) return undefined;
  const max = await used.max(from, to);
  if (max === undefined) return from;
  if (max < to) return max + 1n;
  // Top is full: look for a gap from the bottom.
  let cursor = from;
  while (cursor <= to) {
    const batch = await used.list(cursor, to, BATCH);
    for (const u of batch) {
      if (cursor < u) return cursor;
      cursor = u + 1n;
    }
    if (batch.length < BATCH) {
      return cursor <= to ? cursor : undefined;
    }
  }
  return undefined;
}
