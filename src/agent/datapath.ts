/**
 * The datapath sub-reconciler: compile → read kernel → diff → apply, then report port status from a
 * fresh read, and announce ports that became active here. `converge` is the driver step on its own (used by the driver tests too).
 * An optional `portGate` (the firewall's `portReady`) keeps a tap out of its bridge until it opens (fail closed).
 */
import type { Exec } from '../common/exec.js';
import type { Logger } from '../common/log.js';
import { applyOps, type ApplyResult } from './apply.js';
import { announceTargets, type Announcer } from './announce.js';
import { compileDatapath } from './compile.js';
import { diffDatapath } from './diff.js';
import { readKernel } from './kernel/read.js';
import type { ModelView } from './model-cache.js';
import type { Op } from './ops.js';
import { portStatusUpdates, type PortStatusReporter } from './port-status.js';
import type { SubReconciler } from './reconcile.js';
import type { ActualState, DesiredState, NodeInfo } from './state.js';

export interface ConvergeResult {
  ops: Op[];
  result: ApplyResult;
  /** The kernel as read after applying (or before, when nothing had to change). */
  after: ActualState;
}

/** One read → diff → apply pass toward `desired`. */
export async function converge(exec: Exec, desired: DesiredState): Promise<ConvergeResult> {
  const before = await readKernel(exec);
  const ops = diffDatapath(desired, before);
  if (ops.length === 0) return { ops, result: { applied: 0, failed: [] }, after: before };
  const result = await applyOps(exec, ops);
  return { ops, result, after: await readKernel(exec) };
}

export class DatapathReconciler implements SubReconciler {
  readonly name = 'datapath';

  constructor(
    private readonly exec: Exec,
    private readonly node: NodeInfo,
    private readonly log: Logger,
    private readonly reporter?: PortStatusReporter,
    private readonly announcer?: Announcer,
    private readonly portGate?: (portId: string) => boolean,
  ) {}

  async reconcile(model: ModelView): Promise<void> {
    const all = compileDatapath(this.node, model);
    const gate = this.portGate;
    const desired = gate ? { ...all, ports: all.ports.filter((p) => gate(p.portId)) } : all;
    const { ops, result, after } = await converge(this.exec, desired);
    if (ops.length) this.log.info({ ops: ops.length, failed: result.failed.length }, 'datapath applied');
    for (const f of result.failed) this.log.warn({ line: f.line, error: f.error }, 'datapath operation failed');
    this.announcer?.announce(announceTargets(desired, after, model));
    const reportFailures = this.reporter ? await this.reporter.report(portStatusUpdates(desired, after, model)) : 0;
    if (result.failed.length || reportFailures) {
      throw new Error(`datapath: ${result.failed.length} operation(s) and ${reportFailures} status report(s) failed`);
    }
  }
}
