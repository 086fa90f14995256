/**
 * Neutron's list semantics, pure: filters on any attribute (a repeated key means OR; `tags`,
 * `tags-any`, `not-tags`, `not-tags-any`; `fixed_ips=ip_address=…`; `changed_since`), sorting (`sort_key`/`sort_dir`,
 * id as tiebreaker), pagination (`limit`, `marker`, `page_reverse`, with next/previous links) and
 * `fields=` projection.
 */
import { faults } from './errors.js';

export type Query = Record<string, string[]>;
type Obj = Record<string, unknown>;

const RESERVED = new Set([
  'fields',
  'limit',
  'marker',
  'page_reverse',
  'sort_key',
  'sort_dir',
  'tags',
  'tags-any',
  'not-tags',
  'not-tags-any',
  'changed_since',
]);

/** Parses a raw query string into key → values (repeated keys kept in order). */
export function parseQuery(search: string): Query {
  // No prototype: keys such as `toString`, `constructor` or `__proto__` are plain (unknown) filters.
  const q: Query = Object.create(null);
  for (const [k, v] of new URLSearchParams(search)) {
    q[k] ??= [];
    q[k].push(v);
  }
  return q;
}

function truthy(v: string): boolean | undefined {
  const l = v.toLowerCase();
  if (l === 'true' || l === '1') return true;
  if (l === 'false' || l === '0') return false;
  return undefined;
}

function matchValue(attr: unknown, wanted: string): boolean {
  if (attr === null || attr === undefined) return wanted === '' || wanted === 'None' || wanted === 'null';
  if (typeof attr === 'boolean') return truthy(wanted) === attr;
  if (typeof attr === 'number') return Number(wanted) === attr;
  if (Array.isArray(attr)) {
    if (attr.length > 0 && typeof attr[0] === 'object') return attr.some((a) => matchSubObject(a as Obj, wanted));
    return attr.some((a) => String(a) === wanted);
  }
  if (typeof attr === 'object') return false;
  return String(attr) === wanted;
}

/** `fixed_ips=ip_address=10.0.0.3` / `subnet_id=…` / `ip_address_substr=…`. */
function matchSubObject(a: Obj, wanted: string): boolean {
  const eq = wanted.indexOf('=');
  if (eq < 0) return false;
  const key = wanted.slice(0, eq);
  const val = wanted.slice(eq + 1);
  if (key.endsWith('_substr')) return String(a[key.slice(0, -'_substr'.length)] ?? '').includes(val);
  return String(a[key] ?? '') === val;
}

function tagList(values: string[]): string[] {
  return values.flatMap((v) => v.split(',')).filter((t) => t !== '');
}

/** `changed_since` (standard-attr-timestamp) in ms: objects updated at or after it; an unreadable time is a 400. */
function changedSince(q: Query): number | undefined {
  const raw = q.changed_since?.[0];
  if (raw === undefined || raw === '') return undefined;
  const form = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)?$/.exec(raw);
  // A time without a zone is UTC, as Neutron reads it (Date.parse would take it as local time).
  const ms = form ? Date.parse(form[3] ? raw : `${raw}Z`) : Number.NaN;
  if (Number.isNaN(ms)) throw faults.invalidInput(`The time ${raw} of changed_since is not an ISO 8601 timestamp`);
  return ms;
}

/** Attributes a list may be filtered on without the object showing them (a subnet's `shared`). */
export type HiddenFilters<T> = Readonly<Record<string, (item: T) => unknown>>;

/**
 * Keeps the objects matching every filter of the query; unknown attributes are a 400 (filter-validation).
 * As in Neutron, empty values are dropped, and a filter left without values filters nothing.
 */
