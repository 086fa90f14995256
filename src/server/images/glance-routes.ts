/**
 * Glance v2's images API, mounted under `/image` on the API port (as devstack mounts Glance), so
 * one server answers both: the stock client finds it with `--os-endpoint http://HOST:PORT/image/v2`
 * (any auth type; with `--os-auth-type none` also `…/image`, through version discovery). An encapsulated fastify plugin with its
 * own error handler (Glance's error body), the JSON-patch media types, and a raw stream for
 * `PUT …/file` (so an upload is never buffered in memory). Plus one hypernet call:
 * `POST /v2/images/{id}/repository_tokens` issues a single-use pull token.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { archiveChunks, archiveSize } from '../../common/oci-archive.js';
import type { Caller } from '../auth.js';
import { contextOf, hrefBase, type RouteDeps } from '../routes.js';
import type { MemberRecord } from './catalog.js';
import { glance, glanceBody, toGlanceError } from './glance-errors.js';
import { parseCreate, parseListQuery, parsePatch, present } from './glance-wire.js';
import type { ImageService } from './service.js';

export const IMAGE_PREFIX = '/image';

const PATCH_TYPES = [
  'application/openstack-images-v2.1-json-patch',
  'application/openstack-images-v2.0-json-patch',
  'application/json-patch+json',
];

type IdParams = { Params: { id: string } };
type TagParams = { Params: { id: string; tag: string } };
type MemberParams = { Params: { id: string; member: string } };

function memberWire(m: MemberRecord) {
  return { ...m, schema: '/v2/schemas/member' };
}

export async function glancePlugin(app: FastifyInstance, opts: { deps: RouteDeps; images: ImageService }) {
  const { images } = opts;
  const caller = (req: FastifyRequest): Caller => contextOf(opts.deps, req).caller;

  app.setErrorHandler((err, req, reply) => {
    const { status, body } = toGlanceError(err);
    if (status >= 500) req.log.error({ err }, 'image request failed');
    // A refused upload may still be arriving: end the connection rather than read all of it.
    if (req.method === 'PUT' && req.url.endsWith('/file')) reply.header('connection', 'close');
    return reply.code(status).type('application/json').send(body);
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send(glanceBody(404, `The resource could not be found: ${req.url}`)),
  );
  app.addContentTypeParser(PATCH_TYPES, { parseAs: 'string' }, (_req, text, done) => {
    try {
      done(null, JSON.parse(text as string));
    } catch {
      done(glance.badRequest('Malformed JSON in request body.'), undefined);
    }
  });
  // The upload stays a stream: the service checks it as it arrives and bounds its size itself.
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

  const versions = (req: FastifyRequest, reply: FastifyReply) => {
    const href = `${hrefBase(req)}${IMAGE_PREFIX}/v2/`;
    const v = (id: string, status: string) => ({ id, status, links: [{ rel: 'self', href }] });
    return reply.send({ versions: [v('v2.9', 'CURRENT'), v('v2.0', 'SUPPORTED')] });
  };
  app.get('/', versions);
  app.get('/versions', versions);
  // An endpoint given as …/image/v2 is probed there first (keystoneauth's discovery).
  app.get('/v2', versions);

  app.get('/v2/images', async (req) => {
    const i = req.url.indexOf('?');
    const q = parseListQuery(i < 0 ? '' : req.url.slice(i + 1));
    const { items, next } = images.list(caller(req), q);
    const body: Record<string, unknown> = {
      images: items.map(present),
      first: '/v2/images',
      schema: '/v2/schemas/images',
    };
    if (next) body.next = next;
    return body;
  });
  app.post('/v2/images', async (req, reply) => {
    const img = images.create(caller(req), parseCreate(req.body));
    return reply
      .code(201)
      .header('location', `${hrefBase(req)}${IMAGE_PREFIX}/v2/images/${img.id}`)
      .send(present(img));
  });
  app.get<IdParams>('/v2/images/:id', async (req) => present(images.get(caller(req), req.params.id)));
  app.patch<IdParams>('/v2/images/:id', async (req) => {
    const type = String(req.headers['content-type'] ?? '')
      .split(';')[0]
      .trim();
    if (!PATCH_TYPES.includes(type)) throw glance.unsupportedMedia(`Unsupported Content-Type: use ${PATCH_TYPES[0]}`);
    return present(images.update(caller(req), req.params.id, parsePatch(req.body)));
  });
  app.delete<IdParams>('/v2/images/:id', async (req, reply) => {
    await images.remove(caller(req), req.params.id);
    return reply.code(204).send();
  });

  app.put<IdParams>('/v2/images/:id/file', async (req, reply) => {
    if (!(req.body instanceof Readable))
      throw glance.unsupportedMedia('Image data must be sent as application/octet-stream.');
    await images.upload(caller(req), req.params.id, req.body);
    return reply.code(204).send();
  });
  app.get<IdParams>('/v2/images/:id/file', async (req, reply) => {
    const { img, layout } = await images.download(caller(req), req.params.id);
    if (!layout) return reply.code(204).send();
    return reply
      .header('content-length', archiveSize(layout))
      .header('content-md5', img.checksum ?? '')
      .type('application/octet-stream')
      .send(Readable.from(archiveChunks(layout)));
  });

  app.put<TagParams>('/v2/images/:id/tags/:tag', async (req, reply) => {
    images.setTag(caller(req), req.params.id, req.params.tag, true);
    return reply.code(204).send();
  });
  app.delete<TagParams>('/v2/images/:id/tags/:tag', async (req, reply) => {
    images.setTag(caller(req), req.params.id, req.params.tag, false);
    return reply.code(204).send();
  });

  app.get<IdParams>('/v2/images/:id/members', async (req) => ({
    members: images.members(caller(req), req.params.id).map(memberWire),
    schema: '/v2/schemas/members',
  }));
  app.post<IdParams>('/v2/images/:id/members', async (req) => {
    const member = (req.body as { member?: unknown } | undefined)?.member;
    if (typeof member !== 'string' || member === '') throw glance.badRequest("Body must be {'member': PROJECT_ID}");
    return memberWire(images.addMember(caller(req), req.params.id, member));
  });
  app.get<MemberParams>('/v2/images/:id/members/:member', async (req) => {
    const m = images.members(caller(req), req.params.id).find((x) => x.member_id === req.params.member);
    if (!m) throw glance.notFound(`Member ${req.params.member} not found`);
    return memberWire(m);
  });
  app.put<MemberParams>('/v2/images/:id/members/:member', async (req) => {
    const status = (req.body as { status?: unknown } | undefined)?.status;
    return memberWire(images.setMemberStatus(caller(req), req.params.id, req.params.member, String(status)));
  });
  app.delete<MemberParams>('/v2/images/:id/members/:member', async (req, reply) => {
    images.removeMember(caller(req), req.params.id, req.params.member);
    return reply.code(204).send();
  });

  app.post<IdParams>('/v2/images/:id/repository_tokens', async (req, reply) => {
    const b = (req.body ?? {}) as { address?: unknown; ttl?: unknown };
    return reply.code(201).send({ repository_token: images.issueToken(caller(req), req.params.id, b.address, b.ttl) });
  });
}
