/**
 * The datapath sub-reconciler: compile → read kernel → diff → apply, then report port status from a
 * fresh read, and announce ports that became active here. Passes that are not full read with the
 * link memory of kernel-reader.ts. `converge` is the driver step on its own (used by the driver tests too).
 * An optional `gate` (the firewall) keeps a tap out of its bridge until it opens (fail closed).
 */
import type { Exec } from '../../common/exec.js';
import type { Logger } from '../../common/log.js';
import { applyOps, type ApplyResult } from './driver.js';
import type { Announcer } from './announce.js';
import { compileDatapath } from './compile.js';
import { diffDatapath } from './diff.js';
import { KernelReader } from './kernel-reader.js';
import type { ModelView } from '../../model/model-cache.js';
import type { Op } from './ops.js';
import { portStatusUpdates, type PortStatusReporter } from '../status-reporter.js';
import type { PassContext, SubReconciler } from '../loop/reconciler.js';
import type { ActualState, DesiredState, NodeInfo } from './types.js';

export interface ConvergeResult {
  ops: Op[];
  result: ApplyResult;
  /** The kernel as read after applying (or before, when nothing had to change). */
  after: ActualState;
}

export interface ConvergeOptions {
  /** A read of this pass already made (nothing changed since). */
  before?: ActualState;
  /** 'links': after applying only the links are read again (the rest of `after` is the state
   * before): port status and announcements look at links alone, and the next pass reads anyway.
   * When the operations all applied and are predictable, not even those: `after` is the reader's
   * prediction. */
  readAfter?: 'all' | 'links';
  /** Reads with the reader's link memory (default: a fresh reader, i.e. full reads). */
  reader?: KernelReader;
  /** Read every link (a full pass); else enslaved links may come from the reader's memory. */
  full?: boolean;
}

/** One read → diff → apply pass toward `desired`. */
export async function converge(exec: Exec, desired: DesiredState, o: ConvergeOptions = {}): Promise<ConvergeResult> {
  const reader = o.reader ?? new KernelReader(exec);
  const full = o.full ?? true;
  const before = o.before ?? (await reader.read(full));
  const ops = diffDatapath(desired, before);
  if (ops.length === 0) return { ops, result: { applied: 0, failed: [] }, after: before };
  const result = await applyOps(exec, ops);
  const predicted = reader.applied(before, ops, result.failed.length === 0);
  // Changes that all applied and are predictable: the memory is what a read would give (it was read
  // this pass or follows the agent's own changes), so no read after the apply; else read back.
  const readAfter = o.readAfter ?? 'all';
  const after =
    readAfter === 'links' && predicted
      ? predicted
      : readAfter === 'all'
        ? await reader.read(full)
        : { ...before, links: await reader.readLinks(full) };
  return { ops, result, after };
}

/** compileDatapath, memoised on the model revision and tables (the cache's tables change only with
 * the revision, or are replaced by a snapshot). */
export class DatapathCompiler {
  private last: { key: readonly unknown[]; desired: DesiredState; taps?: Set<string> } | null = null;
  /** Taps seen appearing that no compile knew yet (see knowsTap), oldest first. */
  private readonly unknownTaps = new Set<string>();
  /**
   * `onKnownTap`: called when a compile knows a tap that knowsTap did not (the caller wakes its loop).
   * `tunnels`: the VXLAN destination of each remote host (compile.ts), when not its underlay IP.
   */
  constructor(
    private readonly node: NodeInfo,
    private readonly onKnownTap?: () => void,
    private readonly tunnels?: (model: ModelView) => ReadonlyMap<string, string>,
  ) {}
  compile(model: ModelView): DesiredState {
    const key = [model.revision, model.ports, model.networks, model.agents];
    if (!this.last || key.some((k, i) => k !== this.last!.key[i])) {
      this.last = { key, desired: compileDatapath(this.node, model, this.tunnels?.(model)) };
      if (this.unknownTaps.size && [...this.unknownTaps].some((t) => this.has(t))) {
        for (const t of this.unknownTaps) if (this.has(t)) this.unknownTaps.delete(t);
        this.onKnownTap?.();
      }
    }
    return this.last.desired;
  }

