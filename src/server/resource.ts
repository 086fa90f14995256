/**
 * What a resource (networks, subnets, …) plugs into the generic Neutron wire layer (routes.ts):
 * names, zod schemas for create/update bodies, and create/update/remove logic run inside one store
 * transaction. Also the shared pieces every resource uses: the request context, the common
 * attributes of a new object, visibility and ownership checks.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Base, Kind, KindMap } from '../model/types.js';
import type { ReadTx, WriteTx } from './store/store.js';
import { neutronTime } from '../common/clock.js';
import type { Caller } from './auth.js';
import { owningProject } from './auth.js';
import type { ServerConfig } from './config.js';
import { faults } from './errors.js';
import type { HiddenFilters } from './query.js';
import type { HyperVmImages } from './resources/hypervm-images.js';
import { isIp } from '../model/grammar/addresses.js';
import { isHostName, isWord, tagProblem } from '../model/grammar/words.js';

export interface Ctx {
  caller: Caller;
  config: ServerConfig;
  /** Request time in ms (from the injected clock). */
  nowMs: number;
  /** Set when a router or floating IP changes its own ports (l3/service-ports.ts), never by a request. */
  internal?: boolean;
  /** The image catalog as the hypervms resource reads it (absent on a server without one). */
  images?: HyperVmImages;
}

export type Body = Record<string, unknown>;

/** A zod schema for one create or update body. */
export type BodySchema = z.ZodType<Body>;

/**
 * Generic over its body schemas, so `create`/`update` receive exactly what the schema parsed
 * (`z.output<C>`) and need no casts.
 */
export interface ResourceDef<K extends Kind, C extends BodySchema = BodySchema, U extends BodySchema = BodySchema> {
  kind: K;
  /** Body key for one object, e.g. `security_group`. */
  singular: string;
  /** Body key for a list, e.g. `security_groups`. */
  plural: string;
  /** URL segment, e.g. `security-groups`. */
  path: string;
  /** Every attribute of the wire object (for filters and sort keys). */
  attributes: ReadonlySet<string>;
  createSchema: C;
  updateSchema: U;
  /** Whether the object carries tags (the /tags sub-resource). */
  taggable: boolean;
  /** Only admins see or change this resource: others get an empty list, 404 on an id, 403 on create. */
  adminOnly?: boolean;
  /** Builds (and stores) a new object. */
  create(ctx: Ctx, tx: WriteTx, body: z.output<C>): Promise<KindMap[K]>;
  /**
   * Returns the changed object (the generic layer bumps revision and stores it), or undefined for
   * "quiet" updates it stored itself.
   */
  update(ctx: Ctx, tx: WriteTx, current: KindMap[K], body: z.output<U>): Promise<KindMap[K] | undefined>;
  /**
   * True for an update body that will probably only be written quietly (a heartbeat): the route tries
   * it without the writers' lock first (Store.writeQuiet).
   */
  quietUpdate?(body: z.output<U>): boolean;
  remove(ctx: Ctx, tx: WriteTx, current: KindMap[K]): Promise<void>;
  /** A predicate telling which objects the caller may see (may preload what it needs). */
  visibility(ctx: Ctx, tx: ReadTx): Promise<(obj: KindMap[K]) => boolean>;
  /**
   * Attributes a list may be filtered on that the object does not show (Neutron's `is_visible: False`
   * filters, e.g. a subnet's `shared`), each read from the object (may preload what it needs).
   */
  hiddenFilters?(ctx: Ctx, tx: ReadTx): Promise<HiddenFilters<KindMap[K]>>;
  /** Runs before a list in its own write transaction (lazy default security group). */
  beforeList?(ctx: Ctx, tx: WriteTx): Promise<void>;
  /** The wire form at read time (e.g. an agent's computed `alive`). */
  present?(ctx: Ctx, obj: KindMap[K]): KindMap[K];
  /** Store parent (network, security group, host) for indexed listing. */
  parentOf?(obj: KindMap[K]): string;
}

/** The attributes every standard Neutron resource has (the `attributes` of a def start with these). */
export function standardAttributes(...more: string[]): ReadonlySet<string> {
  const base = ['id', 'project_id', 'tenant_id', 'name', 'description', 'tags', 'revision_number'];
  return new Set([...base, 'created_at', 'updated_at', ...more]);
}

