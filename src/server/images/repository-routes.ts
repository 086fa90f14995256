/**
 * The repository's read endpoint: what a HyperVM's puller fetches with its single-use token.
 *
 *   GET {base}/images/{id}/index.json              starts the pull (once per token)
 *   GET {base}/images/{id}/blobs/sha256/{hex}      each blob of the image, once per token
 *   PUT {base}/images/{id}/file                    a node's export into a queued image (upload token)
 *
 * with `Authorization: Bearer TOKEN`, from the address the token is bound to. The paths mirror the
 * layout's own, so the puller writes what it reads where it read it from. Served on its own
 * listener when `repository_listen` is set (bind it to the provider network only), else on the API
 * port under `/repository`. Refusals answer `{"error": {"reason", "message"}}` with 401 or 403.
 */
import { createReadStream } from 'node:fs';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Readable } from 'node:stream';
import type { Logger } from '../../common/log.js';
import { toGlanceError } from './glance-errors.js';
import type { ImageService } from './service.js';
import { type PullStep, TokenRefused } from './tokens.js';

const bearer = (req: FastifyRequest): string | undefined => {
  const h = req.headers.authorization;
  const m = typeof h === 'string' ? /^Bearer\s+(\S+)$/i.exec(h) : null;
  return m ? m[1] : undefined;
};

/**
 * The puller's address: the TCP peer; on the Unix socket (no peer address, only root can open it) the
 * address a relay names (the lab's repository relay, which listens where the HyperVM nodes are).
 */
const peerAddress = (req: FastifyRequest): string | undefined => {
  if (req.socket.remoteAddress !== undefined) return req.socket.remoteAddress;
  const relayed = req.headers['x-hypernet-relay-peer'];
  return typeof relayed === 'string' && relayed ? relayed : undefined;
};

const refusal = (reply: FastifyReply, status: number, reason: string, message: string) =>
  reply.code(status).type('application/json').send({ error: { reason, message } });

export function registerRepository(app: FastifyInstance, images: ImageService, base = ''): void {
  const serve = (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply, step: PullStep) => {
    try {
      const f = images.pull(bearer(req), req.params.id, peerAddress(req), step);
      return reply.header('content-length', f.size).type(f.contentType).send(createReadStream(f.path));
    } catch (e) {
      if (e instanceof TokenRefused) return refusal(reply, e.status, e.reason, e.message);
      throw e;
    }
  };
  app.get<{ Params: { id: string } }>(`${base}/images/:id/index.json`, (req, reply) =>
    serve(req, reply, { kind: 'index' }),
  );
  app.get<{ Params: { id: string; hex: string } }>(`${base}/images/:id/blobs/sha256/:hex`, (req, reply) => {
    if (!/^[a-f0-9]{64}$/.test(req.params.hex)) return refusal(reply, 404, 'not_found', 'no such blob');
    return serve(req, reply, { kind: 'blob', digest: `sha256:${req.params.hex}` });
  });
  // A HyperVM node's export (snapshot, migration), with its single-use upload token; the body stays a
  // stream, checked as it arrives like any push.
  app.register(async (sub) => {
    sub.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));
    sub.put<{ Params: { id: string } }>(`${base}/images/:id/file`, async (req, reply) => {
      reply.header('connection', 'close');
      try {
        await images.uploadWithToken(bearer(req), req.params.id, peerAddress(req), req.body as Readable);
        return reply.code(204).send();
      } catch (e) {
        if (e instanceof TokenRefused) return refusal(reply, e.status, e.reason, e.message);
        const { status, body } = toGlanceError(e);
        if (status >= 500) throw e;
        return refusal(reply, status, 'refused', body.message);
      }
    });
  });
}

/** The repository alone, for its own listener (`repository_listen`). */
export async function buildRepositoryApp(images: ImageService, logger: Logger): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: logger as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.setNotFoundHandler((_req, reply) => refusal(reply, 404, 'not_found', 'no such repository path'));
  app.setErrorHandler((err, req, reply) => {
    req.log.error({ err }, 'repository request failed');
    return refusal(reply, 500, 'internal', 'internal error');
  });
  registerRepository(app, images);
  await app.ready();
  return app;
}
