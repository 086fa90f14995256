/**
 * What the parts of the agentless plugin share: their dependencies (options, provider, CA, store,
 * and the lock that runs creates, moves and deletes one at a time), a caller's tenant scope, the
 * cloud a request names, and the lookups they all make (NICs a hyperswitch serves, a port's facts).
 */
import type { Logger } from '../../common/log.js';
import type { Mutex } from '../../common/mutex.js';
import type { AgentlessConfig } from '../../model/agentless-config.js';
import type { Hyperswitch } from '../../model/agentless.js';
import { NIC_TAGS, type ProviderDriver, type ProviderNetworkInterface } from '../../model/provider.js';
import { faults, NeutronFault } from '../errors.js';
import type { Ctx } from '../resource.js';
import type { Store } from '../store/store.js';
import type { CertificateAuthority } from './pki/ca.js';
import { cloudConfigs, cloudNames } from './providers/clouds.js';

export interface AgentlessDeps {
  config: AgentlessConfig;
  provider: ProviderDriver;
  ca: CertificateAuthority;
  store: Store;
  log: Logger;
  /** Creates, moves and deletes of ports and hyperswitches run one at a time. */
  changes: Mutex;
}

export const notFound = (what: 'Agentlessport' | 'Hyperswitch', id: string) =>
  new NeutronFault(404, `${what}NotFound`, `${what} ${id} could not be found.`);

/** The hyperswitch's address on the vms subnet of NIC `index` (where that NIC's VPN server listens). */
export const vmsIp = (hs: Hyperswitch, index: number): string | null =>
  [hs.vms_ip_0, hs.vms_ip_1, hs.vms_ip_2][index] ?? null;

/** A provider filter narrowed to the caller's tenant: non-admins see only their own entities. */
export function scopeTenants<F extends object>(
  ctx: Ctx,
  f: F & { tenant_ids?: string[] },
): F & { tenant_ids?: string[] } {
  if (ctx.caller.isAdmin) return f;
  const mine = ctx.caller.projectId;
  return { ...f, tenant_ids: f.tenant_ids ? f.tenant_ids.filter((t) => t === mine) : [mine] };
}

/** The cloud named (default: home); 400 when it is not configured. */
export function knownCloud(config: AgentlessConfig, cloud: string | undefined): string {
  const names = cloudNames(config);
  if (cloud !== undefined && !names.includes(cloud))
    throw faults.invalidInput(`unknown cloud '${cloud}'; configured: ${names.join(', ')}`);
  return cloud ?? config.cloud;
}

/** The options of one cloud (default: home). */
export function cloudConfig(config: AgentlessConfig, cloud: string | undefined): AgentlessConfig {
  return cloudConfigs(config).find((c) => c.cloud === (cloud ?? config.cloud)) ?? config;
}

/** The provider NICs (agentless ports) hyperswitch `hsId` serves. */
export async function nicsOn(provider: ProviderDriver, hsId: string): Promise<ProviderNetworkInterface[]> {
  return (await provider.getNetworkInterfaces()).filter((n) => n.tags[NIC_TAGS.hyperswitch] === hsId);
}

/** The hyper port's MAC and its network's MTU (undefined when the port or network is gone). */
export async function portFacts(store: Store, portId: string): Promise<{ mac: string; mtu: number } | undefined> {
  return store.read(async (tx) => {
    const port = await tx.get('port', portId);
    const net = port && (await tx.get('network', port.network_id));
    return port && net ? { mac: port.mac_address, mtu: net.mtu } : undefined;
  });
}
