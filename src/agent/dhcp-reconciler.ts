/**
 * The DHCP sub-reconciler: glue between the model and src/agent/dhcp/ (compileDhcp → DhcpDriver).
 * It asks the server for this host's DHCP port on a network when compile says one is missing (the
 * port comes back by watch), and applies after the datapath so the bridges exist. A pass that is not
 * full skips the driver (its per-network namespace, process and file checks) when the compiled
 * desired state is the one last applied without error; full passes always check.
 */
import type { ApiClient } from '../client/api.js';
import type { Clock } from '../common/clock.js';
import type { Exec } from '../common/exec.js';
import type { Logger } from '../common/log.js';
import { compileDhcp, dhcpPortRequest, DhcpDriver } from './dhcp/index.js';
import type { ModelView } from './model-cache.js';
import type { PassContext, SubReconciler } from './reconcile.js';
import type { NodeInfo } from './state.js';

export interface DhcpReconcilerOptions {
  api: Pick<ApiClient, 'create'>;
  exec: Exec;
  clock: Clock;
  log: Logger;
  node: NodeInfo;
  netnsPrefix: string;
  stateDir: string;
  /** Do not ask again for a DHCP port within this time (it is on its way). */
  requestQuietMs?: number;
}

export class DhcpReconciler implements SubReconciler {
  readonly name = 'dhcp';
  private readonly driver: DhcpDriver;
  private readonly requested = new Map<string, number>();
  /** The desired state last applied without error (JSON), or null. */
  private appliedKey: string | null = null;

  constructor(private readonly o: DhcpReconcilerOptions) {
    this.driver = new DhcpDriver({ exec: o.exec, log: o.log, stateDir: o.stateDir, netnsPrefix: o.netnsPrefix, clock: o.clock });
  }

  async reconcile(model: ModelView, pass?: PassContext): Promise<void> {
    const { node, clock, log } = this.o;
    const desired = compileDhcp({
      host: node.host,
      networks: [...model.networks.values()],
      subnets: [...model.subnets.values()],
      ports: [...model.ports.values()],
      underlayMtu: node.underlayMtu,
      netnsPrefix: this.o.netnsPrefix,
    });
    for (const p of desired.problems) log.warn({ problem: p }, 'dhcp');
    const errors: string[] = [];
    for (const networkId of desired.needsDhcpPort) {
      const at = this.requested.get(networkId);
      if (at !== undefined && clock.now() - at < (this.o.requestQuietMs ?? 10_000)) continue;
      this.requested.set(networkId, clock.now());
      try {
        await this.o.api.create('ports', 'port', dhcpPortRequest(networkId, node.host).port);
        log.info({ network: networkId }, 'dhcp port requested');
      } catch (e) {
        errors.push(`dhcp port for ${networkId}: ${(e as Error).message}`);
      }
    }
    const key = JSON.stringify(desired);
    if (pass && !pass.full && key === this.appliedKey) {
      if (errors.length) throw new Error(errors.join('; '));
      return;
    }
    this.appliedKey = null;
    const r = await this.driver.apply(desired);
    for (const n of r.networks) if (n.status !== 'ok') errors.push(`vni ${n.vni}: ${n.status}${n.error ? ` ${n.error}` : ''}`);
    for (const e of r.removeErrors) errors.push(`remove vni ${e.vni}: ${e.error}`);
    if (errors.length) throw new Error(errors.join('; '));
    this.appliedKey = key;
  }
}
