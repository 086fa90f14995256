/**
 * The resource model in Neutron v2.0 wire format. The server stores and serves these shapes; the
 * agent's watch stream carries exactly the same objects, so there is one definition for both sides.
 */

export interface Base {
  id: string;
  project_id: string;
  tenant_id: string;
  name: string;
  description: string;
  tags: string[];
  revision_number: number;
  created_at: string;
  updated_at: string;
}

export interface Network extends Base {
  admin_state_up: boolean;
  status: 'ACTIVE' | 'DOWN' | 'BUILD' | 'ERROR';
  subnets: string[];
  shared: boolean;
  mtu: number;
  port_security_enabled: boolean;
  'provider:network_type': 'vxlan';
  'provider:physical_network': null;
  /** The VXLAN VNI, allocated by the server, unique. */
  'provider:segmentation_id': number;
  'router:external': boolean;
  /**
   * hypernet extension: the cloud an external network belongs to (an agent's `configurations.cloud`),
   * '' for none. A router has at most one gateway per cloud (docs/routers.md).
   */
  'hypernet:cloud'?: string;
  availability_zone_hints: string[];
  availability_zones: string[];
  /** Encryption override (model/encryption.ts); null or absent: the server's default. */
  'hypernet:encryption'?: 'cross-cloud' | 'all' | 'none' | null;
  /** Read-only: the policy in force (the override, else the server's default). */
  'hypernet:encryption_effective'?: 'cross-cloud' | 'all' | 'none';
}

export interface AllocationPool {
  start: string;
  end: string;
}

export interface HostRoute {
  destination: string;
  nexthop: string;
}

export interface Subnet extends Base {
  network_id: string;
  cidr: string;
  ip_version: 4 | 6;
  gateway_ip: string | null;
  allocation_pools: AllocationPool[];
  enable_dhcp: boolean;
  dns_nameservers: string[];
  host_routes: HostRoute[];
  ipv6_ra_mode: string | null;
  ipv6_address_mode: string | null;
  subnetpool_id: string | null;
}

/**
 * A subnet pool (Neutron's `subnet_allocation`): address space subnets take their CIDR from by prefix
 * length. The prefix lengths are decimal strings, as Neutron shows them on the wire.
 */
export interface SubnetPool extends Base {
  ip_version: 4 | 6;
  /** Canonical CIDRs, merged and sorted by address. */
  prefixes: string[];
  default_prefixlen: string;
  min_prefixlen: string;
  max_prefixlen: string;
  shared: boolean;
  is_default: boolean;
  /** Per-project limit in addresses (IPv4) or /64 networks (IPv6) taken from the pool; null = none. */
  default_quota: number | null;
  /** Address scopes are not implemented: always null. */
  address_scope_id: null;
}

export interface FixedIp {
  subnet_id: string;
  ip_address: string;
}

export interface AddressPair {
  ip_address: string;
  mac_address: string;
}

export type PortStatus = 'ACTIVE' | 'DOWN' | 'BUILD' | 'ERROR';

export interface Port extends Base {
  network_id: string;
  admin_state_up: boolean;
  mac_address: string;
  fixed_ips: FixedIp[];
  allowed_address_pairs: AddressPair[];
  port_security_enabled: boolean;
  security_groups: string[];
  device_id: string;
  device_owner: string;
  status: PortStatus;
  /** The agent host this port is wired on ('' = unbound). */
  'binding:host_id': string;
  'binding:profile': Record<string, unknown>;
  /** 'unbound' until an agent wires the port, then 'tap' (or 'bridge'). */
  'binding:vif_type': string;
  'binding:vif_details': Record<string, unknown>;
  'binding:vnic_type': string;
  /**
   * Inactive bindings (Neutron's `binding-extended`): hosts a live migration prepares. The ACTIVE
   * binding is the port's own `binding:*` attributes. Absent on ports stored before this existed.
   */
  'binding:inactive'?: PortBinding[];
}

