/**
 * A sub-reconciler's full-pass read, made ahead (`prepareFull`, while lighter passes keep running) and
 * handed to the full pass that follows, so a new port is not held up behind a full check's programs.
 * The read is for a key (what it was made for, e.g. the desired state it checks); the full pass takes
 * it only for the same key and only when the sub-reconciler changed nothing meanwhile (`spoil` after
 * every apply). Otherwise the full pass reads again, as it would have without the read made ahead.
 */

interface Pending<T> {
  readonly key: string;
  readonly value: Promise<T | null>;
  spoilt: boolean;
}

export class PrefetchedRead<T> {
  private pending: Pending<T> | null = null;

  constructor(private readonly read: (key: string) => Promise<T>) {}

  /** Starts the read for `key` (replacing one not taken: it may be old); resolves when done, never rejects. */
  async prefetch(key: string): Promise<void> {
    const value = this.read(key).catch(() => null);
    this.pending = { key, value, spoilt: false };
    await value;
  }

  /** The owner changed what the read covers (call after every apply): a read made ahead is no longer right. */
  spoil(): void {
    if (this.pending) this.pending.spoilt = true;
  }

  /**
   * The read for a full pass: the one made ahead when it is for `key`, succeeded and was not spoilt
   * (spoiling while it runs counts too), else a fresh read. Either way the one made ahead is used up.
   */
  async take(key: string): Promise<T> {
    const p = this.pending;
    this.pending = null;
    if (p && p.key === key) {
      const v = await p.value;
      if (v !== null && !p.spoilt) return v;
    }
    return this.read(key);
  }
}
