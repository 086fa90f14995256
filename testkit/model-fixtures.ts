/**
 * Small builders for model objects and views used by the agent's unit tests (golden inputs).
 */
import type { Agent, HyperVm, Network, Port, Subnet } from '../src/model/types.js';
import { ModelCache, type ModelView } from '../src/model/model-cache.js';
import { parseBridgePorts, parseFdb, parseLinks, parseNeigh } from '../src/agent/datapath/kernel-parse.js';
import type { ActualState } from '../src/agent/datapath/types.js';

/** The fields every model object has, with neutral values. */
export const base = {
  project_id: 'p',
  tenant_id: 'p',
  name: '',
  description: '',
  tags: [],
  revision_number: 1,
  created_at: '',
  updated_at: '',
};

export function net(id: string, vni: number): Network {
  return {
    ...base,
    id,
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

/** An IPv4 subnet without DHCP, pools or routes. */
export function subnet(id: string, network_id: string, cidr: string, gateway_ip: string | null): Subnet {
  return {
    ...base,
    id,
    network_id,
    cidr,
    gateway_ip,
    ip_version: 4,
    allocation_pools: [],
    enable_dhcp: false,
    dns_nameservers: [],
    host_routes: [],
    ipv6_ra_mode: null,
    ipv6_address_mode: null,
    subnetpool_id: null,
  };
}

export function port(
  id: string,
  network_id: string,
  host: string,
  mac: string,
  ips: string[],
  extra: Partial<Port> = {},
): Port {
  return {
    ...base,
    id,
    network_id,
    admin_state_up: true,
    mac_address: mac,
    fixed_ips: ips.map((ip_address) => ({ subnet_id: 's', ip_address })),
    allowed_address_pairs: [],
    port_security_enabled: true,
    security_groups: [],
    device_id: '',
    device_owner: 'compute:nova',
    status: 'DOWN',
    'binding:host_id': host,
    'binding:profile': {},
    'binding:vif_type': 'unbound',
    'binding:vif_details': {},
    'binding:vnic_type': 'normal',
    ...extra,
  };
}

export function agent(id: string, host: string, tunneling_ip: string): Agent {
  return {
    id,
    agent_type: 'hypernet agent',
    binary: 'hypernet-agent',
    host,
    topic: '',
    admin_state_up: true,
    alive: true,
    availability_zone: null,
    created_at: '',
    started_at: '',
    heartbeat_timestamp: '',
    description: '',
    configurations: { tunneling_ip, cloud: 'c' },
  };
}

/** A HyperVM scheduled on `host` with its port (status BUILD, token not taken). */
export function hypervm(id: string, portId: string, host: string, extra: Partial<HyperVm> = {}): HyperVm {
  return {
    ...base,
    id,
    image_id: 'img',
    port_id: portId,
    network_id: 'n1',
    cloud: 'cloud-a',
    flavor: 'small',
    host,
    status: 'BUILD',
    status_reason: '',
    port_created: true,
    launch_token_issued: false,
    task: '',
    task_image_id: '',
    task_state: '',
    target_host: '',
    task_token_issued: false,
    stopped_at: '',
    downtime_ms: null,
    console_session: '',
    ...extra,
  };
}

export function view(
  o: { networks?: Network[]; subnets?: Subnet[]; ports?: Port[]; agents?: Agent[]; hypervms?: HyperVm[] },
  revision = 1,
): ModelView {
  const c = new ModelCache();
  c.applySnapshot({
    type: 'snapshot',
    revision,
    networks: o.networks ?? [],
    subnets: o.subnets ?? [],
    ports: o.ports ?? [],
    security_groups: [],
    security_group_rules: [],
    agents: o.agents ?? [],
    hypervms: o.hypervms ?? [],
  });
  return c.view();
}

/** Reads a captured kernel JSON sample (test/agent/samples/NAME). */
export async function sample(name: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  return readFile(new URL(`../../test/agent/samples/${name}`, import.meta.url), 'utf8');
}

/** The kernel as captured in samples/ (network 100 wired, plus stale objects). */
export async function captured(): Promise<ActualState> {
  return {
    links: parseLinks(await sample('ip-link.json')),
    bridgePorts: parseBridgePorts(await sample('bridge-link.json')),
    fdb: parseFdb(await sample('bridge-fdb.json')),
    neigh: parseNeigh(await sample('ip-neigh.json')),
  };
}
