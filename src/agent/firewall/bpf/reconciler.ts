/**
 * The tc-BPF firewall mode's sub-reconciler (agent flag `--firewall tc-bpf`): compiles the node's
 * ports to map entries, has the driver write the delta, and is the datapath's port gate: a port is
 * ready once a successful apply attached its tap and wrote its entries, so a tap is never in its
 * bridge unfiltered. The conntrack mode is irrelevant here (no netfilter, no br_netfilter).
 */
import type { Logger } from '../../../common/log.js';
import type { ModelView } from '../../../model/model-cache.js';
import type { PortGate } from '../../datapath/reconciler.js';
import type { PassContext, SubReconciler } from '../../loop/reconciler.js';
import { firewallInput, GroupsWithRules } from '../reconciler.js';
import { compileBpf } from './compile.js';
import type { BpfFirewallDriver } from './driver.js';

export class BpfFirewallReconciler implements SubReconciler, PortGate {
  readonly name = 'firewall';
  private readyPorts = new Set<string>();
  private refused: ReadonlyMap<string, string> = new Map();
  /** False while some local port's tap was missing at the last apply (a tap appearing must be seen). */
  private complete = false;
  private readonly groups = new GroupsWithRules();

  constructor(
    private readonly host: string,
    private readonly driver: BpfFirewallDriver,
    private readonly log: Logger,
  ) {}

  async reconcile(model: ModelView, pass?: PassContext): Promise<void> {
    if (pass && !pass.full && !pass.modelChanged && this.complete) return;
    // 'br-netfilter' only fills the input's mode field: compileBpf does not read it.
    const input = firewallInput(this.host, model, 'br-netfilter', this.groups.of(model), false);
    const compiled = compileBpf(input);
    this.complete = false;
    const present = await this.driver.apply(compiled, pass?.full ?? true);
    const refused = compiled.rejected;
    this.readyPorts = new Set(
      input.localPorts.flatMap((lp) => {
        const filtered = compiled.taps.includes(lp.ifname);
        return refused.has(lp.port.id) || (filtered && !present.has(lp.ifname)) ? [] : [lp.port.id];
      }),
    );
    this.complete = input.localPorts.every((lp) => this.readyPorts.has(lp.port.id) || refused.has(lp.port.id));
    if (JSON.stringify([...refused]) !== JSON.stringify([...this.refused]))
      this.log.warn({ ports: Object.fromEntries(refused) }, 'ports refused: their objects cannot be compiled');
    this.refused = refused;
  }

  /** The link monitor saw `tap` come, change or go. */
  forgetTap(tap: string): void {
    this.driver.forgetTap(tap);
  }

  ready(portId: string): boolean {
    return this.readyPorts.has(portId);
  }

  rejected(portId: string): string | undefined {
    return this.refused.get(portId);
  }
}