/** One binding of a port to a host, in Neutron's wire format (`/v2.0/ports/{id}/bindings`). */
export interface PortBinding {
  host: string;
  vif_type: string;
  vif_details: Record<string, unknown>;
  vnic_type: string;
  profile: Record<string, unknown>;
  status: 'ACTIVE' | 'INACTIVE';
}

export interface SecurityGroupRule {
  id: string;
  project_id: string;
  tenant_id: string;
  security_group_id: string;
  direction: 'ingress' | 'egress';
  ethertype: 'IPv4' | 'IPv6';
  /** Name ('tcp', 'udp', 'icmp', …) or number as a string, or null for any. */
  protocol: string | null;
  port_range_min: number | null;
  port_range_max: number | null;
  remote_ip_prefix: string | null;
  remote_group_id: string | null;
  description: string;
  revision_number: number;
  created_at: string;
  updated_at: string;
}

export interface SecurityGroup extends Base {
  stateful: boolean;
  security_group_rules: SecurityGroupRule[];
}

/** A hypernet agent (Neutron's agents resource, extended with registration). */
export interface Agent {
  id: string;
  agent_type: string; // 'hypernet agent'
  binary: string; // 'hypernet-agent'
  host: string;
  topic: string;
  admin_state_up: boolean;
  alive: boolean;
  availability_zone: string | null;
  created_at: string;
  started_at: string;
  heartbeat_timestamp: string;
  description: string;
  configurations: AgentConfigurations;
  /** The node's WireGuard public key (base64), absent when the node has no encrypted overlay. */
  'hypernet:wireguard_public_key'?: string;
  /** The node's encrypted overlay as its agent last reported it (model/encryption.ts EncryptionStatus). */
  'hypernet:encryption_status'?: {
    state: 'up' | 'error';
    impl: 'kernel' | 'userspace' | null;
    error?: string;
    peers: { host: string; latest_handshake: number }[];
  };
}

export interface AgentConfigurations {
  /** Underlay ("provider") IP: VXLAN tunnels end here. */
  tunneling_ip: string;
  /** Cloud / region label, e.g. 'cloud-a'. */
  cloud: string;
  /** Underlay MTU of the tunnel interface. */
  underlay_mtu?: number;
  /** What the node can do, e.g. ['vxlan', 'dhcp', 'nftables']. */
  capabilities?: string[];
  [key: string]: unknown;
}

/** One external gateway of a router (Neutron's `external_gateway_info` and `external_gateways` items). */
export interface ExternalGateway {
  network_id: string;
  enable_snat: boolean;
  external_fixed_ips: FixedIp[];
}

/** A router (Neutron's `router`, with `extraroute`, `ext-gw-mode` and `external-gateway-multihoming`). */
export interface Router extends Base {
  admin_state_up: boolean;
  status: 'ACTIVE' | 'DOWN' | 'ERROR';
  /** The first gateway of `external_gateways`, or null (Neutron mirrors the two). */
  external_gateway_info: ExternalGateway | null;
  /** Every gateway, at most one per cloud; each has its port (`network:router_gateway`, device_id = router). */
  external_gateways: ExternalGateway[];
  routes: HostRoute[];
}

/** What a floating IP shows of its associated port (Neutron's `fip-port-details`). */
export interface FloatingIpPortDetails {
  name: string;
  network_id: string;
  mac_address: string;
  admin_state_up: boolean;
  status: PortStatus;
  device_id: string;
  device_owner: string;
}

/** A floating IP: an address of an external network, held by a `network:floatingip` port (device_id = id). */
export interface FloatingIp {
  id: string;
  project_id: string;
  tenant_id: string;
  description: string;
  tags: string[];
  floating_ip_address: string;
  floating_network_id: string;
  /** The router connecting the associated port's subnet to `floating_network_id`, or null. */
  router_id: string | null;
  port_id: string | null;
  fixed_ip_address: string | null;
  status: 'ACTIVE' | 'DOWN' | 'ERROR';
  port_details: FloatingIpPortDetails | null;
  revision_number: number;
  created_at: string;
  updated_at: string;
}

