/**
 * The resource table: one entry per API resource the CLI (`hypernet network …`) and the dashboard
 * tables know. Commands, flags, list columns and request bodies are all built from these entries,
 * so a new resource is one entry here (hyperswitches and agentless ports are two of them).
 * Pure data and small functions; no Node or browser APIs (the dashboard bundles it).
 */
import { FLAVORS } from '../model/agentless.js';
import { addressesText, cellText } from './cells.js';

export type Verb = 'list' | 'show' | 'create' | 'set' | 'delete';

/** A flag of create/set and the API attribute it fills. */
export interface FieldSpec {
  /** Flag name without dashes, e.g. 'subnet-range'. */
  flag: string;
  /** API attribute, e.g. 'cidr'. */
  attr: string;
  /**
   * string/int: one value; list: repeatable flag (`--no-<flag>` sends []); kv-list: repeatable
   * `k=v,k=v` (objects); kv-map: repeatable `k=v` (split at the first '=') into one object;
   * file: a path whose text is the value;
   * bool: `--flag` sets true and `--no-flag` (or `negFlag`) sets false.
   */
  type: 'string' | 'int' | 'bool' | 'list' | 'kv-list' | 'kv-map' | 'file';
  help: string;
  /** For bool: the name of the flag that sets false (default `no-<flag>`). */
  negFlag?: string;
  /** Needed on create. */
  required?: boolean;
  /** Where the flag exists (default both). */
  on?: readonly ('create' | 'set')[];
  /** The value names another resource (by name or id); the CLI resolves it to an id. */
  ref?: string;
  /** Allowed values. */
  choices?: readonly string[];
  /** Values meaning "no value" (sent as null), e.g. `--gateway none`. */
  nullWord?: string;
}

export interface Column {
  header: string;
  /** Attribute shown (also what search and `--sort` look at). */
  attr: string;
  /** Cell text; default cellText(obj[attr]). */
  text?: (obj: Record<string, unknown>) => string;
}

export interface ResourceSpec {
  /** CLI command, e.g. 'security-group'. */
  command: string;
  /** API collection path and list body key, e.g. 'security-groups' (key security_groups). */
  plural: string;
  /** API object key, e.g. 'security_group'. */
  singular: string;
  /** Human title, e.g. 'security group'. */
  title: string;
  /** The attribute that names an object (resolved by `show NAME`), if any. */
  nameAttr?: string;
  /** create takes the name as its positional argument. */
  nameArg?: boolean;
  verbs: readonly Verb[];
  columns: readonly Column[];
  fields: readonly FieldSpec[];
  /** Why there is no `set` (the API has no update): a hidden `set` prints this and exits 2. */
  immutable?: string;
  /**
   * A create flag writing one attribute of the answer to a file (mode 0600) instead of the
   * terminal, for secrets such as an agentless port's user_data (it holds a private key).
   */
  secretOut?: { flag: string; attr: string; help: string };
  /**
   * Served only when the server has this API extension, kept at the provider (no watch events):
   * the dashboard polls these and hides them when the extension is absent.
   */
  extension?: string;
  /** A CLI command only: the dashboard has no table for it (the instance store holds user data). */
  cliOnly?: boolean;
}

const enable: FieldSpec = {
  flag: 'enable',
  negFlag: 'disable',
  attr: 'admin_state_up',
  type: 'bool',
  help: 'administrative state up (--disable: down)',
};
const description: FieldSpec = { flag: 'description', attr: 'description', type: 'string', help: 'description' };
const rename: FieldSpec = { flag: 'name', attr: 'name', type: 'string', help: 'new name', on: ['set'] };
const portSecurity: FieldSpec = {
  flag: 'port-security',
  attr: 'port_security_enabled',
  type: 'bool',
  help: 'port security (anti-spoofing, security groups); --no-port-security turns it off',
};

const flavor = (help: string): FieldSpec => ({
  flag: 'flavor',
  attr: 'flavor',
  type: 'string',
  help,
  choices: FLAVORS,
});

const id: Column = { header: 'ID', attr: 'id' };
const name: Column = { header: 'Name', attr: 'name' };