export function applyFilters<T extends object>(
  items: T[],
  q: Query,
  attributes: ReadonlySet<string>,
  hidden: HiddenFilters<T> = {},
): T[] {
  const filters = Object.entries(q).filter(([k]) => !RESERVED.has(k));
  for (const [k] of filters) {
    if (!attributes.has(k) && !Object.hasOwn(hidden, k))
      throw faults.badRequest(`${k} is invalid attribute for filtering`, 'HTTPBadRequest');
  }
  const active = filters
    .map(([k, values]) => [k, values.filter((v) => v !== '')] as const)
    .filter(([, values]) => values.length > 0);
  const attrOf = (o: Obj, k: string) => (Object.hasOwn(hidden, k) ? hidden[k](o as T) : o[k]);
  const since = changedSince(q);
  const tagsAll = q.tags ? tagList(q.tags) : undefined;
  const tagsAny = q['tags-any'] ? tagList(q['tags-any']) : undefined;
  const notAll = q['not-tags'] ? tagList(q['not-tags']) : undefined;
  const notAny = q['not-tags-any'] ? tagList(q['not-tags-any']) : undefined;
  return items.filter((item) => {
    const o = item as Obj;
    for (const [k, values] of active) if (!values.some((v) => matchValue(attrOf(o, k), v))) return false;
    if (since !== undefined && !(Date.parse(String(o.updated_at)) >= since)) return false;
    const tags = (o.tags as string[] | undefined) ?? [];
    if (tagsAll && !tagsAll.every((t) => tags.includes(t))) return false;
    if (tagsAny && !tagsAny.some((t) => tags.includes(t))) return false;
    if (notAll?.every((t) => tags.includes(t))) return false;
    if (notAny?.some((t) => tags.includes(t))) return false;
    return true;
  });
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return a ? 1 : -1;
  const sa = typeof a === 'object' ? JSON.stringify(a) : String(a);
  const sb = typeof b === 'object' ? JSON.stringify(b) : String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/** Sorts by `sort_key`/`sort_dir` (then id); without sort keys keeps the given (creation) order. */
export function applySort<T extends object>(items: T[], q: Query, attributes: ReadonlySet<string>): T[] {
  const keys = q.sort_key ?? [];
  const dirs = q.sort_dir ?? [];
  if (keys.length === 0) return items;
  if (dirs.length > 0 && dirs.length !== keys.length)
    throw faults.badRequest('The number of sort_keys and sort_dirs must be same', 'HTTPBadRequest');
  for (const k of keys)
    if (!attributes.has(k)) throw faults.badRequest(`${k} is an invalid attribute for sort_key`, 'HTTPBadRequest');
  const sign = keys.map((_, i) => {
    const d = (dirs[i] ?? 'asc').toLowerCase();
    if (d !== 'asc' && d !== 'desc')
      throw faults.badRequest(
        `${dirs[i]} is an invalid value for sort_dir, valid value is 'asc' and 'desc'`,
        'HTTPBadRequest',
      );
    return d === 'desc' ? -1 : 1;
  });
  const allKeys = keys.includes('id') ? keys : [...keys, 'id'];
  return [...items].sort((x, y) => {
    for (let i = 0; i < allKeys.length; i++) {
      const c = compare((x as Obj)[allKeys[i]], (y as Obj)[allKeys[i]]);
      if (c !== 0) return c * (sign[i] ?? 1);
    }
    return 0;
  });
}

export interface Page<T> {
  items: T[];
  links: { rel: 'next' | 'previous'; href: string }[];
}

/**
 * Cuts one page as Neutron does. `limit` absent or 0 means no pagination (and no links, the marker
 * ignored). Forward: the `limit` items after the marker. `page_reverse`: the `limit` items before the
 * marker (or the last ones without a marker), still in list order. Links follow Neutron's rule: `next`
 * unless a forward page came out short, `previous` unless a reverse page came out short; each keeps
 * the request's other parameters, an empty page's links carry no marker.
 */
export function applyPagination<T extends { id: string }>(items: T[], q: Query, baseHref: string): Page<T> {
  const rawLimit = q.limit?.[0];
  let limit = 0;
  if (rawLimit !== undefined) {
    // Decimal digits only, as Neutron's int(): Number() would also take '1e3', '0x10' and ' 5'.
    limit = /^[0-9]{1,15}$/.test(rawLimit) ? Number(rawLimit) : Number.NaN;
    if (!Number.isInteger(limit))
      throw faults.badRequest(`Limit must be an integer 0 or greater and not '${rawLimit}'`, 'HTTPBadRequest');
  }
  if (!limit) return { items, links: [] };
  const marker = q.marker?.[0];
  const reverse = truthy(q.page_reverse?.[0] ?? 'false') === true;
  let at = -1;
  if (marker !== undefined) {
    at = items.findIndex((i) => i.id === marker);
    if (at < 0) throw faults.badRequest(`Marker ${marker} could not be found`, 'HTTPBadRequest');
  }
  const page = reverse
    ? items.slice(Math.max(0, (at < 0 ? items.length : at) - limit), at < 0 ? items.length : at)
    : items.slice(at + 1, at + 1 + limit);
  const href = (markerItem: T | undefined, rev: boolean) => {
    const sp = new URLSearchParams();
    for (const [k, vs] of Object.entries(q)) {
      if (k === 'marker' || k === 'page_reverse') continue;
      for (const v of vs) sp.append(k, v);
    }
    if (markerItem) sp.append('marker', markerItem.id);
    if (rev) sp.append('page_reverse', 'True');
    return `${baseHref}?${sp.toString()}`;
  };
  const links: Page<T>['links'] = [];
  const short = page.length < limit;
  if (!(short && !reverse)) links.push({ rel: 'next', href: href(page[page.length - 1], false) });
  if (!(short && reverse)) links.push({ rel: 'previous', href: href(page[0], true) });
  return { items: page, links };
}

/** `fields=a&fields=b` (or comma separated): only those attributes. */
export function applyFields<T extends object>(item: T, q: Query): Partial<T> | T {
  const fields = q.fields ? q.fields.flatMap((f) => f.split(',')).filter((f) => f !== '') : [];
  if (fields.length === 0) return item;
  const out: Obj = {};
  for (const f of fields) if (Object.hasOwn(item, f)) out[f] = (item as Obj)[f];
  return out as Partial<T>;
}