/**
 * hypernet extension: what Nova would hold for an instance, served by the metadata service. Keyed by
 * the `device_id` of the instance's ports, unique per project.
 */
export interface Instance extends Base {
  device_id: string;
  hostname: string;
  user_data: string;
  /** Key name → OpenSSH public key line. */
  public_keys: Record<string, string>;
  meta: Record<string, string>;
}

/** Where a HyperVM's launch stands: BUILD → PULLING → STARTING → ACTIVE, or ERROR with the reason. */
export type HyperVmStatus = 'BUILD' | 'PULLING' | 'STARTING' | 'ACTIVE' | 'ERROR';

/**
 * hypernet extension `hypervms`: a tenant workload run as an unprivileged container (LXC) from an image
 * of the catalog, on a HyperVM node (`host`, an agent with the `hypervm` capability in `cloud`). The
 * container takes `port_id`'s MAC and, by DHCP, its hyper IP; the port is bound to `host` with
 * device_owner `compute:hypervm`, so the node's datapath and firewall wire it like a VM's tap.
 */
export interface HyperVm extends Base {
  image_id: string;
  port_id: string;
  network_id: string;
  cloud: string;
  flavor: string;
  host: string;
  status: HyperVmStatus;
  /** Why the launch failed (ERROR), or '' . */
  status_reason: string;
  /** The port was made for this HyperVM (deleted with it); else it is only unbound on delete. */
  port_created: boolean;
  /** The node took its single-use pull token: one token per launch, a second request is refused. */
  launch_token_issued: boolean;
  /** The action under way: '' (none), 'snapshot' or 'migrate' (src/server/hypervm-tasks.ts). */
  task: HyperVmTask;
  /** The image the task's export is uploaded to, or ''. */
  task_image_id: string;
  /** The task's current step as the node reports it (e.g. 'uploading 40%'), or how the last one ended. */
  task_state: string;
  /** The node the migration moves to, or ''. */
  target_host: string;
  /** The node took the single-use upload token of the task. */
  task_token_issued: boolean;
  /** When the migrating container was stopped (ISO, server time), or ''. */
  stopped_at: string;
  /** The last migration's downtime: container stopped → running on the target node (ms), or null. */
  downtime_ms: number | null;
  /** The console session the node should dial back for (src/server/hypervm-console.ts), or ''. */
  console_session: string;
}

export type HyperVmTask = '' | 'snapshot' | 'migrate';

/** Resource kinds carried by the store. */
export type Kind =
  | 'network'
  | 'subnet'
  | 'port'
  | 'security_group'
  | 'security_group_rule'
  | 'agent'
  | 'router'
  | 'floatingip'
  | 'instance'
  | 'subnetpool'
  | 'hypervm';

/** The kinds the watch stream carries to agents (instances hold user data agents never need). */
export type WatchedKind = Exclude<Kind, 'instance'>;

export interface KindMap {
  network: Network;
  subnet: Subnet;
  port: Port;
  security_group: SecurityGroup;
  security_group_rule: SecurityGroupRule;
  agent: Agent;
  router: Router;
  floatingip: FloatingIp;
  instance: Instance;
  subnetpool: SubnetPool;
  hypervm: HyperVm;
}

export const WATCHED_KINDS: readonly WatchedKind[] = [
  'network',
  'subnet',
  'port',
  'security_group',
  'security_group_rule',
  'agent',
  'router',
  'floatingip',
  'subnetpool',
  'hypervm',
];

export const KINDS: readonly Kind[] = [...WATCHED_KINDS, 'instance'];

export function isWatchedKind(k: Kind): k is WatchedKind {
  return k !== 'instance';
}
