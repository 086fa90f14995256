/**
 * Where a hyper port's provider NIC goes: on its owner's hyperswitch in the owner's cloud (launched
 * when there is none), with a free VPN UDP port on that hyperswitch (OpenVPN ports: WireGuard ports
 * share the hyperswitch's one interface), on the cloud's vms subnet of its NIC index, tagged with
 * these and its VPN type (the provider's tags are the only record of the agentless port).
 */
import type { Flavor } from '../../model/agentless-config.js';
import type { VpnType } from '../../model/agentless.js';
import {
  type HyperswitchOwner,
  NIC_TAGS,
  type ProviderHyperswitch,
  type ProviderNetworkInterface,
} from '../../model/provider.js';
import { faults } from '../errors.js';
import { type AgentlessDeps, cloudConfig, nicsOn, vmsIp } from './context.js';
import type { Hyperswitches } from './hyperswitches.js';
import { allocateVpnPort } from './vpn-ports.js';

/** The NIC to place: its hyper port, VM, tenant and NIC index in the VM. */
export interface NicSpec {
  port_id: string;
  device_id: string;
  tenant_id: string;
  index: number;
  vpn_type: VpnType;
}

/** Places a provider NIC for `n` (the caller holds the changes lock). */
export async function placeNic(
  d: AgentlessDeps,
  hyperswitches: Hyperswitches,
  n: NicSpec,
  owner: HyperswitchOwner,
  flavor: Flavor,
): Promise<{ nic: ProviderNetworkInterface; hs: ProviderHyperswitch }> {
  const { provider } = d;
  const config = cloudConfig(d.config, owner.cloud);
  const hs = await hyperswitches.ensure(owner, flavor);
  if (!vmsIp(hs, n.index)) throw faults.invalidInput(`hyperswitch ${hs.id} has no vms NIC for index ${n.index}`);
  const used = (await nicsOn(provider, hs.id)).map((x) => Number(x.tags[NIC_TAGS.vpnPort]));
  const { vpn_type, ...nicSpec } = n;
  const vpnTags: Record<string, string> =
    vpn_type === 'wireguard'
      ? { [NIC_TAGS.vpnType]: vpn_type }
      : { [NIC_TAGS.vpnPort]: String(allocateVpnPort(used, config.vpn_port_min, config.vpn_port_max)) };
  const subnet = (await provider.getVmsSubnet(owner.cloud))[n.index];
  if (!subnet) throw faults.invalidInput(`no vms subnet for index ${n.index}`);
  const sgs = await provider.getSgs(owner.cloud);
  const nic = await provider.createNetworkInterface({
    ...nicSpec,
    subnet,
    security_group: sgs.vm_sg ?? config.vm_sg_name,
    tags: { [NIC_TAGS.hyperswitch]: hs.id, ...vpnTags, [NIC_TAGS.flavor]: hs.flavor },
    cloud: owner.cloud,
  });
  return { nic, hs };
}
