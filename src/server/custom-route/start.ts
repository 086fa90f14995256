/**
 * Starts a custom-route controller (./reconciler.ts) for every cloud of the `agentless:` section whose
 * provider offers custom-route calls (`provider: aws`); none when no such cloud is configured.
 */
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';
import type { ProviderDriver } from '../../model/provider.js';
import type { ServerConfig } from '../config.js';
import { cloudConfigs } from '../agentless/providers/clouds.js';
import type { Store } from '../store/store.js';
import { CustomRouteController, type CrMetrics } from './reconciler.js';

export interface CrStartOptions {
  config: ServerConfig;
  /** The driver of each configured cloud, by name. */
  driverOf(cloud: string): ProviderDriver | undefined;
  store: Store;
  clock: Clock;
  log: Logger;
  metrics?: CrMetrics;
}

export function startCustomRouteControllers(o: CrStartOptions): CustomRouteController[] {
  const section = o.config.agentless;
  if (!section) return [];
  const out: CustomRouteController[] = [];
  for (const c of cloudConfigs(section)) {
    const api = c.provider === 'aws' ? o.driverOf(c.cloud)?.customRoutes?.() : undefined;
    if (!api) continue;
    const controller = new CustomRouteController({
      cloud: c.cloud,
      api,
      groupNames: { vm: c.custom_route_vm_sg_name, hs: c.custom_route_hs_sg_name },
      store: o.store,
      config: o.config,
      clock: o.clock,
      log: o.log.child({ part: 'custom-route', cloud: c.cloud }),
      metrics: o.metrics,
      resyncMs: c.custom_route_resync_seconds * 1000,
    });
    controller.start();
    out.push(controller);
  }
  return out;
}
