/**
 * What the server's and the agent's Prometheus metrics share: a fresh registry per instance (several
 * servers or agents in one process, as in tests and the simulator, must not mix their figures) with
 * prom-client's process metrics under a prefix, and the latency buckets both use.
 */
import client from 'prom-client';

/** Buckets from 1 ms to 10 s: API requests, store writes and reconcile steps live in that range. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A registry holding the process metrics (memory, CPU, event-loop lag) named `<prefix>process_*` etc. */
export function processRegistry(prefix: string): client.Registry {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix });
  return registry;
}
