/**
 * Several clouds behind the one ProviderDriver the agentless plugin talks to. The `agentless:` section
 * is the home cloud (named by its `cloud` option); each entry of its `clouds` map is another cloud
 * whose options override the section's (its own vms_cidr, region, lab addresses…), served by its own
 * driver. Calls that make something (a hyperswitch, a NIC) go to the cloud they name (default: home);
 * lists ask every cloud (or those of a `clouds` filter) and stamp each entity with its cloud; deletes
 * go to the cloud that holds the id. This is what lets an agentless port move between clouds
 * (PUT /v2.0/agentlessports/{id} {"cloud": …}).
 */
import { parseAgentlessConfig, type AgentlessConfig, type Flavor } from '../../../model/agentless-config.js';
import type {
  HyperVmLaunchArgs,
  HyperswitchOwner,
  NetSpec,
  ProviderDriver,
  ProviderHyperswitch,
  ProviderHyperVm,
  ProviderNetworkInterface,
} from '../../../model/provider.js';

/** Every cloud's options: the section itself (home) first, then each of `clouds` over it. */
export function cloudConfigs(c: AgentlessConfig): AgentlessConfig[] {
  return [
    c,
    ...Object.entries(c.clouds).map(([name, o]) =>
      parseAgentlessConfig({ ...c, lab_state_dir: '', ...o, cloud: name, clouds: {} }),
    ),
  ];
}

/** The names of the configured clouds, home first. */
export const cloudNames = (c: AgentlessConfig): string[] => [c.cloud, ...Object.keys(c.clouds)];

type HsFilter = Parameters<ProviderDriver['getHyperswitchs']>[0];
type NicFilter = Parameters<ProviderDriver['getNetworkInterfaces']>[0];

export class MultiCloudProvider implements ProviderDriver {
  /** `clouds`: name → driver, home first. */
  constructor(
    private readonly clouds: ReadonlyMap<string, ProviderDriver>,
    private readonly home: string,
  ) {}

  /** The driver of one cloud (the custom-route controllers talk to each cloud's own). */
  driverOf(cloud: string): ProviderDriver | undefined {
    return this.clouds.get(cloud);
  }

  private pick(cloud?: string): ProviderDriver {
    const p = this.clouds.get(cloud ?? this.home);
    if (!p) throw new Error(`unknown cloud '${cloud}' (configured: ${[...this.clouds.keys()].join(', ')})`);
    return p;
  }

  private async each<T>(
    names: readonly string[] | undefined,
    fn: (p: ProviderDriver, cloud: string) => Promise<T[]>,
  ): Promise<T[]> {
    const picked = [...this.clouds].filter(([n]) => !names || names.includes(n));
    return (await Promise.all(picked.map(([n, p]) => fn(p, n)))).flat();
  }

  getSgs(cloud?: string) {
    return this.pick(cloud).getSgs();
  }

  getVmsSubnet(cloud?: string) {
    return this.pick(cloud).getVmsSubnet();
  }

  getHyperswitchHostName(owner: HyperswitchOwner): string {
    return this.pick(owner.cloud).getHyperswitchHostName(owner);
  }

  async launchHyperswitch(
    args: { user_data: string; flavor: Flavor; net_list: NetSpec[] } & HyperswitchOwner,
  ): Promise<ProviderHyperswitch> {
    return { ...(await this.pick(args.cloud).launchHyperswitch(args)), cloud: args.cloud ?? this.home };
  }

  async getHyperswitchs(filter: HsFilter = {}): Promise<ProviderHyperswitch[]> {
    const { clouds, ...f } = filter;
    return this.each(clouds, async (p, cloud) => (await p.getHyperswitchs(f)).map((h) => ({ ...h, cloud })));
  }

  async startHyperswitchs(hyperswitchs: ProviderHyperswitch[]): Promise<void> {
    for (const [cloud, p] of this.clouds) {
      const mine = hyperswitchs.filter((h) => (h.cloud ?? this.home) === cloud);
      if (mine.length) await p.startHyperswitchs(mine);
    }
  }

  async deleteHyperswitch(id: string): Promise<void> {
    for (const p of this.clouds.values()) {
      if ((await p.getHyperswitchs({ hyperswitch_ids: [id] })).length) await p.deleteHyperswitch(id);
    }
  }

  async createNetworkInterface(
    args: Parameters<ProviderDriver['createNetworkInterface']>[0],
  ): Promise<ProviderNetworkInterface> {
    return { ...(await this.pick(args.cloud).createNetworkInterface(args)), cloud: args.cloud ?? this.home };
  }

  async getNetworkInterfaces(filter?: NicFilter): Promise<ProviderNetworkInterface[]> {
    return this.each(undefined, async (p, cloud) =>
      (await p.getNetworkInterfaces(filter)).map((n) => ({ ...n, cloud })),
    );
  }

  async deleteNetworkInterface(id: string): Promise<void> {
    for (const p of this.clouds.values()) {
      if ((await p.getNetworkInterfaces({ names: [id] })).length) await p.deleteNetworkInterface(id);
    }
  }

  async launchHyperVm(args: HyperVmLaunchArgs): Promise<ProviderHyperVm> {
    const cloud = args.cloud ?? this.home;
    const p = this.pick(cloud);
    if (!p.launchHyperVm) throw new Error(`the provider of cloud '${cloud}' cannot launch HyperVMs`);
    return { ...(await p.launchHyperVm(args)), cloud };
  }

  async getHyperVms(filter: { ids?: string[]; clouds?: string[] } = {}): Promise<ProviderHyperVm[]> {
    const { clouds, ...f } = filter;
    return this.each(clouds, async (p, cloud) => ((await p.getHyperVms?.(f)) ?? []).map((v) => ({ ...v, cloud })));
  }

  async deleteHyperVm(id: string): Promise<void> {
    for (const p of this.clouds.values())
      if ((await p.getHyperVms?.({ ids: [id] }))?.length) await p.deleteHyperVm?.(id);
  }
}
