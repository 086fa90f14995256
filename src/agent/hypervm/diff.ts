/**
 * Pure: desired containers vs. those on the node (and the launches under way) → the steps. A missing
 * container is launched only while its one token is unspent; otherwise the HyperVM fails, since a
 * pull that broke half-way cannot be resumed with the same token. A snapshot or migration exports an
 * existing container; the names in `busy` (launches, exports under way) are left alone.
 */
import type { ActualContainer, DesiredContainer, HyperVmOp } from './types.js';

export function diffHyperVms(
  desired: ReadonlyMap<string, DesiredContainer>,
  actual: readonly ActualContainer[],
  busy: ReadonlySet<string>,
): HyperVmOp[] {
  const ops: HyperVmOp[] = [];
  const have = new Map(actual.map((a) => [a.name, a]));
  for (const a of actual) if (!desired.has(a.name) && !busy.has(a.name)) ops.push({ op: 'destroy', name: a.name });
  for (const c of desired.values()) {
    if (busy.has(c.name)) continue;
    const a = have.get(c.name);
    if (c.task !== '' && c.taskImageId !== c.imageId && a) {
      // (After a migration's switch the target runs the export itself: its image is the task's.)
      if (c.taskTokenSpent) ops.push({ op: 'end-task', c, reason: `the node lost the ${c.task} under way` });
      else ops.push({ op: 'export', c });
    } else if (a?.running) {
      if (c.reported !== 'ACTIVE') ops.push({ op: 'active', c });
    } else if (a) ops.push({ op: 'start', c });
    else if (c.tokenSpent) ops.push({ op: 'fail', c, reason: 'the container is gone and its launch token was spent' });
    else ops.push({ op: 'launch', c });
  }
  return ops;
}
