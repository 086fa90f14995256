/**
 * The firewall sub-reconciler: glue between the agent's model view and compileFirewall →
 * FirewallDriver. On first use it detects the conntrack mode. In br-netfilter mode the node
 * namespace's br_netfilter sysctls are on only while some local port needs filtering (port security
 * on): a node whose ports all have port security off keeps netfilter off the bridged path (turned off
 * again when the last filtered port goes; re-checked on full passes), and has no tables of ours at
 * all, so not even its own VXLAN packets meet a hook or conntrack. Every run compiles the whole ruleset (memoised) and
 * the driver applies
 * it, or only its delta, in one transaction; a pass that is not full and whose model inputs did not
 * change (a tap woke the loop) skips both, and a full one with those inputs re-applies (checks) the
 * last ruleset without compiling it again. A failure throws (the agent's loop retries with
 * backoff) and leaves the last ruleset in force. `ready` is the fail-closed gate the datapath
 * checks before it plugs a tap into a bridge: true only for ports that a successful apply covered.
 * A port the compiler refuses (validate.ts) is closed and never ready; `rejected` gives the reason
 * the datapath reports in its status. The rest of the node's ports converge as usual.
 */
import type { Exec } from '../../common/exec.js';
import type { Logger } from '../../common/log.js';
import { wiredOn } from '../../model/bindings.js';
import type { SecurityGroup, SecurityGroupRule } from '../../model/types.js';
import type { ModelView } from '../../model/model-cache.js';
import { tapName } from '../../model/kernel-names.js';
import type { PassContext, SubReconciler } from '../loop/reconciler.js';
import type { PortGate } from '../datapath/reconciler.js';
import { FirewallCompiler } from './compile.js';
import { FirewallDriver } from './driver.js';
import type { NftSession } from './nft-session.js';
import { sameItems } from './diff.js';
import { isTrusted } from './model.js';
import { sourceInput } from './source.js';
import type { CompiledFirewall, FirewallInput, FirewallMode } from './model.js';

/** Security groups with their rules, merged from the groups' embedded lists and the rules table. */
export function groupsWithRules(model: ModelView): SecurityGroup[] {
  const byGroup = new Map<string, SecurityGroupRule[]>();
  for (const r of model.security_group_rules.values()) {
    const list = byGroup.get(r.security_group_id);
    if (list) list.push(r);
    else byGroup.set(r.security_group_id, [r]);
  }
  return [...model.security_groups.values()].map((g) => {
    const extra = byGroup.get(g.id);
    if (!extra) return g;
    const rules = new Map(g.security_group_rules.map((r) => [r.id, r]));
    for (const r of extra) rules.set(r.id, r);
    return { ...g, security_group_rules: [...rules.values()] };
  });
}

/**
 * groupsWithRules, the same array while no group or rule object changed: the compilers' memos key
 * on the group objects (a new array of new objects each pass rebuilt every port's filters).
 */
export class GroupsWithRules {
  private memo: { sgs: readonly object[]; rules: readonly object[]; out: SecurityGroup[] } | null = null;

  of(model: ModelView): SecurityGroup[] {
    const sgs = [...model.security_groups.values()];
    const rules = [...model.security_group_rules.values()];
    const m = this.memo;
    if (m && sameItems(m.sgs, sgs) && sameItems(m.rules, rules)) return m.out;
    const out = groupsWithRules(model);
    this.memo = { sgs, rules, out };
    return out;
  }
}

/** The compiler's input for `host`: ports bound or being prepared there (on their tap), every group and port. */
export function firewallInput(
  host: string,
  model: ModelView,
  mode: FirewallMode,
  securityGroups: readonly SecurityGroup[] = groupsWithRules(model),
  sourceFiltering = false,
): FirewallInput {
  const allPorts = [...model.ports.values()];
  return {
    ...(sourceFiltering ? { source: sourceInput(host, model, securityGroups) } : {}),
    mode,
    localPorts: allPorts
      .filter((p) => wiredOn(p, host))
      .map((port) => ({
        port,
        ifname: tapName(port.id),
        vni: model.networks.get(port.network_id)?.['provider:segmentation_id'],
      })),
    securityGroups,
    allPorts,
  };
}

