/**
 * The `aws` provider loaded on first use: the AWS SDK takes a second or more to import, and every
 * `hypernet` command builds the provider table, so the SDK is imported only when an aws cloud is used.
 */
import type { CustomRouteCloud } from '../model/custom-route-cloud.js';
import { hyperswitchHostName, type ProviderDriver, type ProviderOptions } from '../model/provider.js';

export function lazyAwsProvider(o: ProviderOptions): ProviderDriver {
  let driver: Promise<ProviderDriver> | undefined;
  const load = (): Promise<ProviderDriver> =>
    (driver ??= import('./aws-provider.js').then((m) => new m.AwsProvider(o)));
  return {
    getSgs: async (cloud) => (await load()).getSgs(cloud),
    getVmsSubnet: async (cloud) => (await load()).getVmsSubnet(cloud),
    getHyperswitchHostName: (owner) => hyperswitchHostName(o.config.cloud, owner),
    launchHyperswitch: async (args) => (await load()).launchHyperswitch(args),
    getHyperswitchs: async (filter) => (await load()).getHyperswitchs(filter),
    startHyperswitchs: async (hs) => (await load()).startHyperswitchs(hs),
    deleteHyperswitch: async (id) => (await load()).deleteHyperswitch(id),
    createNetworkInterface: async (args) => (await load()).createNetworkInterface(args),
    getNetworkInterfaces: async (filter) => (await load()).getNetworkInterfaces(filter),
    deleteNetworkInterface: async (id) => (await load()).deleteNetworkInterface(id),
    customRoutes: () => {
      const cr = (): Promise<CustomRouteCloud> => load().then((d) => d.customRoutes!());
      return {
        describe: async (enis, groups) => (await cr()).describe(enis, groups),
        describeEnis: async (enis) => (await cr()).describeEnis(enis),
        setRoute: async (table, cidr, eni) => (await cr()).setRoute(table, cidr, eni),
        deleteRoute: async (table, cidr) => (await cr()).deleteRoute(table, cidr),
        setSourceDestCheck: async (eni, on) => (await cr()).setSourceDestCheck(eni, on),
        ensureSecurityGroup: async (name, d, rules) => (await cr()).ensureSecurityGroup(name, d, rules),
        setGroups: async (eni, groups) => (await cr()).setGroups(eni, groups),
        setRole: async (eni, role) => (await cr()).setRole(eni, role),
      };
    },
  };
}
