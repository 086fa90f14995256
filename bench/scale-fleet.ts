/**
 * The main thread's side of bench:scale's simulated agents: splits them over worker threads
 * (scale-worker.ts), each owning its agents' streams, caches and compiles, so the simulator uses every
 * core rather than one event loop. Collects the workers' reports into one time per create: it reached
 * every agent when the last worker said all its agents had it.
 */
import { Worker } from 'node:worker_threads';
import type { FromWorker, ToWorker, WorkerInput, WorkerStats } from './scale-worker.js';

/**
 * When a timed create's POST left, how many workers reported each stage and the latest such report,
 * and when every worker had reported it (ms, wall clock).
 */
export interface Pending {
  sentAt: number;
  arrived: number;
  latestArrived: number;
  arrivedAt?: number;
  compiled: number;
  latestCompiled: number;
  compiledAt?: number;
}

/** A create about to be sent at `sentAt`, not reported by any worker yet. */
export const pendingAt = (sentAt: number): Pending => ({
  sentAt,
  arrived: 0,
  latestArrived: 0,
  compiled: 0,
  latestCompiled: 0,
});

export class WorkerFleet {
  readonly pending = new Map<string, Pending>();
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<Worker, (m: FromWorker) => void>();

  /** `batch`: agents started at once over all workers (each waits for its previous ones to sync). */
  constructor(
    private readonly urls: string[],
    private readonly heartbeatMs: number,
    private readonly batch = 50,
  ) {}

  get size(): number {
    return this.workers.length;
  }

  /** Starts `agents` agents over `threads` workers and resolves when all are synced and registered. */
  async start(agents: number, threads: number): Promise<void> {
    const n = Math.max(1, Math.min(threads, agents));
    const starts: Promise<FromWorker>[] = [];
    for (let w = 0; w < n; w++) {
      const input: WorkerInput = {
        urls: this.urls,
        from: Math.floor((w * agents) / n),
        to: Math.floor(((w + 1) * agents) / n),
        batch: Math.max(1, Math.ceil(this.batch / n)),
        heartbeatMs: this.heartbeatMs,
      };
      const worker = new Worker(new URL('./scale-worker.js', import.meta.url), { workerData: input });
      worker.on('message', (m: FromWorker) => this.onMessage(worker, m));
      worker.on('error', (e) => this.onMessage(worker, { type: 'failed', error: e.message }));
      this.workers.push(worker);
      starts.push(this.next(worker));
    }
    for (const m of await Promise.all(starts))
      if (m.type !== 'started') throw new Error(`a simulator worker failed: ${JSON.stringify(m)}`);
  }

  /** Every worker's counters now. */
  async stats(): Promise<WorkerStats[]> {
    return Promise.all(
      this.workers.map(async (w) => {
        const answer = this.next(w);
        w.postMessage({ type: 'stats' } satisfies ToWorker);
        const m = await answer;
        if (m.type !== 'stats') throw new Error(`a simulator worker answered ${m.type}`);
        return m.stats;
      }),
    );
  }

  /** Stops every agent (watch streams closed, heartbeats ended), then the workers. */
  async stop(): Promise<void> {
    await Promise.all(
      this.workers.map(async (w) => {
        // A worker that ends by itself writes its --cpu-prof profile; one that hangs is terminated.
        const exited = new Promise((r) => w.once('exit', r));
        w.postMessage({ type: 'stop' } satisfies ToWorker);
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        await w.terminate();
      }),
    );
  }

  /** The next message of `worker` other than a report. */
  private next(worker: Worker): Promise<FromWorker> {
    return new Promise((resolve) => this.waiting.set(worker, resolve));
  }

  private onMessage(worker: Worker, m: FromWorker): void {
    if (m.type === 'reached') {
      const p = this.pending.get(m.name);
      if (!p) return;
      if (m.stage === 'arrived') {
        p.latestArrived = Math.max(p.latestArrived, m.at);
        if (++p.arrived === this.workers.length) p.arrivedAt = p.latestArrived;
      } else {
        p.latestCompiled = Math.max(p.latestCompiled, m.at);
        if (++p.compiled === this.workers.length) p.compiledAt = p.latestCompiled;
      }
      return;
    }
    const waiter = this.waiting.get(worker);
    this.waiting.delete(worker);
    waiter?.(m);
  }
}
