/**
 * One read of the change log for many watch streams. Every commit wakes every stream of a server, and
 * they all ask for the changes after the same revision: without sharing, a thousand streams make a
 * thousand identical queries per commit and exhaust the database pool (requests then wait and fail
 * with 503). Here the streams asking for the same range share one query while it runs, and its answer
 * until the next commit is heard or `maxAgeMs` passes (the age bound keeps the streams' periodic
 * re-read, the fallback for a missed NOTIFY, reaching the database).
 */
import type { Clock } from '../common/clock.js';
import type { ChangesResult, Store } from './store/store.js';

interface Entry {
  at: number;
  result: Promise<ChangesResult>;
}

export class ChangeFeed {
  private readonly recent = new Map<string, Entry>();
  private readonly stop: () => void;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly maxAgeMs = 1_000,
  ) {
    // A commit makes every answer incomplete: forget them all.
    this.stop = store.onCommit(() => this.recent.clear());
  }

  changesSince(since: number, limit: number): Promise<ChangesResult> {
    const key = `${since}/${limit}`;
    const now = this.clock.now();
    const hit = this.recent.get(key);
    if (hit && now - hit.at < this.maxAgeMs) return hit.result;
    // Streams sit at a handful of cursors; many entries means old ones nobody asks for again.
    if (this.recent.size > 1_000) this.recent.clear();
    const entry: Entry = { at: now, result: this.store.changesSince(since, limit) };
    this.recent.set(key, entry);
    entry.result.catch(() => {
      if (this.recent.get(key) === entry) this.recent.delete(key);
    });
    return entry.result;
  }

  close(): void {
    this.stop();
    this.recent.clear();
  }
}
