/** Exponential backoff with jitter for retries (registration, watch reconnect, failed applies). */
export class Backoff {
  private current = 0;

  constructor(
    private readonly minMs = 250,
    private readonly maxMs = 10_000,
    private readonly random: () => number = Math.random,
  ) {}

  /** The next delay: min, then doubling up to max, each ±20 % jitter. */
  next(): number {
    this.current = this.current === 0 ? this.minMs : Math.min(this.maxMs, this.current * 2);
    return Math.round(this.current * (0.8 + 0.4 * this.random()));
  }

  reset(): void {
    this.current = 0;
  }

  get failing(): boolean {
    return this.current !== 0;
  }
}