export const RESOURCES: readonly ResourceSpec[] = [
  {
    command: 'network',
    plural: 'networks',
    singular: 'network',
    title: 'network',
    nameAttr: 'name',
    nameArg: true,
    verbs: ['list', 'show', 'create', 'set', 'delete'],
    columns: [
      id,
      name,
      { header: 'VNI', attr: 'provider:segmentation_id' },
      { header: 'Subnets', attr: 'subnets' },
      { header: 'MTU', attr: 'mtu' },
      { header: 'Status', attr: 'status' },
    ],
    fields: [
      rename,
      description,
      enable,
      { flag: 'share', negFlag: 'no-share', attr: 'shared', type: 'bool', help: 'shared with every project' },
      { flag: 'mtu', attr: 'mtu', type: 'int', help: 'MTU of the network' },
      portSecurity,
    ],
  },
  {
    command: 'subnet',
    plural: 'subnets',
    singular: 'subnet',
    title: 'subnet',
    nameAttr: 'name',
    nameArg: true,
    verbs: ['list', 'show', 'create', 'set', 'delete'],
    columns: [
      id,
      name,
      { header: 'Network', attr: 'network_id' },
      { header: 'Subnet', attr: 'cidr' },
      { header: 'Gateway', attr: 'gateway_ip' },
      { header: 'DHCP', attr: 'enable_dhcp' },
    ],
    fields: [
      rename,
      {
        flag: 'network',
        attr: 'network_id',
        type: 'string',
        help: 'network (name or ID)',
        required: true,
        ref: 'network',
        on: ['create'],
      },
      {
        flag: 'subnet-range',
        attr: 'cidr',
        type: 'string',
        help: 'the hyper subnet, e.g. 10.0.1.0/24',
        required: true,
        on: ['create'],
      },
      {
        flag: 'ip-version',
        attr: 'ip_version',
        type: 'int',
        help: 'IP version (4 or 6)',
        choices: ['4', '6'],
        on: ['create'],
      },
      { flag: 'gateway', attr: 'gateway_ip', type: 'string', help: "gateway IP, or 'none'", nullWord: 'none' },
      { flag: 'dhcp', attr: 'enable_dhcp', type: 'bool', help: 'DHCP on (--no-dhcp: off)' },
      { flag: 'dns-nameserver', attr: 'dns_nameservers', type: 'list', help: 'DNS server (repeat for more)' },
      { flag: 'allocation-pool', attr: 'allocation_pools', type: 'kv-list', help: 'start=IP,end=IP (repeat for more)' },
      {
        flag: 'host-route',
        attr: 'host_routes',
        type: 'kv-list',
        help: 'destination=CIDR,nexthop=IP (repeat for more)',
      },
      description,
    ],
  },
  {
    command: 'port',
    plural: 'ports',
    singular: 'port',
    title: 'port',
    nameAttr: 'name',
    nameArg: true,
    verbs: ['list', 'show', 'create', 'set', 'delete'],
    columns: [
      id,
      name,
      { header: 'Network', attr: 'network_id' },
      { header: 'MAC Address', attr: 'mac_address' },
      { header: 'Fixed IPs', attr: 'fixed_ips', text: (o) => addressesText(o.fixed_ips) },
      { header: 'Host', attr: 'binding:host_id' },
      { header: 'Status', attr: 'status' },
    ],
    fields: [
      rename,
      {
        flag: 'network',
        attr: 'network_id',
        type: 'string',
        help: 'network (name or ID)',
        required: true,
        ref: 'network',
        on: ['create'],
      },
      { flag: 'fixed-ip', attr: 'fixed_ips', type: 'kv-list', help: 'subnet_id=ID,ip_address=IP (repeat for more)' },
      { flag: 'mac-address', attr: 'mac_address', type: 'string', help: 'MAC address', on: ['create'] },
      {
        flag: 'security-group',
        attr: 'security_groups',
        type: 'list',
        help: 'security group (name or ID; repeat for more)',
        ref: 'security-group',
      },
      { flag: 'host', attr: 'binding:host_id', type: 'string', help: 'agent host the port is wired on' },
      { flag: 'device-id', attr: 'device_id', type: 'string', help: 'device (workload) ID' },
      { flag: 'device-owner', attr: 'device_owner', type: 'string', help: 'device owner, e.g. compute:nova' },
      {
        flag: 'status',
        attr: 'status',
        type: 'string',
        help: 'status (admin only)',
        choices: ['ACTIVE', 'DOWN', 'BUILD', 'ERROR'],
        on: ['set'],
      },
      enable,
      portSecurity,
      description,
    ],
  },
  {
    command: 'security-group',
    plural: 'security-groups',
    singular: 'security_group',
    title: 'security group',
    nameAttr: 'name',
    nameArg: true,
    verbs: ['list', 'show', 'create', 'set', 'delete'],
    columns: [
      id,
      name,
      { header: 'Description', attr: 'description' },
      {
        header: 'Rules',
        attr: 'security_group_rules',
        text: (o) => String((o.security_group_rules as unknown[] | undefined)?.length ?? 0),
      },
    ],
    fields: [
      rename,
      description,
      { flag: 'stateful', negFlag: 'stateless', attr: 'stateful', type: 'bool', help: 'stateful (--stateless: not)' },
    ],
  },
  {
    command: 'security-group-rule',
    plural: 'security-group-rules',
    singular: 'security_group_rule',
    title: 'security group rule',
    verbs: ['list', 'show', 'create', 'delete'],
    columns: [
      id,
      { header: 'Security Group', attr: 'security_group_id' },
      { header: 'Direction', attr: 'direction' },
      { header: 'Ethertype', attr: 'ethertype' },
      { header: 'Protocol', attr: 'protocol' },
      {
        header: 'Ports',
        attr: 'port_range_min',
        text: (o) => (o.port_range_min == null ? '' : `${o.port_range_min}:${o.port_range_max ?? ''}`),
      },
      { header: 'Remote', attr: 'remote_ip_prefix', text: (o) => cellText(o.remote_ip_prefix ?? o.remote_group_id) },
    ],
    fields: [
      {
        flag: 'security-group',
        attr: 'security_group_id',
        type: 'string',
        help: 'security group (name or ID)',
        required: true,
        ref: 'security-group',
      },
      {
        flag: 'direction',
        attr: 'direction',
        type: 'string',
        help: 'ingress or egress',
        choices: ['ingress', 'egress'],
      },
      { flag: 'ethertype', attr: 'ethertype', type: 'string', help: 'IPv4 or IPv6', choices: ['IPv4', 'IPv6'] },
      { flag: 'protocol', attr: 'protocol', type: 'string', help: 'tcp, udp, icmp, … or a number' },
      { flag: 'port-range-min', attr: 'port_range_min', type: 'int', help: 'first port (or ICMP type)' },
      { flag: 'port-range-max', attr: 'port_range_max', type: 'int', help: 'last port (or ICMP code)' },
      { flag: 'remote-ip', attr: 'remote_ip_prefix', type: 'string', help: 'remote CIDR' },
      {
        flag: 'remote-group',
        attr: 'remote_group_id',
        type: 'string',
        help: 'remote security group (name or ID)',
        ref: 'security-group',
      },
      description,
    ],
  },
  {
    command: 'agents',
    plural: 'agents',
    singular: 'agent',
    title: 'agent',
    nameAttr: 'host',
    verbs: ['list', 'show', 'delete'],
    columns: [
      id,
      { header: 'Host', attr: 'host' },
      {
        header: 'Cloud',
        attr: 'configurations',
        text: (o) => cellText((o.configurations as Record<string, unknown> | undefined)?.cloud),
      },
      {
        header: 'Tunnel IP',
        attr: 'configurations',
        text: (o) => cellText((o.configurations as Record<string, unknown> | undefined)?.tunneling_ip),
      },
      { header: 'Alive', attr: 'alive', text: (o) => (o.alive ? 'UP' : 'DOWN') },
      { header: 'Admin', attr: 'admin_state_up', text: (o) => (o.admin_state_up === false ? 'disabled' : 'enabled') },
      { header: 'Last Heartbeat', attr: 'heartbeat_timestamp' },
    ],
    fields: [],
  },
  {
    command: 'hyperswitch',
    plural: 'hyperswitches',
    singular: 'hyperswitch',
    title: 'hyperswitch',
    verbs: ['list', 'show', 'create', 'delete'],
    immutable:
      'a hyperswitch is a provider VM and cannot be changed (the API answers PUT with 405): delete it and ' +
      'create it again',
    extension: 'hyperswitch',
    columns: [
      id,
      { header: 'Tenant', attr: 'tenant_id' },
      { header: 'Device', attr: 'device_id' },
      { header: 'Flavor', attr: 'flavor' },
      { header: 'Data IP', attr: 'data_ip' },
      {
        header: 'VPN IPs',
        attr: 'vms_ip_0',
        text: (o) => cellText([o.vms_ip_0, o.vms_ip_1, o.vms_ip_2].filter((x) => x)),
      },
      { header: 'Status', attr: 'status' },
    ],
    fields: [
      {
        flag: 'project',
        attr: 'tenant_id',
        type: 'string',
        help: "tenant (project) it serves (default: the caller's)",
      },
      { flag: 'device-id', attr: 'device_id', type: 'string', help: 'serve one VM only (level vm)' },
      flavor("flavor: 0G, 1G or 10G (default: the server's default_flavor)"),
    ],
  },
  {
    command: 'agentless',
    plural: 'agentlessports',
    singular: 'agentlessport',
    title: 'agentless port',
    verbs: ['list', 'show', 'create', 'set', 'delete'],
    extension: 'agentlessport',
    secretOut: {
      flag: 'user-data-out',
      attr: 'user_data',
      help: "write the VM's user_data (holds its private key) to this file, mode 0600",
    },
    columns: [
      id,
      { header: 'Port', attr: 'port_id' },
      { header: 'Device', attr: 'device_id' },
      { header: 'Index', attr: 'index' },
      { header: 'Flavor', attr: 'flavor' },
      { header: 'VPN', attr: 'vpn_type' },
      { header: 'Provider IP', attr: 'private_ip' },
      { header: 'Hyperswitch', attr: 'hyperswitch_id' },
    ],
    fields: [
      {
        flag: 'port',
        attr: 'port_id',
        type: 'string',
        help: 'the hyper port the VM gets (name or ID)',
        required: true,
        ref: 'port',
        on: ['create'],
      },
      {
        ...flavor("hyperswitch flavor if one is launched: 0G, 1G or 10G (default: the server's default_flavor)"),
        on: ['create'],
      },
      {
        flag: 'device-id',
        attr: 'device_id',
        type: 'string',
        help: "the VM (default: the port's device_id); gives it its own hyperswitch",
        on: ['create'],
      },
      {
        flag: 'vpn-type',
        attr: 'vpn_type',
        type: 'string',
        help: "the VM's stock client: openvpn or wireguard (wg-quick); default openvpn",
        choices: ['openvpn', 'wireguard'],
        on: ['create'],
      },
      {
        flag: 'index',
        attr: 'index',
        type: 'int',
        help: 'which of the VM NICs, 0…2 (default 0)',
        choices: ['0', '1', '2'],
        on: ['create'],
      },
      {
        flag: 'cloud',
        attr: 'cloud',
        type: 'string',
        help:
          'move the VM to this cloud: same hyper IP and MAC, a new provider NIC, user_data and VPN ' +
          'endpoint, the old certificate revoked (waits until the new hyperswitch serves it)',
        on: ['set'],
      },
    ],
  },
  {
    command: 'instance',
    plural: 'instances',
    singular: 'instance',
    title: 'instance',
    nameAttr: 'name',
    nameArg: true,
    verbs: ['list', 'show', 'create', 'set', 'delete'],
    cliOnly: true,
    columns: [
      id,
      name,
      { header: 'Device', attr: 'device_id' },
      { header: 'Hostname', attr: 'hostname' },
      {
        header: 'Keys',
        attr: 'public_keys',
        text: (o) => Object.keys((o.public_keys as Record<string, string> | undefined) ?? {}).join(', '),
      },
    ],
    fields: [
      rename,
      description,
      {
        flag: 'device-id',
        attr: 'device_id',
        type: 'string',
        help: "the device_id of the instance's ports (the metadata service finds it by this)",
        required: true,
        on: ['create'],
      },
      { flag: 'hostname', attr: 'hostname', type: 'string', help: 'host name (default: from the name)' },
      { flag: 'user-data', attr: 'user_data', type: 'file', help: 'file whose text is the user data (cloud-init)' },
      {
        flag: 'public-key',
        attr: 'public_keys',
        type: 'kv-map',
        help: 'NAME=OPENSSH-PUBLIC-KEY-LINE (repeat for more; set replaces them all)',
      },
      {
        flag: 'property',
        attr: 'meta',
        type: 'kv-map',
        help: 'metadata KEY=VALUE (repeat for more; set replaces them all)',
      },
    ],
  },
  {
    command: 'hypervm',
    plural: 'hypervms',
    singular: 'hypervm',
    title: 'HyperVM',
    nameAttr: 'name',
    nameArg: true,
    verbs: ['list', 'show', 'create', 'set', 'delete'],
    columns: [
      id,
      name,
      { header: 'Image', attr: 'image_id' },
      { header: 'Cloud', attr: 'cloud' },
      { header: 'Host', attr: 'host' },
      { header: 'Port', attr: 'port_id' },
      { header: 'Status', attr: 'status' },
      { header: 'Reason', attr: 'status_reason' },
    ],
    fields: [
      rename,
      description,
      {
        flag: 'image',
        attr: 'image_id',
        type: 'string',
        help: 'image ID (hypernet image list)',
        required: true,
        on: ['create'],
      },
      { flag: 'port', attr: 'port_id', type: 'string', help: 'a free port (name or ID)', ref: 'port', on: ['create'] },
      {
        flag: 'network',
        attr: 'network_id',
        type: 'string',
        help: 'network to make the port on (name or ID), instead of --port',
        ref: 'network',
        on: ['create'],
      },
      { flag: 'cloud', attr: 'cloud', type: 'string', help: 'cloud to run it in', required: true, on: ['create'] },
      { flag: 'flavor', attr: 'flavor', type: 'string', help: 'flavor (default small)', on: ['create'] },
    ],
  },
];

export function resourceByCommand(command: string): ResourceSpec {
  const r = RESOURCES.find((x) => x.command === command);
  if (!r) throw new Error(`unknown resource ${command}`);
  return r;
}

/** The key under which a list answer carries the objects, e.g. 'security_groups'. */
export function listKey(r: ResourceSpec): string {
  return r.plural.replace(/-/g, '_');
}

/** The cells of one row for these columns. */
export function rowCells(columns: readonly Column[], obj: Record<string, unknown>): string[] {
  return columns.map((c) => (c.text ? c.text(obj) : cellText(obj[c.attr])));
}
