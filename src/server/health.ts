/**
 * Probes and metrics for load balancers and monitoring, without authentication (they show no tenant
 * data): `/healthz` answers while the process serves HTTP; `/readyz` only when the store answers and
 * its schema is the version this server runs (a newer one means another server upgraded it: this one
 * must not take traffic); `/metrics` is the Prometheus text of metrics.ts. Every answered request is
 * counted and timed by its route pattern (`/v2.0/ports/:id`), so ids do not explode the label set.
 */
import type { FastifyInstance } from 'fastify';
import { SCHEMA_VERSION } from './store/migrations.js';
import type { Store } from './store/store.js';
import type { ServerMetrics } from './metrics.js';

export function registerHealth(app: FastifyInstance, store: Store, metrics: ServerMetrics): void {
  app.addHook('onResponse', async (req, reply) => {
    const labels = {
      method: req.method,
      route: req.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    };
    metrics.requests.inc(labels);
    metrics.requestSeconds.observe(labels, reply.elapsedTime / 1000);
  });

  app.get('/healthz', async (_req, reply) => reply.send({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    let version: number;
    try {
      version = await store.schemaVersion();
    } catch (e) {
      return reply.code(503).send({ status: 'unavailable', reason: `store: ${(e as Error).message}` });
    }
    if (version !== SCHEMA_VERSION)
      return reply
        .code(503)
        .send({ status: 'unavailable', reason: `schema version ${version}, this server runs ${SCHEMA_VERSION}` });
    return reply.send({ status: 'ready', schema_version: version });
  });

  app.get('/metrics', async (_req, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
}
