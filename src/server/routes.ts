/**
 * The generic Neutron wire layer, in one place for every resource: singular/plural envelopes,
 * POST 201 (single or atomic bulk) / PUT 200 / DELETE 204, If-Match `revision_number=N` (412),
 * list filters, sorting, pagination links and `fields=`, the `/tags` sub-resource, body validation
 * with zod (unknown attribute or wrong type → 400), visibility (invisible → 404, visible but not
 * yours → 403). Every write runs in ONE store transaction.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { Kind, KindMap } from '../model/types.js';
import type { ReadTx, Store, WriteTx } from './store/store.js';
import type { Clock } from '../common/clock.js';
import { authenticate, type AuthConfig } from './auth.js';
import type { ServerConfig } from './config.js';
import { faults } from './errors.js';
import { isWellFormed, tagProblem } from '../model/grammar/words.js';
import { applyFields, applyFilters, applyPagination, applySort, parseQuery, type Query } from './query.js';
import { mustGet, type Body, type BodySchema, type Ctx, type ResourceDef } from './resource.js';
import { checkBulkSize, checkTagCount } from './limits.js';
import { enforceQuota } from './quotas.js';
import { storeUpdate } from './store-update.js';
import type { HyperVmImages } from './resources/hypervm-images.js';
import { bodyDigest, idempotencyKeyOf, rememberCreate, replayOf } from './idempotency.js';
import { NeedsWriteLockError } from './store/store.js';

export interface RouteDeps {
  store: Store;
  clock: Clock;
  config: ServerConfig;
  auth: AuthConfig;
  /** The image catalog for the hypervms resource, when the server has one. */
  images?: HyperVmImages;
}

/** The request's X-Auth-Token header (the first, when sent twice). */
export function tokenOf(req: FastifyRequest): string | undefined {
  const token = req.headers['x-auth-token'];
  return Array.isArray(token) ? token[0] : token;
}

/**
 * Builds the request context: authenticates (401 without a valid token, except in noauth mode) and
 * holds a read-only caller (role `reader`) to GET and HEAD, as Neutron's default policy does.
 */
export function contextOf(deps: RouteDeps, req: FastifyRequest): Ctx {
  const caller = authenticate(deps.auth, tokenOf(req), req.raw);
  if (caller.readOnly && req.method !== 'GET' && req.method !== 'HEAD') {
    throw faults.forbidden(`(rule:${req.method.toLowerCase()}) is disallowed by policy: the reader role only reads`);
  }
  return { caller, config: deps.config, nowMs: deps.clock.now(), images: deps.images };
}

export function queryOf(req: FastifyRequest): Query {
  const i = req.url.indexOf('?');
  return parseQuery(i < 0 ? '' : req.url.slice(i + 1));
}

/** Validates one object body; the first zod issue becomes the 400 message. */
export function validate<S extends BodySchema>(schema: S, value: unknown, what: string): z.output<S> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw faults.badRequest(`Invalid input for ${what}. Reason: the body must be a JSON object.`, 'HTTPBadRequest');
  }
  const bad = illFormedString(value);
  if (bad !== undefined) throw faults.invalidInput(`Invalid input for ${bad || what}. Reason: ill-formed text`);
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') {
    throw faults.badRequest(`Unrecognized attribute(s) '${issue.keys.join(', ')}'`, 'HTTPBadRequest');
  }
  throw faults.invalidInput(`Invalid input for ${path || what}. Reason: ${issue.message}`);
}

/** The path of the first key or string value holding a lone surrogate, or undefined when none does. */
function illFormedString(v: unknown, path = ''): string | undefined {
  if (typeof v === 'string') return isWellFormed(v) ? undefined : path;
  if (typeof v !== 'object' || v === null) return undefined;
  for (const [k, x] of Object.entries(v)) {
    const here = path ? `${path}.${k}` : k;
    if (!isWellFormed(k)) return here;
    const bad = illFormedString(x, here);
    if (bad !== undefined) return bad;
  }
  return undefined;
}

/** The inner object of `{"<singular>": {...}}`. */
export function envelope(body: unknown, key: string): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw faults.badRequest('Resource body required', 'HTTPBadRequest');
  const b = body as Record<string, unknown>;
  if (!(key in b)) throw faults.badRequest(`Unable to find '${key}' in request body`, 'HTTPBadRequest');
  if (Object.keys(b).length !== 1)
    throw faults.badRequest(
      `Unrecognized attribute(s) '${Object.keys(b)
        .filter((k) => k !== key)
        .join(', ')}'`,
      'HTTPBadRequest',
    );
  return b[key];
}

/**
 * One item of a bulk create. Neutron takes each either bare or wrapped in its singular envelope
 * (`{"security_groups": [{"security_group": {...}}]}`, as neutron-tempest-plugin's client sends).
 */
function bulkItem(item: unknown, singular: string): unknown {
  const wrapped = typeof item === 'object' && item !== null && !Array.isArray(item) && singular in item;
  return wrapped ? envelope(item, singular) : item;
}

