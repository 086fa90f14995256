/**
 * Reading the EC2 Query protocol's form parameters: lists are `Name.1`, `Name.2` … (1-based, no
 * `.member.`), structures nest with dots (`Filter.1.Value.2`, `TagSpecification.1.Tag.1.Key`).
 */
import { faults } from './errors.js';

export type Params = ReadonlyMap<string, string>;

export function parseForm(body: string): Map<string, string> {
  return new Map(new URLSearchParams(body));
}

export const str = (p: Params, name: string): string | undefined => p.get(name);

export function required(p: Params, name: string): string {
  const v = p.get(name);
  if (v === undefined || v === '') throw faults.missing(name);
  return v;
}

export function bool(p: Params, name: string): boolean | undefined {
  const v = p.get(name);
  return v === undefined ? undefined : v === 'true';
}

export function int(p: Params, name: string): number | undefined {
  const v = p.get(name);
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v)) throw faults.invalidValue(name, v);
  return Number(v);
}

/** The members of list `prefix`, each as its own Params (`prefix.N.rest` → `rest`), in index order. */
export function members(p: Params, prefix: string): Params[] {
  const byIndex = new Map<number, Map<string, string>>();
  const head = `${prefix}.`;
  for (const [k, v] of p) {
    if (!k.startsWith(head)) continue;
    const m = /^(\d+)(?:\.(.*))?$/.exec(k.slice(head.length));
    if (!m) continue;
    const i = Number(m[1]);
    if (!byIndex.has(i)) byIndex.set(i, new Map());
    byIndex.get(i)!.set(m[2] ?? '', v);
  }
  return [...byIndex.entries()].sort(([a], [b]) => a - b).map(([, v]) => v);
}

/** A list of plain values `prefix.N`. */
export const strings = (p: Params, prefix: string): string[] =>
  members(p, prefix)
    .map((m) => m.get(''))
    .filter((v): v is string => v !== undefined);

export interface Filter {
  name: string;
  values: string[];
}

export const filters = (p: Params): Filter[] =>
  members(p, 'Filter').map((m) => ({ name: m.get('Name') ?? '', values: strings(m, 'Value') }));

/** `Tag.N.Key/Value` lists (CreateTags' `Tag`, TagSpecification's `Tag`). */
export const tagList = (p: Params, prefix = 'Tag'): [string, string][] =>
  members(p, prefix).map((m) => [m.get('Key') ?? '', m.get('Value') ?? '']);

/** The tags of the `TagSpecification.N` whose ResourceType is `type` (RunInstances tags several types). */
export function specTags(p: Params, type: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of members(p, 'TagSpecification')) {
    if (spec.get('ResourceType') !== type) continue;
    for (const [k, v] of tagList(spec)) out[k] = v;
  }
  return out;
}
