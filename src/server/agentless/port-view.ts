/**
 * An agentless port on the wire: its provider NIC with the hyperswitch serving it, and the user_data
 * (cloud-init) its VM boots with: the VPN client config with the endpoint and the port's client
 * certificate (issued once for its provider IP, then reused).
 */
import type { Flavor } from '../../model/agentless-config.js';
import type { AgentlessPortWire } from '../../model/agentless.js';
import { NIC_TAGS, type ProviderHyperswitch, type ProviderNetworkInterface } from '../../model/provider.js';
import { type AgentlessDeps, cloudConfig, portFacts, vmsIp } from './context.js';
import { buildUserData } from './userdata.js';

export async function presentPort(
  d: AgentlessDeps,
  nic: ProviderNetworkInterface,
  hss: readonly ProviderHyperswitch[],
): Promise<AgentlessPortWire> {
  const hsId = nic.tags[NIC_TAGS.hyperswitch] ?? '';
  const hs = hss.find((h) => h.id === hsId);
  const flavor = (nic.tags[NIC_TAGS.flavor] as Flavor | undefined) ?? hs?.flavor ?? d.config.default_flavor;
  return {
    id: nic.id,
    port_id: nic.port_id,
    flavor,
    device_id: nic.device_id,
    index: nic.index as 0 | 1 | 2,
    user_data: hs ? await userData(d, nic, hs) : '',
    project_id: nic.tenant_id,
    tenant_id: nic.tenant_id,
    private_ip: nic.private_ip,
    hyperswitch_id: hsId,
    cloud: nic.cloud ?? d.config.cloud,
  };
}

/** The port's cloud-init document ('' while its Neutron port or the hyperswitch's vms NIC is missing). */
async function userData(d: AgentlessDeps, nic: ProviderNetworkInterface, hs: ProviderHyperswitch): Promise<string> {
  const facts = await portFacts(d.store, nic.port_id);
  const remote = vmsIp(hs, nic.index);
  if (!facts || !remote) return '';
  const cert = await d.ca.issueClient({ portId: nic.port_id, providerIp: nic.private_ip });
  return buildUserData({
    portId: nic.port_id,
    macAddress: facts.mac,
    remoteIp: remote,
    remotePort: Number(nic.tags[NIC_TAGS.vpnPort]),
    mtu: facts.mtu,
    underlayMtu: cloudConfig(d.config, nic.cloud).underlay_mtu,
    serverName: hs.id,
    caPem: cert.caPem,
    certPem: cert.certPem,
    keyPem: cert.keyPem,
  });
}
