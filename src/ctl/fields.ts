/**
 * From parsed flags to a request body, following a resource's FieldSpecs: option keys, value
 * parsing (int, bool pairs, repeatable lists, `k=v,k=v` objects, `k=v` maps) and name→ID resolution
 * of references. Pure except for the injected resolver and file reader.
 */
import type { FieldSpec } from './resources.js';
import { UsageError } from './errors.js';

/** commander's key for a flag: 'subnet-range' → 'subnetRange'. */
export function optionKey(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** True when a bool field is a `--x`/`--no-x` pair (one commander key) rather than two flags. */
export function isNegatedPair(f: FieldSpec): boolean {
  return f.negFlag === undefined || f.negFlag === `no-${f.flag}`;
}

export function parseKv(flag: string, text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new UsageError(`--${flag}: expected key=value[,key=value], got ${JSON.stringify(text)}`);
    out[part.slice(0, eq).trim().replace(/-/g, '_')] = part.slice(eq + 1).trim();
  }
  return out;
}

/** Repeated `key=value` into one object; only the first '=' splits (values may hold '=' and ','). */
export function parseKvMap(flag: string, items: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of items) {
    const eq = t.indexOf('=');
    if (eq <= 0) throw new UsageError(`--${flag}: expected key=value, got ${JSON.stringify(t)}`);
    out[t.slice(0, eq)] = t.slice(eq + 1);
  }
  return out;
}

export function parseInt10(flag: string, text: string): number {
  if (!/^-?\d+$/.test(text.trim())) throw new UsageError(`--${flag}: expected an integer, got ${JSON.stringify(text)}`);
  return Number(text);
}

/** The value a field's flag(s) give, or undefined when not given. */
export function fieldValue(f: FieldSpec, opts: Record<string, unknown>): unknown {
  if (f.type === 'bool') {
    if (isNegatedPair(f)) return opts[optionKey(f.flag)] as boolean | undefined;
    const on = opts[optionKey(f.flag)] === true;
    const off = opts[optionKey(f.negFlag!)] === true;
    if (on && off) throw new UsageError(`--${f.flag} and --${f.negFlag} exclude each other`);
    return on ? true : off ? false : undefined;
  }
  const raw = opts[optionKey(f.flag)];
  if (raw === undefined) return undefined;
  if (raw === false) return []; // `--no-<flag>` of a list: clear it
  if (f.type === 'list') return raw as string[];
  if (f.type === 'kv-list') return (raw as string[]).map((t) => parseKv(f.flag, t));
  if (f.type === 'kv-map') return parseKvMap(f.flag, raw as string[]);
  const text = String(raw);
  if (f.nullWord !== undefined && text === f.nullWord) return null;
  if (f.choices && !f.choices.includes(text))
    throw new UsageError(`--${f.flag}: expected one of ${f.choices.join(', ')}, got ${JSON.stringify(text)}`);
  return f.type === 'int' ? parseInt10(f.flag, text) : text;
}

export type RefResolver = (command: string, nameOrId: string) => Promise<string>;

/** Reads a `file` field's path (injected so this module stays pure). */
export type TextReader = (path: string) => Promise<string>;

const noFiles: TextReader = async (path) => {
  throw new UsageError(`cannot read ${path} here`);
};

/** The request body for `verb` from the flags; refs resolved to IDs; required fields checked. */
export async function buildBody(
  fields: readonly FieldSpec[],
  verb: 'create' | 'set',
  opts: Record<string, unknown>,
  resolve: RefResolver,
  readText: TextReader = noFiles,
): Promise<Record<string, unknown>> {
  const given: [FieldSpec, unknown][] = [];
  for (const f of fields) {
    if (f.on && !f.on.includes(verb)) continue;
    const v = fieldValue(f, opts);
    if (v !== undefined) given.push([f, v]);
    else if (verb === 'create' && f.required) throw new UsageError(`missing required option --${f.flag}`);
  }
  // Only once the command line is known to be complete: look up the references.
  const body: Record<string, unknown> = {};
  for (const [f, v] of given) {
    if (f.type === 'file') {
      body[f.attr] = await readText(String(v));
      continue;
    }
    body[f.attr] =
      f.ref && v !== null
        ? Array.isArray(v)
          ? await Promise.all(v.map((x: string) => resolve(f.ref!, x)))
          : await resolve(f.ref, String(v))
        : v;
  }
  return body;
}