  /**
   * Whether `tap` belongs to a port of the last compiled state, without compiling (true before the
   * first compile). A port newer than that compile comes with a model change, which runs a pass; but
   * that pass may have listed the links before the tap appeared, so an unknown tap is remembered and
   * the compile that first knows it calls `onKnownTap` (at 1,000 ports a tap that fell in that gap
   * waited for the next full pass, up to 2 s). `remember` false: a tap that went away.
   */
  knowsTap(tap: string, remember = true): boolean {
    if (!this.last || this.has(tap)) return true;
    if (!remember) return false;
    this.unknownTaps.delete(tap);
    this.unknownTaps.add(tap);
    // Taps of other software never become known: keep the newest only.
    if (this.unknownTaps.size > 256) this.unknownTaps.delete(this.unknownTaps.values().next().value!);
    return false;
  }

  /** A tap went away: no longer waited for. */
  forgetTap(tap: string): void {
    this.unknownTaps.delete(tap);
  }

  private has(tap: string): boolean {
    const last = this.last!;
    last.taps ??= new Set(last.desired.ports.map((p) => p.tap));
    return last.taps.has(tap);
  }
}

export interface DatapathReconcilerOptions {
  /** Runs `ip`/`bridge` in the node's namespace. */
  exec: Exec;
  node: NodeInfo;
  log: Logger;
  /** Reports port status (ACTIVE, DOWN, ERROR) to the server; none in driver tests. */
  reporter?: PortStatusReporter;
  /** Announces ports that became active here (gratuitous ARP after a migration). */
  announcer?: Announcer;
  /**
   * The firewall's gate: a port's tap joins its bridge only once this says so (fail closed), and a
   * port it refuses with a reason is reported ERROR with that reason (containment).
   */
  gate?: PortGate;
  /** Ports another feature serves without a tap (WireGuard agentless peers), reported by what it serves. */
  servedWithoutTap?: () => ReadonlySet<string>;
  /** Shared with the fast path (main.ts): one link memory, one compile per model. */
  reader?: KernelReader;
  compiler?: DatapathCompiler;
}

/** Whether a port may be wired yet, and why a port never will be as it stands (see firewall/reconciler.ts). */
export interface PortGate {
  ready(portId: string): boolean;
  /** The reason the port was refused (its objects cannot be compiled), or undefined. */
  rejected?(portId: string): string | undefined;
}

export class DatapathReconciler implements SubReconciler {
  readonly name = 'datapath';
  private readonly exec: Exec;
  private readonly log: Logger;
  private readonly reader: KernelReader;
  private readonly compiler: DatapathCompiler;
  /** The last pass's compile and what the kernel held after it (status reports read them). */
  private lastPass: { all: DesiredState; after: ActualState } | null = null;

  constructor(private readonly o: DatapathReconcilerOptions) {
    this.exec = o.exec;
    this.log = o.log;
    this.reader = o.reader ?? new KernelReader(o.exec);
    this.compiler = o.compiler ?? new DatapathCompiler(o.node);
  }

  async reconcile(model: ModelView, pass?: PassContext): Promise<void> {
    const all = this.compiler.compile(model);
    const gate = this.o.gate;
    const desired = gate ? { ...all, ports: all.ports.filter((p) => gate.ready(p.portId)) } : all;
    const { ops, result, after } = await converge(this.exec, desired, {
      before: pass?.kernel,
      readAfter: 'links',
      reader: this.reader,
      full: pass?.full ?? true,
    });
    if (pass) pass.kernel = ops.length ? undefined : after;
    if (ops.length) this.log.info({ ops: ops.length, failed: result.failed.length }, 'datapath applied');
    for (const f of result.failed) this.log.warn({ line: f.line, error: f.error }, 'datapath operation failed');
    this.o.announcer?.announce(desired, after, model);
    this.lastPass = { all, after };
    this.reportStatus(model);
    if (result.failed.length) throw new Error(`datapath: ${result.failed.length} operation(s) failed`);
  }

  /**
   * Reports port status from the last pass's compile and kernel read against `model`. Also called
   * when the loop skips a pass: a status-only event (another node's stale report on a port that moved
   * here) changes nothing compiled, but this node's word on the port must follow at once.
   */
  reportStatus(model: ModelView): void {
    const reporter = this.o.reporter;
    if (!reporter || !this.lastPass) return;
    const { all, after } = this.lastPass;
    const gate = this.o.gate;
    // In the background: the next pass does not wait for the PUTs (failures come back as a retry).
    // The ports wired here, and those the gate refused: those are reported ERROR with the reason.
    const refused = (id: string) => gate?.rejected?.(id);
    const served = this.o.servedWithoutTap?.() ?? new Set<string>();
    const reported = gate
      ? { ...all, ports: all.ports.filter((p) => gate.ready(p.portId) || refused(p.portId) || served.has(p.portId)) }
      : all;
    reporter.submit(portStatusUpdates(reported, after, model, refused, served), model);
  }
}
