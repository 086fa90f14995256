/**
 * Serves the built dashboard (dist/ui, from `npm run build:ui`) at /ui on the server's fastify app.
 * A small static handler: fixed content types, no path escapes, index.html for /ui/, long caching
 * for the hashed assets. The page itself needs no token; it asks for one and sends X-Auth-Token
 * on its API calls, which the server checks as usual.
 */
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { faults, toNeutronError } from './errors.js';

export interface UiOptions {
  /** The built files (default: dist/ui of this checkout). */
  dir?: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** dist/ui next to this module once compiled (dist/src/server/ui-static.js → dist/ui). */
export function defaultUiDir(): string {
  return fileURLToPath(new URL('../../ui/', import.meta.url));
}

/** The file under `dir` for a request path below /ui/, or null if it would leave `dir`. Pure. */
export function uiFile(dir: string, rest: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rest.split('?')[0]);
  } catch {
    return null; // a bad escape (e.g. a literal '%') names no file
  }
  const rel = decoded.replace(/^\/+/, '') || 'index.html';
  const full = normalize(join(dir, rel));
  const root = normalize(dir.endsWith(sep) ? dir : dir + sep);
  return full.startsWith(root) ? full : null;
}

/** Neutron's 404 body, also on an app without the server's error handler (the tests' bare one). */
function notFound(reply: FastifyReply, rest: string): FastifyReply {
  const { status, body } = toNeutronError(faults.resourceNotFound(`/ui/${rest}`));
  return reply.code(status).type('application/json').send(body);
}

export async function registerUi(app: FastifyInstance, opts: UiOptions = {}): Promise<void> {
  const dir = opts.dir ?? defaultUiDir();
  const send = async (reply: FastifyReply, rest: string) => {
    const file = uiFile(dir, rest);
    if (!file) return notFound(reply, rest);
    let body: Buffer;
    try {
      body = await readFile(file);
    } catch {
      if (rest === '' || rest === 'index.html') {
        return reply.code(503).type('text/plain').send('dashboard not built: run `npm run build:ui`');
      }
      return notFound(reply, rest);
    }
    const immutable = file.includes(`${sep}assets${sep}`);
    return reply
      .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .type(TYPES[extname(file)] ?? 'application/octet-stream')
      .send(body);
  };
  // '/ui' → '/ui/' (an app with ignoreTrailingSlash routes both here, so look at the URL itself)
  app.get('/ui', (req, reply) => (req.url.split('?')[0] === '/ui' ? reply.redirect('/ui/') : send(reply, '')));
  app.get('/ui/*', (req, reply) => send(reply, (req.params as { '*': string })['*'] ?? ''));
}
