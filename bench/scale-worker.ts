/**
 * A worker thread of bench:scale: owns the simulated agents `from`..`to`-1 (scale-agents.ts) and talks
 * to the main thread by messages. In: `stats` (answered with the bytes, compiles and memory so far) and
 * `stop`. Out: `started` once its agents are synced and registered, each `Reached` as it happens, and
 * `stopped`.
 */
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { SimAgents } from './scale-agents.js';

/** What the main thread hands each worker. */
export interface WorkerInput {
  urls: string[];
  from: number;
  to: number;
  batch: number;
  heartbeatMs: number;
}

/** A worker's counters, cumulative since it started. */
export interface WorkerStats {
  bytes: number;
  compileMs: number[];
  skipped: number;
  heapMb: number;
}

export type FromWorker =
  | { type: 'started' }
  | { type: 'reached'; stage: 'arrived' | 'compiled'; name: string; at: number }
  | { type: 'stats'; stats: WorkerStats }
  | { type: 'stopped' }
  | { type: 'failed'; error: string };

export type ToWorker = { type: 'stats' } | { type: 'stop' };

const port = parentPort!;
const input = workerData as WorkerInput;
const post = (m: FromWorker) => port.postMessage(m);
const agents = new SimAgents(input.urls, input.heartbeatMs, (r) => post({ type: 'reached', ...r }));

port.on('message', (m: ToWorker) => {
  if (m.type === 'stats') {
    const heapMb = getHeapStatistics().used_heap_size / 2 ** 20;
    post({
      type: 'stats',
      stats: { bytes: agents.lines.bytes, compileMs: agents.compileMs, skipped: agents.skipped, heapMb },
    });
  } else if (m.type === 'stop') {
    void agents.stop().finally(() => {
      post({ type: 'stopped' });
      port.close();
    });
  }
});

agents.start(input.from, input.to, input.batch).then(
  () => post({ type: 'started' }),
  (e: Error) => post({ type: 'failed', error: e.message }),
);
