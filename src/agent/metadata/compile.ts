/**
 * compileMetadata: pure. A proxy for every network this node serves DHCP on (it lives in that
 * network's DHCP namespace, so isolated and routed networks alike reach it through the DHCP port),
 * and the identity behind every IPv4 address of a local workload port. Anti-spoofing guarantees a
 * port's frames carry its own addresses, so (network, source address) names one port.
 */
import ipaddr from 'ipaddr.js';
import type { MetadataIdentity } from '../../model/metadata-signature.js';
import type { Port } from '../../model/types.js';
import type { DhcpDesired } from '../dhcp/types.js';
import type { MetadataDesired } from './types.js';

export interface MetadataCompileInput {
  host: string;
  dhcp: DhcpDesired;
  ports: Iterable<Port>;
}

/** A workload's port: bound here, with a device, and not one of Neutron's own (`network:*`). */
const isWorkloadPort = (p: Port, host: string): boolean =>
  p['binding:host_id'] === host && p.device_id !== '' && !p.device_owner.startsWith('network:');

export function compileMetadata(input: MetadataCompileInput): MetadataDesired {
  const networks = input.dhcp.networks.map((n) => ({ networkId: n.networkId, vni: n.vni, netns: n.netns }));
  const served = new Set(networks.map((n) => n.networkId));
  const identities = new Map<string, Map<string, MetadataIdentity>>();
  for (const p of input.ports) {
    if (!served.has(p.network_id) || !isWorkloadPort(p, input.host)) continue;
    const byIp = identities.get(p.network_id) ?? new Map<string, MetadataIdentity>();
    identities.set(p.network_id, byIp);
    for (const ip of p.fixed_ips)
      if (ipaddr.IPv4.isValidFourPartDecimal(ip.ip_address))
        byIp.set(ip.ip_address, { instanceId: p.device_id, tenantId: p.project_id, portId: p.id });
  }
  return { networks: [...networks].sort((a, b) => a.vni - b.vni), identities };
}
