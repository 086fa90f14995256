/**
 * Pure: desired containers vs. those on the node (and the launches under way) → the steps. A missing
 * container is launched only while its one token is unspent; otherwise the HyperVM fails, since a
 * pull that broke half-way cannot be resumed with the same token.
 */
import type { ActualContainer, DesiredContainer, HyperVmOp } from './types.js';

export function diffHyperVms(
  desired: ReadonlyMap<string, DesiredContainer>,
  actual: readonly ActualContainer[],
  launching: ReadonlySet<string>,
): HyperVmOp[] {
  const ops: HyperVmOp[] = [];
  const have = new Map(actual.map((a) => [a.name, a]));
  for (const a of actual) if (!desired.has(a.name) && !launching.has(a.name)) ops.push({ op: 'destroy', name: a.name });
  for (const c of desired.values()) {
    if (launching.has(c.name)) continue;
    const a = have.get(c.name);
    if (a?.running) {
      if (c.reported !== 'ACTIVE') ops.push({ op: 'active', c });
    } else if (a) ops.push({ op: 'start', c });
    else if (c.tokenSpent) ops.push({ op: 'fail', c, reason: 'the container is gone and its launch token was spent' });
    else ops.push({ op: 'launch', c });
  }
  return ops;
}
