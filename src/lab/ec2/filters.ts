/**
 * EC2's `Filter.N` semantics: filters are ANDed, a filter's values ORed, `*` and `?` are wildcards;
 * `tag:<key>`, `tag-key` and `tag-value` work on every taggable resource. Each Describe action lists
 * the other filter names it knows; an unknown name is EC2's InvalidParameterValue.
 */
import { faults } from './errors.js';
import type { Filter } from './query.js';
import type { Tags } from './state.js';

/** Filter name → the values a resource has for it. */
export type FilterFields<T> = Record<string, (r: T) => (string | number | boolean | undefined)[]>;

const wildcard = (pattern: string): RegExp =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );

export function applyFilters<T extends { tags: Tags }>(items: T[], filters: Filter[], fields: FilterFields<T>): T[] {
  const tests = filters.map((f) => {
    const patterns = f.values.map(wildcard);
    const match = (vs: (string | number | boolean | undefined)[]): boolean =>
      vs.some((v) => v !== undefined && patterns.some((p) => p.test(String(v))));
    if (f.name.startsWith('tag:')) {
      const key = f.name.slice(4);
      return (r: T) => key in r.tags && match([r.tags[key]]);
    }
    if (f.name === 'tag-key') return (r: T) => match(Object.keys(r.tags));
    if (f.name === 'tag-value') return (r: T) => match(Object.values(r.tags));
    const field = fields[f.name];
    if (!field) throw faults.invalidValue('filter', f.name, 'The filter is invalid.');
    return (r: T) => match(field(r));
  });
  return items.filter((r) => tests.every((t) => t(r)));
}

/** EC2's `tagSet` of a resource. */
export const tagSet = (tags: Tags) => Object.entries(tags).map(([key, value]) => ({ key, value }));
