/**
 * WAL checkpoints off the request path: a worker thread with its own connection runs a PASSIVE
 * checkpoint every `intervalMs` (the main connection has auto-checkpoint off). A checkpoint fsyncs
 * the database file, which on a busy disk can take seconds; in a worker it never stalls a request.
 */
import Database from 'better-sqlite3';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

export function startCheckpointer(file: string, intervalMs = 500): Worker {
  const w = new Worker(new URL(import.meta.url), { workerData: { file, intervalMs } });
  w.unref();
  return w;
}

if (!isMainThread && parentPort && (workerData as { file?: string })?.file) {
  const { file, intervalMs } = workerData as { file: string; intervalMs: number };
  const db = new Database(file);
  db.pragma('busy_timeout = 5000');
  const timer = setInterval(() => {
    try {
      db.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      /* busy: next round */
    }
  }, intervalMs);
  parentPort.on('message', (m) => {
    if (m === 'stop') {
      clearInterval(timer);
      db.close();
      parentPort!.postMessage('stopped');
    }
  });
}
