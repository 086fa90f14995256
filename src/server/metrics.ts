/**
 * The server's Prometheus metrics (prom-client), one registry per app so that several servers in one
 * process (tests, the simulator) do not mix their figures: requests by route, method and status with
 * their latency, store write latency and failures, open watch streams and the store's revision, plus
 * prom-client's process metrics (memory, CPU, event-loop lag). Served by health.ts on `/metrics`.
 */
import client from 'prom-client';
import type { Store, TxCount, TxKind } from './store/store.js';
import { LATENCY_BUCKETS as BUCKETS, processRegistry } from '../common/prometheus.js';

export interface ServerMetrics {
  registry: client.Registry;
  requests: client.Counter<'method' | 'route' | 'status'>;
  requestSeconds: client.Histogram<'method' | 'route' | 'status'>;
  storeWriteSeconds: client.Histogram<'outcome'>;
  watchClients: client.Gauge;
  revision: client.Gauge;
  customRouteFailovers: client.Counter<'cloud'>;
  customRouteFailoverSeconds: client.Histogram<'cloud'>;
}

export function createServerMetrics(): ServerMetrics {
  const registry = processRegistry('hypernet_server_');
  const registers = [registry];
  return {
    registry,
    requests: new client.Counter({
      name: 'hypernet_http_requests_total',
      help: 'API requests answered, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    requestSeconds: new client.Histogram({
      name: 'hypernet_http_request_duration_seconds',
      help: 'API request latency, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      buckets: BUCKETS,
      registers,
    }),
    storeWriteSeconds: new client.Histogram({
      name: 'hypernet_store_write_duration_seconds',
      help: 'Store write transactions, lock wait included, by outcome (ok or error)',
      labelNames: ['outcome'],
      buckets: BUCKETS,
      registers,
    }),
    watchClients: new client.Gauge({
      name: 'hypernet_watch_clients',
      help: 'Watch streams open on this server',
      registers,
    }),
    revision: new client.Gauge({
      name: 'hypernet_store_revision',
      help: 'Last store revision this server has heard of (compare across servers: a lagging one is stuck)',
      registers,
    }),
    customRouteFailovers: new client.Counter({
      name: 'hypernet_custom_route_failovers_total',
      help: "Custom-route failovers this server did: a dead hyperswitch's ports rebound to a standby",
      labelNames: ['cloud'],
      registers,
    }),
    customRouteFailoverSeconds: new client.Histogram({
      name: 'hypernet_custom_route_failover_seconds',
      help: "Custom-route failover: from the dead hyperswitch's last heartbeat to its routes replaced",
      labelNames: ['cloud'],
      buckets: [1, 2, 5, 10, 15, 20, 30, 45, 60, 120, 300],
      registers,
    }),
  };
}

/**
 * The store seen through the metrics: every write is timed, and every commit heard moves the revision
 * gauge (the returned `stop` unsubscribes). Reads are not timed: the request histogram has them.
 */
export function instrumentStore(store: Store, m: ServerMetrics): { store: Store; stop: () => void } {
  const stop = store.onCommit((r) => m.revision.set(r));
  if (store.roundTrips) countRoundTrips(store.roundTrips.bind(store), m.registry);
  const timed: Store = {
    read: (fn) => store.read(fn),
    async write(fn) {
      const end = m.storeWriteSeconds.startTimer();
      try {
        const r = await store.write(fn);
        end({ outcome: 'ok' });
        return r;
      } catch (e) {
        end({ outcome: 'error' });
        throw e;
      }
    },
    writeQuiet: (fn) => store.writeQuiet(fn),
    schemaVersion: () => store.schemaVersion(),
    changesSince: (since, limit) => store.changesSince(since, limit),
    onCommit: (l) => store.onCommit(l),
    close: () => store.close(),
  };
  return { store: timed, stop };
}

/**
 * The store's transactions and database round trips by kind, read from the store at each scrape:
 * round trips per transaction is what a write costs under the writers' lock (docs/performance.md).
 */
function countRoundTrips(read: () => Record<TxKind, TxCount>, registry: client.Registry): void {
  const counter = (name: string, help: string, field: keyof TxCount) => {
    const seen: Partial<Record<TxKind, number>> = {};
    new client.Counter({
      name,
      help,
      labelNames: ['kind'],
      registers: [registry],
      collect() {
        for (const [kind, c] of Object.entries(read()) as [TxKind, TxCount][]) {
          this.inc({ kind }, c[field] - (seen[kind] ?? 0));
          seen[kind] = c[field];
        }
      },
    });
  };
  counter(
    'hypernet_store_transactions_total',
    'Store transactions begun, by kind (read, write, quiet)',
    'transactions',
  );
  counter('hypernet_store_round_trips_total', 'Database round trips of store transactions, by kind', 'roundTrips');
}
