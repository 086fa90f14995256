/**
 * Builds the provider driver of the `agentless:` section: one driver per configured cloud (the home
 * cloud and each of `clouds`, see ./clouds.ts) behind a MultiCloudProvider. `lab` (namespaces on this
 * machine) is implemented; `aws` and `openstack` are the seed's next providers (roadmap) and are
 * refused clearly. A lab cloud other than home keeps its state in `<stateDir>-<cloud>` unless its
 * options name a `lab_state_dir`.
 */
import type { Clock } from '../../common/clock.js';
import type { Exec } from '../../common/exec.js';
import type { Logger } from '../../common/log.js';
import type { AgentlessConfig } from '../config.js';
import type { ProviderDriver } from '../provider.js';
import { cloudConfigs, MultiCloudProvider } from './clouds.js';
import { LabProvider } from './lab.js';

function createOne(config: AgentlessConfig, deps: { stateDir: string; exec: Exec; clock: Clock; log: Logger }): ProviderDriver {
  switch (config.provider) {
    case 'lab':
      return new LabProvider({ config, ...deps });
    default:
      throw new Error(`agentless provider '${config.provider}' is not implemented yet (use provider: lab)`);
  }
}

export function createProvider(config: AgentlessConfig, deps: { stateDir: string; exec: Exec; clock: Clock; log: Logger }): ProviderDriver {
  const drivers = new Map<string, ProviderDriver>();
  for (const [i, c] of cloudConfigs(config).entries()) {
    const stateDir = i === 0 ? deps.stateDir : c.lab_state_dir || `${deps.stateDir}-${c.cloud}`;
    drivers.set(c.cloud, createOne(c, { ...deps, stateDir, log: deps.log.child({ cloud: c.cloud }) }));
  }
  return new MultiCloudProvider(drivers, config.cloud);
}
