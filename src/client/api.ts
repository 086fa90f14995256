/**
 * HTTP client for the hypernet server's Neutron v2.0 API, shared by the agent, the lab and the CLI.
 * The endpoint is `http://host:port` or `unix:/path/to/server.sock` (the lab's agents live in other
 * network namespaces and reach the server through its Unix socket), or several of them separated by
 * commas: servers sharing one database. Requests go to one server at a time; when it cannot be
 * reached or answers 5xx, the client moves to the next and repeats the request there if repeating is
 * safe (not a POST, or a POST with an idempotency key, as `create` sends; or the request never left).
 * A watch stream that fails moves to the next server too; the caller resumes it with `since`.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { WatchMessage } from '../model/watch.js';

export interface ApiClientOptions {
  /** `http://127.0.0.1:9696` or `unix:/var/lib/hypernet/server.sock`, or several, comma-separated. */
  url: string;
  token?: string;
  timeoutMs?: number;
  /**
   * Turns one watch-stream line into its message (default `JSON.parse`). A process that holds many
   * streams of the same server (the scale simulator) can decode each line once and share the result.
   */
  decodeWatchLine?: (line: string) => WatchMessage;
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

/** The hypernet extension header that makes a create safe to repeat (server: idempotency.ts). */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

/** The URLs of a comma-separated server list. */
export function serverUrls(list: string): string[] {
  return list
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
}

export interface Endpoint {
  url: string;
  socketPath?: string;
  host: string;
  port: number;
  basePath: string;
}

function endpointOf(url: string): Endpoint {
  if (url.startsWith('unix:'))
    return {
      url,
      socketPath: url.slice('unix:'.length).replace(/^\/\/(?=\/)/, ''),
      host: 'localhost',
      port: 0,
      basePath: '',
    };
  const u = new URL(url);
  return { url, host: u.hostname, port: Number(u.port || 80), basePath: u.pathname.replace(/\/$/, '') };
}

/** Errors of a connection that was never made: the request did not reach any server. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOENT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);

export class ApiClient {
  private readonly endpoints: Endpoint[];
  private current = 0;

  constructor(private readonly opts: ApiClientOptions) {
    this.endpoints = serverUrls(opts.url).map(endpointOf);
    if (this.endpoints.length === 0) throw new Error(`no server URL in '${opts.url}'`);
  }

  /** The server requests go to now. */
  get url(): string {
    return this.endpoints[this.current].url;
  }

  /** Moves on from server `failed` to the next one, unless another failure moved already. */
  private failover(failed: number): void {
    if (this.endpoints.length < 2 || this.current !== failed) return;
    this.current = (failed + 1) % this.endpoints.length;
  }

  /** The options of one request to `path` (TCP or Unix socket, with the token): for streaming callers. */
  requestOptions(
    method: string,
    path: string,
    headers: Record<string, string>,
    ep: Endpoint = this.endpoints[this.current],
  ): http.RequestOptions {
    const h: Record<string, string> = { accept: 'application/json', ...headers };
    if (this.opts.token) h['x-auth-token'] = this.opts.token;
    return ep.socketPath
      ? { socketPath: ep.socketPath, method, path, headers: h }
      : { host: ep.host, port: ep.port, method, path: ep.basePath + path, headers: h };
  }

  /** One request to the current server; resolves with any HTTP status, rejects only on transport failure. */
  raw(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<RawResponse> {
    return this.rawAt(this.endpoints[this.current], method, path, body, headers);
  }

  private rawAt(
    ep: Endpoint,
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const h = { ...headers };
      if (payload !== undefined) h['content-type'] = 'application/json';
      const req = http.request(this.requestOptions(method, path, h, ep), (res) => {
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

  /**
   * One request that throws ApiError unless the status is 2xx. With several servers, a server that
   * cannot be reached or answers 5xx is left for the next, where the request is repeated when that
   * is safe; each server is tried at most once per call.
   */
  async call<T = unknown>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
    const repeatable = method !== 'POST' || Object.keys(headers ?? {}).includes(IDEMPOTENCY_KEY_HEADER);
    for (let attempt = 1; ; attempt++) {
      const at = this.current;
      const ep = this.endpoints[at];
      const last = attempt >= this.endpoints.length;
      let res: RawResponse;
      try {
        res = await this.rawAt(ep, method, path, body, headers);
      } catch (e) {
        const notSent = NOT_SENT.has((e as NodeJS.ErrnoException).code ?? '');
        this.failover(at);
        if (!last && (repeatable || notSent)) continue;
        throw new ApiError(0, 'ConnectionFailed', `cannot reach ${ep.url}: ${(e as Error).message}`);
      }
      if (res.status >= 500) {
        this.failover(at);
        if (!last && repeatable) continue;
      }
      return this.answer<T>(res);
    }
  }

  private answer<T>(res: RawResponse): T {
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
    // The key makes the create safe to repeat on another server after a lost reply.
    const key = { [IDEMPOTENCY_KEY_HEADER]: randomUUID() };
    return (await this.call<Record<string, T>>('POST', `/v2.0/${plural}`, { [singular]: obj }, key))[singular];
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
  async watch(since: number | undefined, onMessage: (m: WatchMessage) => void, signal?: AbortSignal): Promise<void> {
    const at = this.current;
    try {
      await this.watchAt(this.endpoints[at], since, onMessage, signal);
    } catch (e) {
      // A refusal (4xx: 410 compacted, 403) would be the same elsewhere; anything else moves on.
      if (!(e instanceof ApiError && e.status >= 400 && e.status < 500)) this.failover(at);
      throw e;
    }
    // The server ended the stream (shutting down): the next one takes the resume.
    if (!signal?.aborted) this.failover(at);
  }

  private watchAt(
    ep: Endpoint,
    since: number | undefined,
    onMessage: (m: WatchMessage) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    const path = `/v2.0/watch${since === undefined ? '' : `?since=${since}`}`;
    return new Promise((resolve, reject) => {
      const req = http.request(this.requestOptions('GET', path, { accept: 'application/x-ndjson' }, ep), (res) => {
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
        const decode = this.opts.decodeWatchLine ?? ((l: string) => JSON.parse(l) as WatchMessage);
        let buf = '';
        res.on('data', (chunk: string) => {
          buf += chunk;
          for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (!line) continue;
            try {
              onMessage(decode(line));
            } catch (e) {
              req.destroy(e as Error);
              return;
            }
          }
        });
        res.on('end', () => resolve());
        res.on('error', (e) => (signal?.aborted ? resolve() : reject(new ApiError(0, 'ConnectionFailed', e.message))));
      });
      req.on('error', (e) => (signal?.aborted ? resolve() : reject(new ApiError(0, 'ConnectionFailed', e.message))));
      signal?.addEventListener('abort', () => req.destroy(), { once: true });
      req.end();
    });
  }
}
