/**
 * The DHCP port contract: one Neutron port per (network, host) with device_owner "network:dhcp",
 * device_id "dhcp-<host>" and binding:host_id = host. Its fixed IPs and MAC become the address of the
 * dnsmasq interface; the agent creates it through the API with `dhcpPortRequest`.
 */
import type { Port } from '../../model/types.js';

export const DHCP_DEVICE_OWNER = 'network:dhcp';

export const dhcpDeviceId = (host: string): string => `dhcp-${host}`;

/** Body for `POST /v2.0/ports` creating this host's DHCP port on a network. When `subnetIds` is
 * given, asks for one address in each of those subnets (otherwise the server's IPAM default). */
export function dhcpPortRequest(
  networkId: string,
  host: string,
  subnetIds?: readonly string[],
): { port: Record<string, unknown> } {
  const port: Record<string, unknown> = {
    network_id: networkId,
    name: `dhcp-${host}`,
    device_owner: DHCP_DEVICE_OWNER,
    device_id: dhcpDeviceId(host),
    'binding:host_id': host,
    admin_state_up: true,
  };
  if (subnetIds) port.fixed_ips = subnetIds.map((subnet_id) => ({ subnet_id }));
  return { port };
}

export function isDhcpPort(p: Port): boolean {
  return p.device_owner === DHCP_DEVICE_OWNER;
}

/** This host's DHCP port on a network (lowest id wins if a race created two), or undefined. */
export function findDhcpPort(ports: readonly Port[], networkId: string, host: string): Port | undefined {
  return ports
    .filter(
      (p) =>
        p.network_id === networkId &&
        isDhcpPort(p) &&
        p.device_id === dhcpDeviceId(host) &&
        p['binding:host_id'] === host,
    )
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))[0];
}
