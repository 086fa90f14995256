/**
 * The browser's way to the server: same-origin fetch with the token (X-Auth-Token, kept in
 * localStorage; token mode asks for it), NeutronError messages, and the watch stream read through
 * fetch + ReadableStream (NDJSON), reconnecting with `since` and resyncing after 410.
 */
import type { WatchMessage } from '../../model/watch.js';
import { LineSplitter } from './ndjson.js';

const TOKEN_KEY = 'hypernet.token';

export class AuthRequired extends Error {}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function getToken(): string {
  return localStorage.getItem(TOKEN_KEY) ?? '';
}

export function setToken(token: string): void {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const t = getToken();
  return { accept: 'application/json', ...(t ? { 'x-auth-token': t } : {}), ...extra };
}

async function errorOf(res: Response): Promise<Error> {
  if (res.status === 401) return new AuthRequired('token required');
  let msg = `HTTP ${res.status}`;
  try {
    const body = (await res.json()) as { NeutronError?: { message?: string } };
    msg = body.NeutronError?.message ?? msg;
  } catch {
    /* not JSON */
  }
  return new HttpError(res.status, msg);
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: headers(body === undefined ? {} : { 'content-type': 'application/json' }),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw await errorOf(res);
  return (res.status === 204 ? undefined : await res.json()) as T;
}

export interface WatchHandlers {
  revision(): number;
  message(m: WatchMessage): void;
  state(s: 'live' | 'connecting' | 'auth'): void;
}

/** Follows the watch stream forever (until `signal` aborts). */
export async function follow(h: WatchHandlers, signal: AbortSignal): Promise<void> {
  let resync = true;
  while (!signal.aborted) {
    const silent = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => silent.abort(), 30_000); // no heartbeat for 30 s: reconnect
    };
    signal.addEventListener('abort', () => silent.abort(), { once: true });
    try {
      h.state('connecting');
      const since = resync || h.revision() < 0 ? '' : `?since=${h.revision()}`;
      arm();
      const res = await fetch(`/v2.0/watch${since}`, {
        headers: headers({ accept: 'application/x-ndjson' }),
        signal: silent.signal,
      });
      if (res.status === 410) {
        resync = true;
        continue;
      }
      if (!res.ok || !res.body) throw await errorOf(res);
      resync = false;
      h.state('live');
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      const lines = new LineSplitter();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        arm();
        for (const line of lines.push(value)) h.message(JSON.parse(line) as WatchMessage);
      }
    } catch (e) {
      if (e instanceof AuthRequired) {
        h.state('auth');
        return;
      }
    } finally {
      clearTimeout(timer);
    }
    if (!signal.aborted) {
      h.state('connecting');
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
