/**
 * The agentless plugin of the server (HyperswitchPlugin in the original design), put together from
 * its parts: agentless ports with their placement and moves (./ports.ts), hyperswitches
 * (./hyperswitches.ts), and the VPN configuration the hyperswitches' agents poll with what they
 * report serving (./vpn-config.ts). Neither entity is a store row (provider entities only); several
 * clouds can be configured (providers/clouds.ts). Creates, moves and deletes share one lock.
 */
import type { Logger } from '../../common/log.js';
import { Mutex } from '../../common/mutex.js';
import type { AgentlessConfig } from '../../model/agentless-config.js';
import type { ProviderDriver } from '../../model/provider.js';
import type { Store } from '../store/store.js';
import type { AgentlessDeps } from './context.js';
import { Hyperswitches } from './hyperswitches.js';
import type { CertificateAuthority } from './pki/ca.js';
import { AgentlessPorts } from './ports.js';
import { VpnConfigs } from './vpn-config.js';

export interface AgentlessServiceOptions {
  config: AgentlessConfig;
  provider: ProviderDriver;
  ca: CertificateAuthority;
  store: Store;
  log: Logger;
  /** How long a move waits for the target hyperswitch's agent to serve the port (default 20 s). */
  prepareTimeoutMs?: number;
}

export class AgentlessService {
  readonly hyperswitches: Hyperswitches;
  readonly vpn: VpnConfigs;
  readonly ports: AgentlessPorts;
  /** The clouds' provider (also the one HyperVMs launch through, hypervm-launcher.ts). */
  readonly provider: ProviderDriver;

  constructor(o: AgentlessServiceOptions) {
    this.provider = o.provider;
    const d: AgentlessDeps = { ...o, changes: new Mutex() };
    this.hyperswitches = new Hyperswitches(d);
    this.vpn = new VpnConfigs(d);
    this.ports = new AgentlessPorts(d, this.hyperswitches, this.vpn, o.prepareTimeoutMs);
  }

  /** Resolves when the work started after an answer (an unused hyperswitch's teardown) is done. */
  idle(): Promise<void> {
    return this.ports.idle();
  }
}
