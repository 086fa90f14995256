/**
 * The agent's `--metrics-listen` endpoint, without a token (it shows no tenant data): `/healthz`
 * answers while the process runs, `/readyz` 200 once `notReady()` has no reason left (model synced and
 * a first full pass succeeded, see main.ts) and 503 with the reason before, `/metrics` the Prometheus
 * text of a registry. Plain node:http: three fixed GET routes need no framework in the agent.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type client from 'prom-client';

export interface ProbeOptions {
  host: string;
  port: number;
  registry: client.Registry;
  /** Why the agent is not ready, or null when it is. */
  notReady: () => string | null;
}

export interface Probes {
  /** `http://host:port` as bound (the port chosen when 0 was asked). */
  readonly url: string;
  close(): Promise<void>;
}

function json(res: import('node:http').ServerResponse, code: number, body: object): void {
  res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

export async function serveProbes(o: ProbeOptions): Promise<Probes> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { status: 'method not allowed' });
    if (path === '/healthz') return json(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      const reason = o.notReady();
      return reason === null ? json(res, 200, { status: 'ready' }) : json(res, 503, { status: 'unavailable', reason });
    }
    if (path === '/metrics') {
      o.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': o.registry.contentType }).end(text),
        (e: Error) => json(res, 500, { status: 'error', reason: e.message }),
      );
      return;
    }
    json(res, 404, { status: 'not found' });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(o.port, o.host, resolve));
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return {
    url: `http://${host}:${a.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
