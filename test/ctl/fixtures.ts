/** Small model objects for the pure CLI and dashboard tests (not a fake server: plain data). */
import type { Agent, Network, Port, Subnet } from '../../src/model/types.js';

const base = { project_id: 'p', tenant_id: 'p', description: '', tags: [], revision_number: 1, created_at: '', updated_at: '' };

export function agent(host: string, cloud: string, alive: boolean, heartbeat = '2026-11-21T05:00:00Z'): Agent {
  return {
    id: `agent-${host}`,
    agent_type: 'hypernet agent',
    binary: 'hypernet-agent',
    host,
    topic: 'N/A',
    admin_state_up: true,
    alive,
    availability_zone: null,
    created_at: '',
    started_at: '',
    heartbeat_timestamp: heartbeat,
    description: '',
    configurations: { tunneling_ip: `192.0.2.${host.length}`, cloud },
  };
}

export function network(id: string, name: string, subnets: string[] = []): Network {
  return {
    ...base,
    id,
    name,
    admin_state_up: true,
    status: 'ACTIVE',
    subnets,
    shared: false,
    mtu: 1450,
    port_security_enabled: true,
    'provider:network_type': 'vxlan',
    'provider:physical_network': null,
    'provider:segmentation_id': 100,
    'router:external': false,
    availability_zone_hints: [],
    availability_zones: [],
  };
}

export function subnet(id: string, networkId: string, cidr: string): Subnet {
  return {
    ...base,
    id,
    name: id,
    network_id: networkId,
    cidr,
    ip_version: 4,
    gateway_ip: null,
    allocation_pools: [],
    enable_dhcp: true,
    dns_nameservers: [],
    host_routes: [],
    ipv6_ra_mode: null,
    ipv6_address_mode: null,
    subnetpool_id: null,
  };
}

export function port(id: string, networkId: string, host: string, status: Port['status'], ip = '10.0.1.5'): Port {
  return {
    ...base,
    id,
    name: id,
    network_id: networkId,
    admin_state_up: true,
    mac_address: 'fa:16:3e:00:00:01',
    fixed_ips: [{ subnet_id: 's1', ip_address: ip }],
    allowed_address_pairs: [],
    port_security_enabled: true,
    security_groups: [],
    device_id: '',
    device_owner: '',
    status,
    'binding:host_id': host,
    'binding:profile': {},
    'binding:vif_type': host ? 'tap' : 'unbound',
    'binding:vif_details': {},
    'binding:vnic_type': 'normal',
  };
}
