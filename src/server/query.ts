/**
 * Neutron's list semantics, pure: filters on any attribute (a repeated key means OR; `tags`,
 * `tags-any`, `not-tags`, `not-tags-any`; `fixed_ips=ip_address=…`), sorting (`sort_key`/`sort_dir`,
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

/** Keeps the objects matching every filter of the query; unknown attributes are a 400 (filter-validation). */
export function applyFilters<T extends object>(items: T[], q: Query, attributes: ReadonlySet<string>): T[] {
  const filters = Object.entries(q).filter(([k]) => !RESERVED.has(k));
  for (const [k] of filters) {
    if (!attributes.has(k)) throw faults.badRequest(`${k} is invalid attribute for filtering`, 'HTTPBadRequest');
  }
  const tagsAll = q.tags ? tagList(q.tags) : undefined;
  const tagsAny = q['tags-any'] ? tagList(q['tags-any']) : undefined;
  const notAll = q['not-tags'] ? tagList(q['not-tags']) : undefined;
  const notAny = q['not-tags-any'] ? tagList(q['not-tags-any']) : undefined;
  return items.filter((item) => {
    const o = item as Obj;
    for (const [k, values] of filters) if (!values.some((v) => matchValue(o[k], v))) return false;
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

/** Cuts one page; `baseHref` is the collection URL, links keep the other query parameters. */
export function applyPagination<T extends { id: string }>(items: T[], q: Query, baseHref: string): Page<T> {
  const rawLimit = q.limit?.[0];
  const marker = q.marker?.[0];
  const reverse = truthy(q.page_reverse?.[0] ?? 'false') === true;
  let limit = 0;
  if (rawLimit !== undefined) {
    // Decimal digits only, as Neutron's int(): Number() would also take '1e3', '0x10' and ' 5'.
    limit = /^[0-9]{1,15}$/.test(rawLimit) ? Number(rawLimit) : Number.NaN;
    if (!Number.isInteger(limit))
      throw faults.badRequest(`Limit must be an integer 0 or greater and not '${rawLimit}'`, 'HTTPBadRequest');
  }
  if (!limit && marker === undefined) return { items, links: [] };
  const ordered = reverse ? [...items].reverse() : items;
  let start = 0;
  if (marker !== undefined) {
    const at = ordered.findIndex((i) => i.id === marker);
    if (at < 0) throw faults.badRequest(`Marker ${marker} could not be found`, 'HTTPBadRequest');
    start = at + 1;
  }
  const end = limit ? start + limit : ordered.length;
  const page = ordered.slice(start, end);
  const more = end < ordered.length;
  const result = reverse ? page.reverse() : page;
  const links: Page<T>['links'] = [];
  if (limit && result.length > 0) {
    const keep = Object.entries(q).filter(([k]) => k !== 'marker' && k !== 'page_reverse' && k !== 'limit');
    const href = (m: string, rev: boolean) => {
      const sp = new URLSearchParams();
      sp.append('limit', String(limit));
      for (const [k, vs] of keep) for (const v of vs) sp.append(k, v);
      sp.append('marker', m);
      if (rev) sp.append('page_reverse', 'True');
      return `${baseHref}?${sp.toString()}`;
    };
    const hasAfter = reverse ? marker !== undefined : more;
    const hasBefore = reverse ? more : marker !== undefined;
    if (hasAfter) links.push({ rel: 'next', href: href(result[result.length - 1].id, false) });
    if (hasBefore) links.push({ rel: 'previous', href: href(result[0].id, true) });
  }
  return { items: result, links };
}

/** `fields=a&fields=b` (or comma separated): only those attributes. */
export function applyFields<T extends object>(item: T, q: Query): Partial<T> | T {
  const fields = q.fields ? q.fields.flatMap((f) => f.split(',')).filter((f) => f !== '') : [];
  if (fields.length === 0) return item;
  const out: Obj = {};
  for (const f of fields) if (Object.hasOwn(item, f)) out[f] = (item as Obj)[f];
  return out as Partial<T>;
}
