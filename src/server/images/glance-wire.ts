/**
 * Glance v2's image wire format: the create body (base attributes, additional string properties,
 * read-only and reserved ones refused as Glance does), the JSON object clients see (with `self`,
 * `file`, `schema`), the `application/openstack-images-v2.1-json-patch` update, and the list
 * query (filters, `sort`/`sort_key`/`sort_dir`, `limit`/`marker`, the `next` link).
 * Only OCI layouts are stored: container_format `docker` with disk_format `raw` (docs/hypervm.md).
 */
import { isWellFormed, tagProblem } from '../../model/grammar/words.js';
import type { ImageRecord, Visibility } from './catalog.js';
import { glance } from './glance-errors.js';

export const CONTAINER_FORMATS = ['docker'] as const;
export const DISK_FORMATS = ['raw'] as const;
/** Glance's own formats: known, but not something this repository can hold. */
const GLANCE_CONTAINER_FORMATS = ['ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed'];
const GLANCE_DISK_FORMATS = ['ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop'];
const VISIBILITIES: readonly Visibility[] = ['public', 'private', 'shared', 'community'];

const READ_ONLY = new Set([
  'created_at',
  'updated_at',
  'status',
  'checksum',
  'size',
  'virtual_size',
  'direct_url',
  'self',
  'file',
  'schema',
  'os_hash_algo',
  'os_hash_value',
  'oci_manifest_digest',
  'oci_index_digest',
  'locations',
  'stores',
]);
const RESERVED = new Set(['location', 'deleted', 'deleted_at', 'is_public']);
const BASE = new Set([
  'id',
  'name',
  'visibility',
  'protected',
  'os_hidden',
  'owner',
  'container_format',
  'disk_format',
  'min_disk',
  'min_ram',
  'tags',
]);
const MAX_PROPERTIES = 128;

export interface CreateFields {
  id?: string;
  name: string | null;
  visibility: Visibility;
  protected: boolean;
  os_hidden: boolean;
  owner?: string;
  container_format: string | null;
  disk_format: string | null;
  min_disk: number;
  min_ram: number;
  tags: string[];
  properties: Record<string, string>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function str(key: string, v: unknown, max = 255): string {
  if (typeof v !== 'string') throw glance.badRequest(`Invalid value for '${key}': expected a string`);
  if (v.length > max) throw glance.badRequest(`Invalid value for '${key}': longer than ${max} characters`);
  if (!isWellFormed(v)) throw glance.badRequest(`Invalid value for '${key}': ill-formed text`);
  return v;
}

function bool(key: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw glance.badRequest(`Invalid value for '${key}': expected a boolean`);
  return v;
}

function count(key: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw glance.badRequest(`Invalid value for '${key}': expected an integer >= 0`);
  return v;
}

function format(key: 'container_format' | 'disk_format', v: unknown): string | null {
  if (v === null) return null;
  const s = str(key, v);
  const ours: readonly string[] = key === 'container_format' ? CONTAINER_FORMATS : DISK_FORMATS;
  const glances = key === 'container_format' ? GLANCE_CONTAINER_FORMATS : GLANCE_DISK_FORMATS;
  if (ours.includes(s)) return s;
  const why = glances.includes(s) ? 'is a Glance format this repository cannot hold' : 'is not a known format';
  throw glance.badRequest(
    `Invalid value '${s}' for ${key}: it ${why}; hypernet stores OCI image layouts ` +
      `(container_format ${CONTAINER_FORMATS.join('|')}, disk_format ${DISK_FORMATS.join('|')})`,
  );
}

function tags(v: unknown): string[] {
  if (!Array.isArray(v)) throw glance.badRequest("Invalid value for 'tags': expected a list");
  const out = v.map((t) => {
    const s = str('tags', t);
    const problem = tagProblem(s);
    if (problem) throw glance.badRequest(`Invalid tag '${s}': ${problem}`);
    return s;
  });
  if (out.length > 128) throw glance.badRequest('Maximum number of tags exceeded (128)');
  return [...new Set(out)];
}

function visibility(v: unknown): Visibility {
  if (!VISIBILITIES.includes(v as Visibility))
    throw glance.badRequest(`Invalid value for 'visibility': expected one of ${VISIBILITIES.join(', ')}`);
  return v as Visibility;
}

function checkKey(key: string): void {
  if (READ_ONLY.has(key)) throw glance.forbidden(`Attribute '${key}' is read-only.`);
  if (RESERVED.has(key)) throw glance.forbidden(`Attribute '${key}' is reserved.`);
  if (key.length === 0 || key.length > 255 || !isWellFormed(key))
    throw glance.badRequest(`Invalid property name '${key}'`);
}

/** A base attribute's value, checked. */
function baseValue(key: string, v: unknown): unknown {
  switch (key) {
    case 'name':
      return v === null ? null : str(key, v);
    case 'visibility':
      return visibility(v);
    case 'protected':
    case 'os_hidden':
      return bool(key, v);
    case 'container_format':
    case 'disk_format':
      return format(key, v);
    case 'min_disk':
    case 'min_ram':
      return count(key, v);
    case 'tags':
      return tags(v);
    case 'owner':
      return str(key, v);
    case 'id':
      if (typeof v !== 'string' || !UUID.test(v)) throw glance.badRequest(`Invalid value for 'id': expected a UUID`);
      return v.toLowerCase();
  }
  throw glance.badRequest(`Unknown attribute '${key}'`);
}

/** The POST /v2/images body → fields (defaults as Glance: visibility `shared`). */
export function parseCreate(body: unknown): CreateFields {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw glance.badRequest('Body expected in request: a JSON object');
  const out: CreateFields = {
    name: null,
    visibility: 'shared',
    protected: false,
    os_hidden: false,
    container_format: null,
    disk_format: null,
    min_disk: 0,
    min_ram: 0,
    tags: [],
    properties: {},
  };
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    checkKey(k);
    if (BASE.has(k)) (out as unknown as Record<string, unknown>)[k] = baseValue(k, v);
    else out.properties[k] = str(k, v, 65535);
  }
  if (Object.keys(out.properties).length > MAX_PROPERTIES)
    throw glance.tooLarge(`Maximum number of image properties exceeded (${MAX_PROPERTIES})`);
  return out;
}

