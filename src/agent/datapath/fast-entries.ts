/**
 * The fast path for remote entries: runs first in every reconcile pass (alongside the firewall, not
 * after its transaction) and applies only the FDB and neighbour operations of the datapath
 * diff on devices that already exist. A port that moved to another node (live migration) is
 * repointed to its new VTEP within one read → diff → apply, without waiting for the rest of the
 * pass. It never creates devices or enslaves a tap, so filters still come before a new port is
 * wired; the datapath sub-reconciler that follows converges everything else. The firewall and it
 * touch disjoint kernel state, so they run at the same time (main.ts).
 */
import type { Exec } from '../../common/exec.js';
import type { Logger } from '../../common/log.js';
import { applyIndependentOps } from './driver.js';
import { DatapathCompiler } from './reconciler.js';
import { diffDatapath } from './diff.js';
import { KernelReader } from './kernel-reader.js';
import type { ModelView } from '../../model/model-cache.js';
import { isEntryOp, type Op } from './ops.js';
import type { PassContext, SubReconciler } from '../loop/reconciler.js';
import type { ActualState, NodeInfo } from './types.js';

/** Pure: the entry operations of a diff whose device is already in the kernel. */
export function entryOps(ops: readonly Op[], actual: ActualState): Op[] {
  return ops.filter((o) => isEntryOp(o) && 'dev' in o && actual.links.has(o.dev));
}

export class FastEntriesReconciler implements SubReconciler {
  readonly name = 'fast-entries';
  constructor(
    private readonly exec: Exec,
    node: NodeInfo,
    private readonly log: Logger,
    /** Shared with the datapath sub-reconciler (main.ts): one link memory, one compile per model. */
    private readonly reader = new KernelReader(exec),
    private readonly compiler = new DatapathCompiler(node),
  ) {}

  /** The full pass's kernel read, made ahead alongside other passes (kernel-reader.ts). */
  prepareFull(): Promise<void> {
    return this.reader.prefetchFull();
  }

  /**
   * Hands its full read on to the datapath sub-reconciler (pass.kernel): as read when it changed nothing,
   * as the reader predicts it after its entries when all of them went in; none when one failed or
   * when it worked from memory (a pass that is not full). Skipped
   * on a pass that is not full when the model's compiled inputs did not change (a tap woke the loop):
   * no remote entry can have moved, and the datapath reads the kernel itself.
   */
  async reconcile(model: ModelView, pass?: PassContext): Promise<void> {
    if (pass && !pass.full && !pass.modelChanged) return;
    // A pass that is not full works from the reader's memory (entries follow the agent's own
    // changes; the devices they need are checked there): no read before the remote entries go
    // in. The datapath step reads the links itself (pass.kernel stays unset).
    const remembered = pass && !pass.full ? this.reader.remembered : null;
    const before = remembered ?? (await this.reader.read(pass?.full ?? true));
    const ops = entryOps(diffDatapath(this.compiler.compile(model), before), before);
    if (pass) pass.kernel = ops.length === 0 && !remembered ? before : undefined;
    if (ops.length === 0) return;
    // FDB (bridge) and neighbour (ip) entries are independent: both batches at once.
    const r = await applyIndependentOps(this.exec, ops);
    const after = this.reader.applied(before, ops, r.failed.length === 0);
    if (pass) pass.kernel = remembered ? undefined : (after ?? undefined);
    // Failures are left to the datapath sub-reconciler, which retries with backoff.
    this.log.info({ ops: ops.length, failed: r.failed.length }, 'remote entries applied');
  }
}
