/**
 * The firewall's diff (pure): the delta transaction from the last applied ruleset to the next one,
 * when the hooked chains are unchanged: new sets and chains are declared, changed sets/maps get only
 * their removed elements deleted and their new ones added (flushed and refilled if their declaration
 * changed), changed chains are flushed and their rules re-added, vanished ones deleted — in one
 * order that keeps every reference valid inside the one transaction (declare → delete elements →
 * add elements → rewrite → delete). A rule change thus touches only its group's chain; a membership
 * change only that group's sets. `hasRemovals` says whether the new ruleset allows less than the
 * old one (the driver then changes the generation, see conntrack.ts).
 */
import { GENERATION, TABLE, type CompiledFirewall } from './model.js';
import { withGen } from './render.js';

/** The key of a map element (`KEY : VALUE`); what `delete element` takes. */
const mapKey = (e: string): string => e.split(' : ')[0]!;

/** Same items in the same order (by identity for objects). */
export const sameItems = <T>(a: readonly T[], b: readonly T[]): boolean =>
  a === b || (a.length === b.length && a.every((x, i) => x === b[i]));
const same = sameItems<string>;

/**
 * The elements of `prev` that `next` lacks and those it adds (as sets), computed on the part between
 * their common head and tail: a port wired or gone changes a few elements among thousands, in
 * the same order (the compiler lists ports in a fixed order), so this hashes a few strings per set
 * instead of every element twice. A candidate is checked against the whole other list, so any order
 * gives the exact answer (only more slowly).
 */
export function elementChanges(prev: readonly string[], next: readonly string[]): { del: string[]; add: string[] } {
  if (prev === next) return { del: [], add: [] };
  let head = 0;
  const max = Math.min(prev.length, next.length);
  while (head < max && prev[head] === next[head]) head++;
  let tail = 0;
  while (tail < max - head && prev[prev.length - 1 - tail] === next[next.length - 1 - tail]) tail++;
  const oldMid = prev.slice(head, prev.length - tail);
  const newMid = next.slice(head, next.length - tail);
  const inOld = new Set(oldMid);
  const inNew = new Set(newMid);
  const outside = (xs: readonly string[], mid: number, x: string): boolean => {
    for (let i = 0; i < head; i++) if (xs[i] === x) return true;
    for (let i = head + mid; i < xs.length; i++) if (xs[i] === x) return true;
    return false;
  };
  // Few candidates: check each against the rest of the other list; many: one set of it.
  const big = oldMid.length + newMid.length > 64;
  const allNew = big ? new Set(next) : null;
  const allOld = big ? new Set(prev) : null;
  const del = [...inOld].filter((x) => !inNew.has(x) && !(allNew ? allNew.has(x) : outside(next, newMid.length, x)));
  const add = [...inNew].filter((x) => !inOld.has(x) && !(allOld ? allOld.has(x) : outside(prev, oldMid.length, x)));
  return { del, add };
}

/** Element changes of each set or map both rulesets have whose elements differ, by name. */
export type SetChanges = ReadonlyMap<string, { readonly del: string[]; readonly add: string[] }>;

/** Computed once per apply: both hasRemovals and deltaText need them. */
export function setChanges(prev: CompiledFirewall, next: CompiledFirewall): SetChanges {
  const out = new Map<string, { del: string[]; add: string[] }>();
  for (const [name, s] of next.sets) {
    const old = prev.sets.get(name);
    if (old && !same(old.elements, s.elements)) out.set(name, elementChanges(old.elements, s.elements));
  }
  return out;
}

/** The delta transaction from `prev` (applied with `prevGen`) to `next` with `gen`; '' if nothing changes. */
export function deltaText(
  prev: CompiledFirewall,
  next: CompiledFirewall,
  prevGen: number,
  gen: number,
  changes: SetChanges = setChanges(prev, next),
): string {
  if (prev.baseKey !== next.baseKey) throw new Error('firewall: hooked chains differ, a full replace is needed');
  const T = TABLE;
  const declare: string[] = [];
  const unfill: string[] = [];
  const fill: string[] = [];
  const rewrite: string[] = [];
  const remove: string[] = [];
  for (const [name, s] of next.sets) {
    const old = prev.sets.get(name);
    let add = s.elements;
    if (!old) declare.push(`add ${s.kind} ${s.family} ${T} ${name} { ${s.decl.join('; ')}; }`);
    else if (!changes.has(name))
      continue; // the same elements
    else if (same(old.decl, s.decl)) {
      // Only the elements that changed: one port more is a few lines, not every port's again.
      const ch = changes.get(name)!;
      const del = ch.del.map((e) => (s.kind === 'map' ? mapKey(e) : e));
      if (del.length) unfill.push(`delete element ${s.family} ${T} ${name} { ${del.join(', ')} }`);
      add = ch.add;
    } else fill.push(`flush ${s.kind} ${s.family} ${T} ${name}`);
    if (add.length) fill.push(`add element ${s.family} ${T} ${name} { ${add.join(', ')} }`);
  }
  for (const [name, rules] of next.chains) {
    const old = prev.chains.get(name);
    if (!old) declare.push(`add chain bridge ${T} ${name}`);
    else if (same(old, rules)) continue;
    else rewrite.push(`flush chain bridge ${T} ${name}`);
    for (const r of rules) rewrite.push(`add rule bridge ${T} ${name} ${r}`);
  }
  if (gen !== prevGen) {
    for (const b of next.base) {
      if (!b.rules.some((r) => r.includes(GENERATION))) continue;
      rewrite.push(
        `flush chain ${b.family} ${T} ${b.name}`,
        ...b.rules.map((r) => `add rule ${b.family} ${T} ${b.name} ${withGen(r, gen)}`),
      );
    }
  }
  const gone = [...prev.chains.keys()].filter((n) => !next.chains.has(n));
  for (const n of gone) rewrite.push(`flush chain bridge ${T} ${n}`);
  for (const n of gone) remove.push(`delete chain bridge ${T} ${n}`);
  for (const [name, s] of prev.sets) if (!next.sets.has(name)) remove.push(`delete ${s.kind} ${s.family} ${T} ${name}`);
  const lines = [...declare, ...unfill, ...fill, ...rewrite, ...remove];
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/** True when `next` drops a rule or a set/map element that `prev` had: established flows need re-checking. */
export function hasRemovals(
  prev: CompiledFirewall,
  next: CompiledFirewall,
  changes: SetChanges = setChanges(prev, next),
): boolean {
  for (const [name, rules] of prev.chains) {
    const now = next.chains.get(name);
    if (!now) continue; // a vanished chain's references vanished too, and those are checked
    if (same(rules, now)) continue;
    const have = new Set(now);
    if (rules.some((r) => !have.has(r))) return true;
  }
  for (const ch of changes.values()) if (ch.del.length) return true;
  return false;
}
