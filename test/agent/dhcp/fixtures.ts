/** Model objects for the DHCP tests: minimal valid networks, subnets and ports. */
import type { Network, Port, Subnet } from '../../../src/model/types.js';

const base = (id: string) => ({
  id,
  project_id: 'p1',
  tenant_id: 'p1',
  name: id,
  description: '',
  tags: [],
  revision_number: 1,
  created_at: '2026-11-01T00:00:00Z',
  updated_at: '2026-11-01T00:00:00Z',
});

export function network(id: string, vni: number): Network {
  return {
    ...base(id),
    admin_state_up: true,
    status: 'ACTIVE',
    subnets: [],
    shared: false,
    mtu: 1450,
    port_security_enabled: true,
    'provider:network_type': 'vxlan',
    'provider:physical_network': null,
    'provider:segmentation_id': vni,
    'router:external': false,
    availability_zone_hints: [],
    availability_zones: [],
  };
}

export function subnet(id: string, networkId: string, cidr: string, over: Partial<Subnet> = {}): Subnet {
  return {
    ...base(id),
    network_id: networkId,
    cidr,
    ip_version: 4,
    gateway_ip: cidr.replace(/\.0\/\d+$/, '.1'),
    allocation_pools: [],
    enable_dhcp: true,
    dns_nameservers: [],
    host_routes: [],
    ipv6_ra_mode: null,
    ipv6_address_mode: null,
    subnetpool_id: null,
    ...over,
  };
}

export function port(
  id: string,
  networkId: string,
  mac: string,
  ips: [subnetId: string, ip: string][],
  host: string,
  over: Partial<Port> = {},
): Port {
  return {
    ...base(id),
    network_id: networkId,
    admin_state_up: true,
    mac_address: mac,
    fixed_ips: ips.map(([subnet_id, ip_address]) => ({ subnet_id, ip_address })),
    allowed_address_pairs: [],
    port_security_enabled: true,
    security_groups: [],
    device_id: `vm-${id}`,
    device_owner: 'compute:nova',
    status: 'DOWN',
    'binding:host_id': host,
    'binding:profile': {},
    'binding:vif_type': 'unbound',
    'binding:vif_details': {},
    'binding:vnic_type': 'normal',
    ...over,
  };
}

export function dhcpPort(id: string, networkId: string, mac: string, ips: [string, string][], host: string): Port {
  return port(id, networkId, mac, ips, host, { device_owner: 'network:dhcp', device_id: `dhcp-${host}` });
}