function ifMatch(req: FastifyRequest): number | undefined {
  const h = req.headers['if-match'];
  if (h === undefined) return undefined;
  const m = /revision_number=(\d+)/.exec(String(h));
  if (!m) throw faults.badRequest(`Invalid If-Match header: ${h}`, 'HTTPBadRequest');
  return Number(m[1]);
}

function present<K extends Kind>(def: ResourceDef<K>, ctx: Ctx, o: KindMap[K]): KindMap[K] {
  return def.present ? def.present(ctx, o) : o;
}

/** Loads an object the caller may change: invisible → 404, visible but someone else's → 403. */
export async function loadForWrite<K extends Kind>(
  def: ResourceDef<K>,
  ctx: Ctx,
  tx: WriteTx,
  id: string,
  action: string,
): Promise<KindMap[K]> {
  const visible = await def.visibility(ctx, tx);
  const obj = await mustGet(tx, def.kind, id, visible);
  const owner = (obj as { project_id?: string }).project_id;
  if (!ctx.caller.isAdmin && owner !== undefined && owner !== ctx.caller.projectId) {
    throw faults.forbidden(`(rule:${action}_${def.singular}) is disallowed by policy`);
  }
  return obj;
}

function checkRevision(req: FastifyRequest, obj: object): void {
  const expected = ifMatch(req);
  if (expected === undefined) return;
  const actual = (obj as { revision_number?: number }).revision_number ?? 0;
  if (expected !== actual) throw faults.preconditionFailed(expected, actual);
}

/**
 * An admin-only resource (agents) as Neutron's policy shows it to anyone else: it filters the list
 * (empty, not 403) and pretends an object it may not see does not exist (404).
 */
function hiddenFromNonAdmins<K extends Kind>(def: ResourceDef<K>): ResourceDef<K> {
  if (!def.adminOnly) return def;
  return { ...def, visibility: async (ctx, tx) => (ctx.caller.isAdmin ? def.visibility(ctx, tx) : () => false) };
}

export function registerResource<K extends Kind>(app: FastifyInstance, deps: RouteDeps, given: ResourceDef<K>): void {
  const { store } = deps;
  const def = hiddenFromNonAdmins(given);
  const base = `/v2.0/${def.path}`;
  const ctxOf = (req: FastifyRequest): Ctx => contextOf(deps, req);

  app.get(base, async (req, reply) => {
    const ctx = ctxOf(req);
    const q = queryOf(req);
    const load = async (tx: ReadTx) => {
      const visible = await def.visibility(ctx, tx);
      const all = (await tx.list(def.kind)).filter(visible);
      const shown = def.present ? all.map((o) => def.present!(ctx, o)) : all;
      const hidden = def.hiddenFilters ? await def.hiddenFilters(ctx, tx) : {};
      const filtered = applyFilters(shown, q, def.attributes, hidden);
      const sorted = applySort(filtered, q, def.attributes);
      return applyPagination(sorted, q, `${hrefBase(req)}${base}`);
    };
    // What beforeList creates (a project's default group) commits only with a list that succeeds:
    // a refused query (400) leaves the store as it was.
    const beforeList = def.beforeList;
    const page = beforeList
      ? await store.write(async (tx) => {
          await beforeList(ctx, tx);
          return load(tx);
        })
      : await store.read(load);
    const body: Record<string, unknown> = {
      [def.plural]: q.fields ? page.items.map((o) => applyFields(o, q)) : page.items,
    };
    if (page.links.length > 0) body[`${def.plural}_links`] = page.links;
    return reply.send(body);
  });

  app.get<{ Params: { id: string } }>(`${base}/:id`, async (req, reply) => {
    const ctx = ctxOf(req);
    const obj = await store.read(async (tx) => mustGet(tx, def.kind, req.params.id, await def.visibility(ctx, tx)));
    return reply.send({ [def.singular]: applyFields(present(def, ctx, obj), queryOf(req)) });
  });

  app.post(base, async (req, reply) => {
    const ctx = ctxOf(req);
    if (def.adminOnly && !ctx.caller.isAdmin)
      throw faults.forbidden(`(rule:create_${def.singular}) is disallowed by policy: admin only`);
    const b = req.body as Record<string, unknown> | undefined;
    const bulk = typeof b === 'object' && b !== null && !Array.isArray(b) && def.plural in b;
    const raw = bulk ? envelope(b, def.plural) : envelope(b, def.singular);
    if (bulk && (!Array.isArray(raw) || raw.length === 0))
      throw faults.badRequest(`Resources required: '${def.plural}' must be a non-empty list`, 'HTTPBadRequest');
    if (bulk) checkBulkSize(deps.config, (raw as unknown[]).length);
    const bodies = (bulk ? (raw as unknown[]).map((o) => bulkItem(o, def.singular)) : [raw]).map((o) =>
      validate(def.createSchema, o, def.singular),
    );
    const key = idempotencyKeyOf(req, ctx, base);
    const digest = key === undefined ? '' : bodyDigest(b);
    const created = await store.write(async (tx) => {
      const replay = key === undefined ? undefined : await replayOf(tx, key, digest);
      if (replay) return replay as KindMap[K][];
      await enforceQuota(ctx, tx, def.kind, bodies);
      const out: KindMap[K][] = [];
      for (const body of bodies) out.push(await def.create(ctx, tx, body));
      if (key !== undefined) await rememberCreate(tx, key, digest, out, deps.clock.now());
      return out;
    });
    const shown = created.map((o) => present(def, ctx, o));
    return reply.code(201).send(bulk ? { [def.plural]: shown } : { [def.singular]: shown[0] });
  });

  app.put<{ Params: { id: string } }>(`${base}/:id`, async (req, reply) => {
    const ctx = ctxOf(req);
    const body = validate(def.updateSchema, envelope(req.body, def.singular), def.singular);
    const work = async (tx: WriteTx) => {
      const current = await loadForWrite(def, ctx, tx, req.params.id, 'update');
      checkRevision(req, current);
      const next = await def.update(ctx, tx, current, body);
      if (next === undefined) return (await tx.get(def.kind, current.id))!;
      return storeUpdate(def, ctx, tx, next);
    };
    // A heartbeat tries without the writers' lock first; it takes the lock only if it changes more.
    const updated = def.quietUpdate?.(body)
      ? await store.writeQuiet(work).catch((e: unknown) => {
          if (e instanceof NeedsWriteLockError) return store.write(work);
          throw e;
        })
      : await store.write(work);
    return reply.send({ [def.singular]: present(def, ctx, updated) });
  });

  app.delete<{ Params: { id: string } }>(`${base}/:id`, async (req, reply) => {
    const ctx = ctxOf(req);
    await store.write(async (tx) => {
      const current = await loadForWrite(def, ctx, tx, req.params.id, 'delete');
      checkRevision(req, current);
      await def.remove(ctx, tx, current);
    });
    return reply.code(204).send();
  });

  if (def.taggable) registerTags(app, deps, def, ctxOf);
}

