/**
 * Picks the provider driver named by the `provider` option. `lab` (namespaces on this machine) is
 * implemented; `aws` and `openstack` are the seed's next providers (roadmap) and are refused clearly.
 */
import type { Clock } from '../../common/clock.js';
import type { Exec } from '../../common/exec.js';
import type { Logger } from '../../common/log.js';
import type { AgentlessConfig } from '../config.js';
import type { ProviderDriver } from '../provider.js';
import { LabProvider } from './lab.js';

export function createProvider(config: AgentlessConfig, deps: { stateDir: string; exec: Exec; clock: Clock; log: Logger }): ProviderDriver {
  switch (config.provider) {
    case 'lab':
      return new LabProvider({ config, ...deps });
    default:
      throw new Error(`agentless provider '${config.provider}' is not implemented yet (use provider: lab)`);
  }
}
