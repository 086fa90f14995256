/**
 * Builds the provider driver of the `agentless:` section: one driver per configured cloud (the home
 * cloud and each of `clouds`, see ./clouds.ts) behind a MultiCloudProvider, each made by the factory
 * of its provider kind. A kind with no factory is refused clearly. A cloud other than home keeps its
 * state in `<stateDir>-<cloud>` unless its options name a `lab_state_dir`.
 */
import type { Clock } from '../../../common/clock.js';
import type { Exec } from '../../../common/exec.js';
import type { Logger } from '../../../common/log.js';
import type { AgentlessConfig } from '../../../model/agentless-config.js';
import type { ProviderDriver, ProviderFactories } from '../../../model/provider.js';
import { cloudConfigs, MultiCloudProvider } from './clouds.js';

export interface ProviderDeps {
  stateDir: string;
  exec: Exec;
  clock: Clock;
  log: Logger;
}

export function createProvider(
  config: AgentlessConfig,
  deps: ProviderDeps,
  factories: ProviderFactories,
): MultiCloudProvider {
  const drivers = new Map<string, ProviderDriver>();
  for (const [i, c] of cloudConfigs(config).entries()) {
    const factory = factories[c.provider];
    if (!factory) {
      const known = Object.keys(factories).join(', ') || 'none';
      throw new Error(
        `agentless provider '${c.provider}' of cloud '${c.cloud}' is not available (available: ${known})`,
      );
    }
    const stateDir = i === 0 ? deps.stateDir : c.lab_state_dir || `${deps.stateDir}-${c.cloud}`;
    drivers.set(c.cloud, factory({ config: c, ...deps, stateDir, log: deps.log.child({ cloud: c.cloud }) }));
  }
  return new MultiCloudProvider(drivers, config.cloud);
}
