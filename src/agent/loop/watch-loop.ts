/**
 * Follows the server's watch stream into the ModelCache: a snapshot first, then events; on
 * disconnect it retries with backoff and resumes `since` the last applied revision; on 410
 * (WatchRevisionCompacted) it takes a fresh snapshot. A stream silent for `staleMs` (no heartbeat)
 * is dropped and reopened. `connected` tells the reconciler whether the model is live. `retryNow`
 * cuts a backoff short: the heartbeat saw the server answer again, so a stream will open now, and the
 * changes made meanwhile should not wait for the rest of a backoff of up to 10 s.
 */
import { ApiError, type ApiClient } from '../../client/api.js';
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';
import type { WatchEvent, WatchMessage } from '../../model/watch.js';
import { Backoff } from './backoff.js';
import type { ModelCache } from '../../model/model-cache.js';

export interface WatchLoopOptions {
  api: Pick<ApiClient, 'watch'>;
  cache: ModelCache;
  clock: Clock;
  log: Logger;
  /** Called after the model changed (snapshot or event). */
  onChange: () => void;
  /** Called with each event that changed the model (metrics: when a port change arrived). */
  onEvent?: (e: WatchEvent) => void;
  staleMs?: number;
}

export class WatchLoop {
  connected = false;
  private stopped = false;
  private abort: AbortController | null = null;
  private loop: Promise<void> | null = null;
  private needSnapshot = true;
  /** Aborts the backoff sleep between two attempts, while there is one. */
  private nap: AbortController | null = null;

  constructor(private readonly o: WatchLoopOptions) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    this.nap?.abort();
    await this.loop;
  }

  /** The server answers again: a retry waiting in its backoff goes now (nothing happens while connected). */
  retryNow(): void {
    this.nap?.abort();
  }

  private handle(m: WatchMessage): void {
    const { cache } = this.o;
    if (m.type === 'snapshot') {
      cache.applySnapshot(m);
      this.needSnapshot = false;
      this.connected = true;
      this.o.log.info({ revision: m.revision }, 'watch: snapshot');
      this.o.onChange();
    } else if (m.type === 'event') {
      this.connected = cache.ready;
      if (cache.applyEvent(m)) {
        this.o.onEvent?.(m);
        this.o.onChange();
      }
    } else if (m.type === 'heartbeat') {
      this.connected = cache.ready && !this.needSnapshot;
    }
  }

  private async run(): Promise<void> {
    const { api, cache, clock, log } = this.o;
    const staleMs = this.o.staleMs ?? 20_000;
    const backoff = new Backoff(250, 10_000);
    while (!this.stopped) {
      const since = this.needSnapshot || !cache.ready ? undefined : cache.revision;
      const ctrl = new AbortController();
      this.abort = ctrl;
      let last = clock.now();
      const watchdog = setInterval(
        () => {
          if (clock.now() - last > staleMs) {
            log.warn('watch: stream silent, reconnecting');
            ctrl.abort();
          }
        },
        Math.min(1_000, staleMs),
      );
      try {
        await api.watch(
          since,
          (m) => {
            last = clock.now();
            backoff.reset();
            this.handle(m);
          },
          ctrl.signal,
        );
      } catch (e) {
        if (e instanceof ApiError && e.status === 410) {
          log.info('watch: revision compacted, resyncing from a snapshot');
          this.needSnapshot = true;
        } else {
          log.warn({ err: (e as Error).message }, 'watch: stream failed');
        }
      } finally {
        clearInterval(watchdog);
        this.connected = false;
      }
      if (this.stopped) break;
      this.nap = new AbortController();
      await clock.sleep(backoff.next(), this.nap.signal);
      this.nap = null;
    }
  }
}
