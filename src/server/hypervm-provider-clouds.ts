/**
 * Which clouds launch HyperVMs through their ProviderDriver (the `agentless:` section's clouds with
 * `hypervm_provider: true`), and the node name such a HyperVM's provider VM and agent take.
 */
import type { AgentlessConfig } from '../model/agentless-config.js';
import { cloudConfigs } from './agentless/providers/clouds.js';
import type { ServerConfig } from './config.js';

/** The options of `cloud` when its provider launches HyperVMs; undefined otherwise. */
export function providerHyperVmCloud(config: ServerConfig, cloud: string): AgentlessConfig | undefined {
  if (!config.agentless) return undefined;
  return cloudConfigs(config.agentless).find((c) => c.cloud === cloud && c.hypervm_provider);
}

/** The node (provider VM, agent host id) of a provider-launched HyperVM: one per HyperVM. */
export const providerHyperVmHost = (hypervmId: string): string => `hvm-${hypervmId.slice(0, 12)}`;