/** The image as Glance shows it: base attributes, additional properties at the top level, links. */
export function present(img: ImageRecord): Record<string, unknown> {
  const { properties, oci_index_digest: _internal, ...base } = img;
  return {
    ...properties,
    ...base,
    virtual_size: null,
    self: `/v2/images/${img.id}`,
    file: `/v2/images/${img.id}/file`,
    schema: '/v2/schemas/image',
  };
}

export interface PatchOp {
  op: 'add' | 'remove' | 'replace';
  key: string;
  value?: unknown;
}

/** A JSON-patch document (v2.1 media type) → checked operations on one top-level attribute each. */
export function parsePatch(body: unknown): PatchOp[] {
  if (!Array.isArray(body)) throw glance.badRequest('Request body must be a JSON array of operation objects.');
  return body.map((raw) => {
    const c = raw as Record<string, unknown>;
    if (typeof c !== 'object' || c === null) throw glance.badRequest('Operations must be JSON objects.');
    if (c.op !== 'add' && c.op !== 'remove' && c.op !== 'replace')
      throw glance.badRequest(`Invalid operation: '${String(c.op)}' (expected add, remove or replace)`);
    if (typeof c.path !== 'string' || !c.path.startsWith('/') || c.path.length < 2)
      throw glance.badRequest(`Invalid JSON pointer: '${String(c.path)}'`);
    const parts = c.path.slice(1).split('/');
    if (parts.length !== 1) throw glance.badRequest(`Invalid JSON pointer for this resource: '${c.path}'`);
    const key = parts[0].replace(/~1/g, '/').replace(/~0/g, '~');
    if (c.op !== 'remove' && !('value' in c))
      throw glance.badRequest(`Operation "${c.op}" requires a member named "value".`);
    checkKey(key);
    return { op: c.op, key, value: c.value };
  });
}

/** Applies the operations to a copy of `img` (ownership and policy are the caller's). */
export function applyPatch(img: ImageRecord, ops: readonly PatchOp[]): ImageRecord {
  const next: ImageRecord = { ...img, tags: [...img.tags], properties: { ...img.properties } };
  const rec = next as unknown as Record<string, unknown>;
  for (const o of ops) {
    if (BASE.has(o.key)) {
      if (o.key === 'id') throw glance.forbidden("Attribute 'id' is read-only.");
      if (o.op === 'remove') throw glance.forbidden(`Property ${o.key} may not be removed.`);
      if ((o.key === 'container_format' || o.key === 'disk_format') && img.status !== 'queued')
        throw glance.forbidden(`Attribute ${o.key} can be only replaced for a queued image.`);
      rec[o.key] = baseValue(o.key, o.value);
      continue;
    }
    const has = o.key in next.properties;
    if (o.op === 'remove' || o.op === 'replace') {
      if (!has) throw glance.conflict(`Property ${o.key} does not exist.`);
    }
    if (o.op === 'remove') delete next.properties[o.key];
    else next.properties[o.key] = str(o.key, o.value, 65535);
  }
  if (Object.keys(next.properties).length > MAX_PROPERTIES)
    throw glance.tooLarge(`Maximum number of image properties exceeded (${MAX_PROPERTIES})`);
  return next;
}

const SORT_KEYS = new Set([
  'name',
  'status',
  'container_format',
  'disk_format',
  'size',
  'id',
  'created_at',
  'updated_at',
  'min_disk',
  'min_ram',
  'visibility',
  'owner',
]);
const SPECIAL = new Set(['limit', 'marker', 'sort', 'sort_key', 'sort_dir', 'member_status']);

