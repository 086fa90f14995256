/**
 * An agentless port on the wire: its provider NIC with the hyperswitch serving it, and the user_data
 * (cloud-init) its VM boots with: the VPN client config with the endpoint and the port's client
 * certificate (issued once for its provider IP, then reused), or for a WireGuard port the wg-quick
 * config with the port's key pair (made once, then reused) and the hyperswitch's public key.
 */
import type { Flavor } from '../../model/agentless-config.js';
import { AGENTLESS_WG_PORT, type AgentlessPortWire, type VpnType } from '../../model/agentless.js';
import { wgOverhead } from '../../model/encryption.js';
import { NIC_TAGS, type ProviderHyperswitch, type ProviderNetworkInterface } from '../../model/provider.js';
import { type AgentlessDeps, cloudConfig, portFacts, vmsIp } from './context.js';
import { buildUserData, buildWgUserData } from './userdata.js';

/** The VPN an agentless port's NIC was created for (its tag; none: openvpn). */
export const vpnTypeOf = (nic: ProviderNetworkInterface): VpnType =>
  nic.tags[NIC_TAGS.vpnType] === 'wireguard' ? 'wireguard' : 'openvpn';

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
    vpn_type: vpnTypeOf(nic),
  };
}

/** The port's cloud-init document ('' while its Neutron port or the hyperswitch's vms NIC is missing). */
async function userData(d: AgentlessDeps, nic: ProviderNetworkInterface, hs: ProviderHyperswitch): Promise<string> {
  const facts = await portFacts(d.store, nic.port_id);
  const remote = vmsIp(hs, nic.index);
  if (!facts || !remote) return '';
  if (vpnTypeOf(nic) === 'wireguard') return wgUserData(d, nic, hs, remote);
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

/** A WireGuard port's cloud-init document ('' while its port has no fixed IP). */
async function wgUserData(
  d: AgentlessDeps,
  nic: ProviderNetworkInterface,
  hs: ProviderHyperswitch,
  remote: string,
): Promise<string> {
  const facts = await wgPortFacts(d, nic.port_id);
  if (!facts?.addresses.length) return '';
  const client = await d.ca.wgKey('client', nic.port_id);
  const server = await d.ca.wgKey('server', hs.id);
  const underlay = cloudConfig(d.config, nic.cloud).underlay_mtu;
  return buildWgUserData({
    portId: nic.port_id,
    privateKey: client.privateKey,
    addresses: facts.addresses,
    // The client's packets cross the provider network inside WireGuard: never more than it carries.
    mtu: Math.min(facts.mtu, underlay - wgOverhead(remote)),
    serverPublicKey: server.publicKey,
    endpointIp: remote,
    endpointPort: AGENTLESS_WG_PORT,
    routes: facts.routes,
  });
}

/** The port's fixed IPs, its network's MTU and its subnets' CIDRs. */
async function wgPortFacts(d: AgentlessDeps, portId: string) {
  return d.store.read(async (tx) => {
    const port = await tx.get('port', portId);
    const net = port && (await tx.get('network', port.network_id));
    if (!port || !net) return undefined;
    const routes: string[] = [];
    for (const id of net.subnets) {
      const sn = await tx.get('subnet', id);
      if (sn) routes.push(sn.cidr);
    }
    return { addresses: port.fixed_ips.map((f) => f.ip_address), mtu: net.mtu, routes };
  });
}
