/**
 * Polling helpers for tests that wait on real processes and kernel state: `eventually` answers
 * whether the probe became true in time, `msUntil` how long it took (-1 when it never did).
 */

/** Polls `probe` every 50 ms until it is true or `ms` pass; returns the elapsed time, or -1. */
export async function msUntil(probe: () => Promise<boolean>, ms: number): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (await probe().catch(() => false)) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 50));
  }
  return -1;
}

/** Polls `probe` every 50 ms until it is true or `ms` pass; returns whether it became true. */
export async function eventually(probe: () => Promise<boolean>, ms: number): Promise<boolean> {
  return (await msUntil(probe, ms)) >= 0;
}