export class FirewallReconciler implements SubReconciler, PortGate {
  readonly name = 'firewall';
  private readonly driver: FirewallDriver;
  private readonly compiler = new FirewallCompiler();
  private mode: FirewallMode | null = null;
  private readyPorts = new Set<string>();
  private refused: ReadonlyMap<string, string> = new Map();
  /** What the last apply that succeeded compiled from its model (null after a failure; no ruleset
   * when no local port needed filtering). */
  private last: { compiled: CompiledFirewall | null; filtering: boolean } | null = null;
  private readonly groups = new GroupsWithRules();
  /** br_netfilter as last set here (null: unknown). */
  private brnf: boolean | null = null;
  /** The conntrack mode probe started ahead (warm), for the first pass to take. */
  private modeProbe: Promise<FirewallMode> | null = null;

  /** `exec` runs in the node's namespace (the agent's own, or wrapped with inNetns); so must `session`'s nft. */
  constructor(
    private readonly host: string,
    exec: Exec,
    private readonly log: Logger,
    session: NftSession | null = null,
    /** Filter each flow between nodes once (source.ts); the agent then says so in its capabilities. */
    private readonly sourceFiltering = false,
  ) {
    this.driver = new FirewallDriver(exec, log, session);
  }

  /**
   * Probes the conntrack mode now (when the agent starts, while it waits for its first snapshot):
   * the probe is a program start, and the first pass of a restarted agent is its longest.
   */
  warm(): void {
    this.modeProbe ??= this.driver.detectMode();
    this.modeProbe.catch(() => undefined);
  }

  async reconcile(model: ModelView, pass?: PassContext): Promise<void> {
    // A tap woke the loop, the model's inputs are those of the last good pass: nothing to compile.
    if (pass && !pass.full && !pass.modelChanged && this.mode) return;
    if (!this.mode) {
      const probe = this.modeProbe ?? this.driver.detectMode();
      this.modeProbe = null;
      this.mode = await probe;
      this.log.info({ mode: this.mode }, 'firewall conntrack mode');
    }
    const full = pass?.full ?? true;
    // A full pass with the inputs of the last good pass: the same ruleset, checked in the kernel
    // (the driver's identity check), not compiled again.
    const same = pass && !pass.modelChanged ? this.last : null;
    const input = same ? null : firewallInput(this.host, model, this.mode, this.groups.of(model), this.sourceFiltering);
    const filtering = same?.filtering ?? input!.localPorts.some((lp) => !isTrusted(lp.port));
    const brnf = this.mode === 'br-netfilter' && filtering;
    // On before the rules that need it are applied (and a port gated in); off after.
    if (brnf && (full || this.brnf !== true)) await this.setBrnf(true);
    this.last = null;
    let compiled: CompiledFirewall | null = null;
    if (filtering) {
      compiled = same?.compiled ?? this.compiler.compile(input!);
      await this.driver.apply(compiled, full);
    } else if (full || this.driver.generation !== 0) {
      // No local port to filter: no tables at all, so nothing in this namespace (its own VXLAN
      // packets included) meets a netfilter hook or conntrack.
      await this.driver.teardown();
    }
    if (this.mode === 'br-netfilter' && !brnf && (full || this.brnf !== false)) await this.setBrnf(false);
    if (input) {
      const refused = compiled?.rejected ?? new Map<string, string>();
      this.readyPorts = new Set(input.localPorts.flatMap((lp) => (refused.has(lp.port.id) ? [] : [lp.port.id])));
      const said = JSON.stringify([...refused]);
      if (said !== JSON.stringify([...this.refused]))
        this.log.warn({ ports: Object.fromEntries(refused) }, 'ports refused: their objects cannot be compiled');
      this.refused = refused;
    }
    this.last = { compiled, filtering };
  }

  private async setBrnf(on: boolean): Promise<void> {
    this.brnf = null;
    await this.driver.bridgeNetfilter(on);
    this.brnf = on;
  }

  /** True once a successful apply covered the port (its filters, anti-spoofing and zone are in force). */
  ready(portId: string): boolean {
    return this.readyPorts.has(portId);
  }

  /** Why the compiler refused the port (it stays closed), or undefined. */
  rejected(portId: string): string | undefined {
    return this.refused.get(portId);
  }
}
