/**
 * What changes in the tc-BPF maps and attachments from one compiled state to the next (pure): the
 * driver writes only these, so a rule change is one map update per port that uses it, not a reload.
 */
import type { BpfCompiled } from './compile.js';

export interface BpfDelta {
  /** `hn_ports` entries to write, `<tap>/<dir>` → value. */
  readonly portSet: ReadonlyArray<readonly [string, string]>;
  /** `hn_ports` entries to delete (`<tap>/<dir>`). */
  readonly portDel: readonly string[];
  readonly memberAdd: readonly string[];
  readonly memberDel: readonly string[];
  /** Taps that get the programs, taps that lose them. */
  readonly attach: readonly string[];
  readonly detach: readonly string[];
}

const EMPTY: BpfCompiled = { ports: new Map(), members: [], taps: [], rejected: new Map() };

/** The delta from `prev` (null: nothing applied yet) to `next`. */
export function diffBpf(prev: BpfCompiled | null, next: BpfCompiled): BpfDelta {
  const p = prev ?? EMPTY;
  const pm = new Set(p.members);
  const nm = new Set(next.members);
  const pt = new Set(p.taps);
  const nt = new Set(next.taps);
  return {
    portSet: [...next.ports].filter(([k, v]) => p.ports.get(k) !== v),
    portDel: [...p.ports.keys()].filter((k) => !next.ports.has(k)),
    memberAdd: next.members.filter((m) => !pm.has(m)),
    memberDel: p.members.filter((m) => !nm.has(m)),
    attach: next.taps.filter((t) => !pt.has(t)),
    detach: p.taps.filter((t) => !nt.has(t)),
  };
}

/** True when the delta changes nothing. */
export const isEmptyDelta = (d: BpfDelta): boolean =>
  d.portSet.length + d.portDel.length + d.memberAdd.length + d.memberDel.length + d.attach.length + d.detach.length ===
  0;