export interface ListQuery {
  limit: number;
  marker?: string;
  sort: { key: string; dir: 'asc' | 'desc' }[];
  /** `visibility` filter (`all` = every visibility the caller may see). */
  visibility?: Visibility | 'all';
  memberStatus: string;
  filters: [string, string[]][];
  /** The query as given, to build the `next` link. */
  params: URLSearchParams;
}

export function parseListQuery(search: string, maxLimit = 1000): ListQuery {
  const params = new URLSearchParams(search);
  let limit = 25;
  const l = params.get('limit');
  if (l !== null) {
    if (!/^\d+$/.test(l)) throw glance.badRequest('limit param must be an integer');
    limit = Math.min(Number(l), maxLimit);
  }
  const sort: ListQuery['sort'] = [];
  const dirOf = (d: string | undefined): 'asc' | 'desc' => {
    if (d === undefined || d === '') return 'desc';
    if (d !== 'asc' && d !== 'desc') throw glance.badRequest(`Invalid sort direction: ${d}`);
    return d;
  };
  const sortParam = params.get('sort');
  if (sortParam !== null) {
    for (const part of sortParam.split(',')) {
      const [key, dir] = part.split(':');
      sort.push({ key, dir: dirOf(dir) });
    }
  } else {
    const keys = params.getAll('sort_key');
    const dirs = params.getAll('sort_dir');
    for (const [i, key] of keys.entries()) sort.push({ key, dir: dirOf(dirs[i] ?? dirs[0]) });
    if (keys.length === 0) sort.push({ key: 'created_at', dir: dirOf(dirs[0]) });
  }
  for (const s of sort) if (!SORT_KEYS.has(s.key)) throw glance.badRequest(`Invalid sort key: ${s.key}.`);
  const vis = params.get('visibility');
  if (vis !== null && vis !== 'all') visibility(vis);
  const filters: [string, string[]][] = [];
  for (const key of new Set(params.keys())) {
    if (SPECIAL.has(key) || key === 'visibility') continue;
    filters.push([key, params.getAll(key)]);
  }
  return {
    limit,
    marker: params.get('marker') ?? undefined,
    sort,
    visibility: (vis ?? undefined) as ListQuery['visibility'],
    memberStatus: params.get('member_status') ?? 'accepted',
    filters,
    params,
  };
}

function matches(img: ImageRecord, key: string, values: string[]): boolean {
  const shown = present(img);
  switch (key) {
    case 'tag':
      return values.every((t) => img.tags.includes(t));
    case 'size_min':
      return img.size !== null && img.size >= Number(values[0]);
    case 'size_max':
      return img.size !== null && img.size <= Number(values[0]);
    case 'id': {
      const v = values[0];
      const ids = v.startsWith('in:') ? v.slice(3).split(',') : [v];
      return ids.includes(img.id);
    }
    default: {
      const v = values[0];
      const want = v.startsWith('in:') ? v.slice(3).split(',') : [v];
      const have = shown[key];
      return have !== undefined && have !== null && want.includes(String(have));
    }
  }
}

/** Filters (each key must match), then sorts with `id` as the last key so pages are stable. */
export function filterAndSort(imgs: readonly ImageRecord[], q: ListQuery): ImageRecord[] {
  const hiddenAsked = q.filters.some(([k]) => k === 'os_hidden');
  const out = imgs.filter((img) => (hiddenAsked || !img.os_hidden) && q.filters.every(([k, v]) => matches(img, k, v)));
  const keys = [...q.sort, { key: 'id', dir: q.sort[q.sort.length - 1]?.dir ?? 'desc' }];
  return out.sort((a, b) => {
    const ra = a as unknown as Record<string, unknown>;
    const rb = b as unknown as Record<string, unknown>;
    for (const { key, dir } of keys) {
      const x = ra[key] ?? '';
      const y = rb[key] ?? '';
      const c = x < y ? -1 : x > y ? 1 : 0;
      if (c !== 0) return dir === 'asc' ? c : -c;
    }
    return 0;
  });
}

/** One page after `marker`, and the `next` link when more follow. */
export function page(sorted: readonly ImageRecord[], q: ListQuery): { items: ImageRecord[]; next?: string } {
  let start = 0;
  if (q.marker !== undefined) {
    const i = sorted.findIndex((img) => img.id === q.marker);
    if (i < 0) throw glance.badRequest(`Invalid marker. Image ${q.marker} could not be found.`);
    start = i + 1;
  }
  const items = sorted.slice(start, start + q.limit);
  if (start + q.limit >= sorted.length || items.length === 0) return { items };
  const p = new URLSearchParams(q.params);
  p.set('marker', items[items.length - 1].id);
  p.set('limit', String(q.limit));
  return { items, next: `/v2/images?${p.toString()}` };
}
