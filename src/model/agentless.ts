/**
 * The two API entities of the agentless extension (docs/agentless.md), in wire format (snake_case, as
 * the original design names them). They are provider entities, not Neutron DB rows; the server serves them under
 * `/v2.0/agentlessports` and `/v2.0/hyperswitches`. Also their wire forms, what a hyperswitch's agent
 * is told to serve, and the OpenVPN settings both tunnel ends share.
 */

/** How an agentless VM attaches: the stock OpenVPN client (TAP, layer 2) or wg-quick (layer 3). */
export const VPN_TYPES = ['openvpn', 'wireguard'] as const;
export type VpnType = (typeof VPN_TYPES)[number];
export const DEFAULT_VPN_TYPE: VpnType = 'openvpn';

/** The UDP port of a hyperswitch's WireGuard interface for agentless clients (one for all its ports). */
export const AGENTLESS_WG_PORT = 51821;
/** Name of an agentless VM's wg-quick config (`/etc/wireguard/hypernet.conf`, unit `wg-quick@hypernet`). */
export const WG_CLIENT_DIR = '/etc/wireguard';

/** Hyperswitch flavors (bandwidth classes). Here, free of zod, so the dashboard can bundle them too. */
export const FLAVORS = ['0G', '1G', '10G'] as const;
export type Flavor = (typeof FLAVORS)[number];

export interface AgentlessPort {
  /** The provider port / network interface id. */
  id: string;
  /** The neutron (hyper) port id. */
  port_id: string;
  flavor: Flavor;
  device_id: string;
  /** NIC index in the VM: 0, 1 or 2. */
  index: 0 | 1 | 2;
  /** Read only: the cloud-init document the provider VM boots with (src/server/agentless/userdata.ts). */
  user_data: string;
}

export interface Hyperswitch {
  id: string;
  flavor: Flavor;
  device_id: string | null;
  tenant_id: string | null;
  instance_id: string;
  instance_type: string;
  private_ip: string;
  mgnt_ip: string;
  data_ip: string;
  vms_ip_0: string | null;
  vms_ip_1: string | null;
  vms_ip_2: string | null;
}

/** An agentless port on the wire: the designed attributes plus its owner and provider IP. */
export interface AgentlessPortWire extends AgentlessPort {
  project_id: string;
  tenant_id: string;
  private_ip: string;
  hyperswitch_id: string;
  /** hypernet: the cloud of its provider NIC and hyperswitch. */
  cloud: string;
  /** hypernet: the VPN its VM runs, `openvpn` (default) or `wireguard`; fixed at create. */
  vpn_type: VpnType;
}

/** A hyperswitch on the wire: the designed attributes plus project_id (= tenant_id) and the VM state. */
export interface HyperswitchWire extends Hyperswitch {
  project_id: string | null;
  status: string;
  /** hypernet: the cloud it runs in. */
  cloud: string;
}

/** What the agent of a hyperswitch needs to run its OpenVPN servers. */
export interface VpnAgentConfig {
  hyperswitch_id: string;
  ca_pem: string;
  cert_pem: string;
  key_pem: string;
  crl_pem: string;
  ports: {
    port_id: string;
    provider_ip: string;
    mac_address: string;
    listen_ip: string;
    listen_port: number;
    mtu: number;
    underlay_mtu: number;
    /** Absent on OpenVPN ports (older servers send none). */
    vpn_type?: VpnType;
    /** WireGuard ports: the client's public key (its peer on the hyperswitch's interface). */
    client_public_key?: string;
  }[];
  /** The hyperswitch's WireGuard identity for its agentless clients (the server keeps it, as server.key). */
  wireguard?: { private_key: string; public_key: string; listen_port: number };
}

/**
 * Data-channel tuning shared by the server and the stock client (both ends of one tunnel): AES-GCM
 * first (AES-NI; 128-bit is the cheaper), CHACHA20 for CPUs without it; `fast-io` writes UDP without
 * a poll first; a TAP queue long enough for a TCP window's burst (OpenVPN's default is 100).
 * `fragment` is never used: `mssfix` keeps TCP inside the underlay instead.
 */
export const DATA_CHANNEL_TUNING: readonly string[] = [
  'data-ciphers AES-128-GCM:AES-256-GCM:CHACHA20-POLY1305',
  'fast-io',
  'txqueuelen 1000',
];

/** Name of an agentless VM's VPN client (config `hypernet.conf`, unit `openvpn-client@hypernet`). */
export const CLIENT_NAME = 'hypernet';
/** Where Debian's openvpn-client@ unit looks for configs (its WorkingDirectory). */
export const CLIENT_DIR = '/etc/openvpn/client';