/** `/tags` sub-resource: GET/PUT/DELETE all tags, GET/PUT/DELETE one tag (each PUT/DELETE is an update). */
function registerTags<K extends Kind>(
  app: FastifyInstance,
  deps: RouteDeps,
  def: ResourceDef<K>,
  ctxOf: (req: FastifyRequest) => Ctx,
): void {
  const base = `/v2.0/${def.path}/:id/tags`;
  type P = { Params: { id: string; tag?: string } };
  const tagsOf = (o: KindMap[K]) => (o as unknown as { tags: string[] }).tags;
  const change = async (req: FastifyRequest<P>, f: (tags: string[]) => string[]): Promise<string[]> => {
    const ctx = ctxOf(req);
    return deps.store.write(async (tx) => {
      const current = await loadForWrite(def, ctx, tx, req.params.id, 'update');
      checkRevision(req, current);
      const tags = f(tagsOf(current));
      checkTagCount(tags);
      await storeUpdate(def, ctx, tx, { ...current, tags });
      return tags;
    });
  };
  const checkTag = (t: string) => {
    const problem = tagProblem(t);
    if (problem) throw faults.invalidInput(`'${t}' is not a valid tag: ${problem}`);
    return t;
  };
  const show = async (req: FastifyRequest<P>) => {
    const ctx = ctxOf(req);
    return deps.store.read(async (tx) =>
      tagsOf(await mustGet(tx, def.kind, req.params.id, await def.visibility(ctx, tx))),
    );
  };
  app.get<P>(base, async (req, reply) => reply.send({ tags: await show(req) }));
  app.put<P>(base, async (req, reply) => {
    const b = req.body as { tags?: unknown } | undefined;
    if (!b || !Array.isArray(b.tags) || Object.keys(b).length !== 1)
      throw faults.badRequest("Invalid tags body: expected {'tags': [...]}", 'HTTPBadRequest');
    const wanted = [...new Set((b.tags as unknown[]).map((t) => checkTag(String(t))))];
    return reply.send({ tags: await change(req, () => wanted) });
  });
  app.delete<P>(base, async (req, reply) => {
    await change(req, () => []);
    return reply.code(204).send();
  });
  app.get<P>(`${base}/:tag`, async (req, reply) => {
    if (!(await show(req)).includes(req.params.tag!)) throw faults.tagNotFound(req.params.tag!, req.params.id);
    return reply.code(204).send();
  });
  app.put<P>(`${base}/:tag`, async (req, reply) => {
    const tag = checkTag(req.params.tag!);
    await change(req, (tags) => (tags.includes(tag) ? tags : [...tags, tag]));
    return reply.code(201).send();
  });
  app.delete<P>(`${base}/:tag`, async (req, reply) => {
    await change(req, (tags) => {
      if (!tags.includes(req.params.tag!)) throw faults.tagNotFound(req.params.tag!, req.params.id);
      return tags.filter((t) => t !== req.params.tag);
    });
    return reply.code(204).send();
  });
}

/** `http://host:port` of the request, for links. */
export function hrefBase(req: FastifyRequest): string {
  const proto = (req.headers['x-forwarded-proto'] as string | undefined) ?? 'http';
  return `${proto}://${req.headers.host ?? 'localhost'}`;
}
