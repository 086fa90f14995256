/**
 * The agent's metadata endpoint on a Unix socket (the per-network proxies reach it from their
 * namespaces): it finds the port behind (network, source address) in the latest compiled
 * identities, signs that identity with the shared secret and forwards the request to the server's
 * metadata tree, passing the answer back. An address no local port holds gets 404 and nothing is
 * forwarded, so a workload learns nothing of another's data.
 */
import { mkdir, rm } from 'node:fs/promises';
import http from 'node:http';
import { dirname } from 'node:path';
import type { ApiClient } from '../../client/api.js';
import type { Logger } from '../../common/log.js';
import { METADATA_PREFIX, signedHeaders } from '../../model/metadata-signature.js';
import { NETWORK_HEADER, SOURCE_HEADER } from './ns-proxy.js';
import type { MetadataDesired } from './types.js';

export interface MetadataSignerOptions {
  api: Pick<ApiClient, 'requestOptions'>;
  secret: string;
  socket: string;
  log: Logger;
  timeoutMs?: number;
}

/**
 * A path the metadata trees can have: absolute, plain characters, no dot segment, so that what is
 * forwarded stays below the server's metadata prefix whatever the workload wrote.
 */
export function isTreePath(url: string): boolean {
  const path = url.split('?')[0];
  return /^\/[A-Za-z0-9._\-/]*$/.test(path) && !path.split('/').some((p) => p === '.' || p === '..');
}

export class MetadataSigner {
  private identities: MetadataDesired['identities'] = new Map();
  private server: http.Server | null = null;

  constructor(private readonly o: MetadataSignerOptions) {}

  /** Who is behind each address, from the latest compile. */
  update(identities: MetadataDesired['identities']): void {
    this.identities = identities;
  }

  get listening(): boolean {
    return this.server !== null;
  }

  async start(): Promise<void> {
    if (this.server) return;
    await mkdir(dirname(this.o.socket), { recursive: true });
    await rm(this.o.socket, { force: true });
    const server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.socket, () => resolve());
    });
    this.server = server;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const one = (h: string) => (typeof req.headers[h] === 'string' ? (req.headers[h] as string) : '');
    const id = this.identities.get(one(NETWORK_HEADER))?.get(one(SOURCE_HEADER));
    const url = req.url ?? '';
    if (!id || (req.method !== 'GET' && req.method !== 'HEAD') || !isTreePath(url)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found\n');
      return;
    }
    const opts = this.o.api.requestOptions(req.method, `${METADATA_PREFIX}${url}`, signedHeaders(this.o.secret, id));
    // The path is the workload's: the agent's own API token never goes with it, only the signature.
    delete (opts.headers as Record<string, string>)['x-auth-token'];
    const up = http.request(opts, (r) => {
      res.writeHead(r.statusCode ?? 502, { 'content-type': r.headers['content-type'] ?? 'text/plain' });
      r.pipe(res);
    });
    up.setTimeout(this.o.timeoutMs ?? 10_000, () => up.destroy(new Error('timeout')));
    up.on('error', (e) => {
      this.o.log.warn({ err: e.message }, 'metadata: server unreachable');
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('metadata: server unreachable\n');
    });
    up.end();
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    await rm(this.o.socket, { force: true });
  }
}