// ---- zod building blocks shared by the schemas ----
// Every string of every body is also checked for lone surrogates in routes.ts (validate).
export const zName = z.string().max(255);
export const zDescription = z.string().max(255);
export const zId = z.string().min(1).max(255);
export const zTag = z.string().superRefine((t, ctx) => {
  const problem = tagProblem(t);
  if (problem) ctx.addIssue({ code: 'custom', message: `'${t}' is not a valid tag: ${problem}` });
});
export const zTags = z.array(zTag).max(50);
/** An address in the shared grammar (no zone IDs), of either version. */
export const zIp = z
  .string()
  .refine((v) => isIp(v), { error: (i) => `'${String(i.input)}' is not a valid IP address` });
/** A plain word (no whitespace, quotes, backslash or control characters). */
export const zWord = z.string().refine((v) => isWord(v), { error: (i) => `'${String(i.input)}' is not a plain word` });
/** A host name (agent host, binding:host_id). */
export const zHost = z
  .string()
  .refine((v) => isHostName(v), { error: (i) => `'${String(i.input)}' is not a valid host name` });
/** An integer as Neutron's convert_to_int takes it: a JSON number or a decimal string ("4"). */
export const zIntLike = z.union([z.number().int(), z.string().regex(/^-?[0-9]{1,12}$/)]).transform(Number);
export const zProject = { project_id: zId.optional(), tenant_id: zId.optional() };
export const zCommon = {
  name: zName.optional(),
  description: zDescription.optional(),
  tags: zTags.optional(),
  ...zProject,
};

/** The common attributes a create body may carry (see zCommon). */
export interface CommonBody {
  name?: string;
  description?: string;
  tags?: string[];
  project_id?: string;
  tenant_id?: string;
}

/** The attributes every Base object has (for a resource's `attributes`). */
export const BASE_ATTRIBUTES = [
  'id',
  'project_id',
  'tenant_id',
  'name',
  'description',
  'tags',
  'revision_number',
  'created_at',
  'updated_at',
] as const;

/** Common attributes of a new object. */
export function newBase(ctx: Ctx, body: CommonBody, id: string = randomUUID()): Base {
  const project = owningProject(ctx.caller, body);
  const now = neutronTime(ctx.nowMs);
  return {
    id,
    project_id: project,
    tenant_id: project,
    name: body.name ?? '',
    description: body.description ?? '',
    tags: [...new Set(body.tags ?? [])],
    revision_number: 1,
    created_at: now,
    updated_at: now,
  };
}

/** Copies the given keys of `body` onto `obj` when present (each key's body type must fit the object's). */
export function assignPresent<T extends object, K extends keyof T>(
  obj: T,
  body: { [P in K]?: T[P] },
  keys: readonly K[],
): T {
  for (const k of keys) {
    const v = body[k];
    if (v !== undefined) obj[k] = v as T[K];
  }
  return obj;
}

/** Admin sees everything; others their own project's objects. */
export function ownedOrAdmin(ctx: Ctx, obj: { project_id: string }): boolean {
  return ctx.caller.isAdmin || obj.project_id === ctx.caller.projectId;
}

/**
 * Fails with 403 when a non-admin names an admin-only attribute. On create, Neutron's policy counts an
 * attribute as set only when it differs from its default, so `defaults` (say `shared: false`) pass.
 */
export function requireAdminFor(
  ctx: Ctx,
  body: Body,
  keys: readonly string[],
  action: string,
  defaults: Readonly<Body> = {},
): void {
  if (ctx.caller.isAdmin) return;
  for (const k of keys) {
    if (body[k] !== undefined && !(Object.hasOwn(defaults, k) && body[k] === defaults[k]))
      throw faults.forbidden(`(rule:${action}:${k}) is disallowed by policy`);
  }
}

/** Loads an object or fails with <Kind>NotFound (also when the caller may not see it). */
export async function mustGet<K extends Kind>(
  tx: ReadTx,
  kind: K,
  id: string,
  visible?: (o: KindMap[K]) => boolean,
): Promise<KindMap[K]> {
  const o = await tx.get(kind, id);
  if (!o || (visible && !visible(o))) throw faults.notFound(kind, id);
  return o;
}
