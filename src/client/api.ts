/**
 * HTTP client for the hypernet server's Neutron v2.0 API, shared by the agent, the lab and the CLI.
 * The endpoint is `http://host:port` or `unix:/path/to/server.sock` (the lab's agents live in other
 * network namespaces and reach the server through its Unix socket).
 */
import http from 'node:http';
import type { WatchMessage } from '../model/watch.js';

export interface ApiClientOptions {
  /** `http://127.0.0.1:9696` or `unix:/var/lib/hypernet/server.sock`. */
  url: string;
  token?: string;
  timeoutMs?: number;
}

/** A NeutronError answered by the server, or a transport failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly detail: string = '',
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

type Query = Record<string, string | number | boolean | readonly (string | number | boolean)[] | undefined>;

function queryString(q?: Query): string {
  if (!q) return '';
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) sp.append(k, String(one));
  }
  const s = sp.toString();
  return s ? `?${s}` : '';
}

export class ApiClient {
  private readonly socketPath?: string;
  private readonly host: string;
  private readonly port: number;
  private readonly basePath: string;

  constructor(private readonly opts: ApiClientOptions) {
    if (opts.url.startsWith('unix:')) {
      this.socketPath = opts.url.slice('unix:'.length).replace(/^\/\/(?=\/)/, '');
      this.host = 'localhost';
      this.port = 0;
      this.basePath = '';
    } else {
      const u = new URL(opts.url);
      this.host = u.hostname;
      this.port = Number(u.port || 80);
      this.basePath = u.pathname.replace(/\/$/, '');
    }
  }

  /** The options of one request to `path` (TCP or Unix socket, with the token): for streaming callers. */
  requestOptions(method: string, path: string, headers: Record<string, string>): http.RequestOptions {
    const h: Record<string, string> = { accept: 'application/json', ...headers };
    if (this.opts.token) h['x-auth-token'] = this.opts.token;
    return this.socketPath
      ? { socketPath: this.socketPath, method, path, headers: h }
      : { host: this.host, port: this.port, method, path: this.basePath + path, headers: h };
  }

  /** One request; resolves with any HTTP status (no throw), rejects only on transport failure. */
  raw(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const h = { ...headers };
      if (payload !== undefined) h['content-type'] = 'application/json';
      const req = http.request(this.requestOptions(method, path, h), (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          if (text && (res.headers['content-type'] ?? '').includes('json')) {
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = text;
            }
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? parsed : undefined });
        });
        res.on('error', reject);
      });
      req.setTimeout(this.opts.timeoutMs ?? 30_000, () => req.destroy(new Error(`timeout: ${method} ${path}`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** One request that throws ApiError unless the status is 2xx. */
  async call<T = unknown>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
    let res: RawResponse;
    try {
      res = await this.raw(method, path, body, headers);
    } catch (e) {
      throw new ApiError(0, 'ConnectionFailed', `cannot reach ${this.opts.url}: ${(e as Error).message}`);
    }
    if (res.status >= 200 && res.status < 300) return res.body as T;
    const ne = (res.body as { NeutronError?: { type?: string; message?: string; detail?: string } } | undefined)
      ?.NeutronError;
    throw new ApiError(
      res.status,
      ne?.type ?? `HTTP${res.status}`,
      ne?.message ?? String(res.body ?? `HTTP ${res.status}`),
      ne?.detail ?? '',
    );
  }

  async list<T = Record<string, unknown>>(plural: string, query?: Query): Promise<T[]> {
    const body = await this.call<Record<string, T[]>>('GET', `/v2.0/${plural}${queryString(query)}`);
    return body[plural.replace(/-/g, '_')] ?? [];
  }

  async show<T = Record<string, unknown>>(plural: string, singular: string, id: string): Promise<T> {
    return (await this.call<Record<string, T>>('GET', `/v2.0/${plural}/${encodeURIComponent(id)}`))[singular];
  }

  async create<T = Record<string, unknown>>(
    plural: string,
    singular: string,
    obj: Record<string, unknown>,
  ): Promise<T> {
    return (await this.call<Record<string, T>>('POST', `/v2.0/${plural}`, { [singular]: obj }))[singular];
  }

  async update<T = Record<string, unknown>>(
    plural: string,
    singular: string,
    id: string,
    obj: Record<string, unknown>,
  ): Promise<T> {
    return (
      await this.call<Record<string, T>>('PUT', `/v2.0/${plural}/${encodeURIComponent(id)}`, { [singular]: obj })
    )[singular];
  }

  async delete(plural: string, id: string): Promise<void> {
    await this.call('DELETE', `/v2.0/${plural}/${encodeURIComponent(id)}`);
  }

  /**
   * Follows the watch stream (see model/watch.ts). Calls `onMessage` for every line, in order.
   * Resolves when the server closes the stream or `signal` aborts; throws ApiError on a non-200 answer
   * (410 WatchRevisionCompacted means: resync without `since`).
   */
  watch(since: number | undefined, onMessage: (m: WatchMessage) => void, signal?: AbortSignal): Promise<void> {
    const path = `/v2.0/watch${since === undefined ? '' : `?since=${since}`}`;
    return new Promise((resolve, reject) => {
      const req = http.request(this.requestOptions('GET', path, { accept: 'application/x-ndjson' }), (res) => {
        if (res.statusCode !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            let ne: { type?: string; message?: string } | undefined;
            try {
              ne = JSON.parse(Buffer.concat(chunks).toString('utf8')).NeutronError;
            } catch {
              /* not JSON */
            }
            reject(
              new ApiError(
                res.statusCode ?? 0,
                ne?.type ?? 'WatchFailed',
                ne?.message ?? `watch: HTTP ${res.statusCode}`,
              ),
            );
          });
          return;
        }
        res.setEncoding('utf8');
        let buf = '';
        res.on('data', (chunk: string) => {
          buf += chunk;
          for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (!line) continue;
            try {
              onMessage(JSON.parse(line) as WatchMessage);
            } catch (e) {
              req.destroy(e as Error);
              return;
            }
          }
        });
        res.on('end', () => resolve());
        res.on('error', reject);
      });
      req.on('error', (e) => (signal?.aborted ? resolve() : reject(new ApiError(0, 'ConnectionFailed', e.message))));
      signal?.addEventListener('abort', () => req.destroy(), { once: true });
      req.end();
    });
  }
}
