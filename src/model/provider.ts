/**
 * The ProviderDriver interface of the original agentless design, in TypeScript. Method names are its own, camelCased
 * (get_sgs → getSgs, launch_hyperswitch → launchHyperswitch, …); keyword arguments become one
 * options object with its snake_case keys, so the mapping to the design stays one-to-one.
 * Implementations: `lab` (namespaces), later `aws` (EC2 tags) and `openstack` (port fields, VM metadata).
 * The entities themselves live only at the provider (not in the server's store).
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../common/clock.js';
import type { Exec } from '../common/exec.js';
import type { Logger } from '../common/log.js';
import type { AgentlessConfig, Flavor } from './agentless-config.js';
import type { Hyperswitch } from './agentless.js';
import type { CustomRouteCloud } from './custom-route-cloud.js';

/** A hyperswitch as the provider knows it: the API entity plus the provider's VM state. */
export interface ProviderHyperswitch extends Hyperswitch {
  /** Provider state, e.g. 'running', 'stopped'. */
  state: string;
  /** hypernet: the cloud (providers/clouds.ts) the hyperswitch runs in. */
  cloud?: string;
}

/** A provider network interface created for an agentless port. */
export interface ProviderNetworkInterface {
  /** Provider interface id: the agentlessport id. */
  id: string;
  /** The neutron (hyper) port id. */
  port_id: string;
  device_id: string;
  tenant_id: string;
  index: number;
  /** The provider IP: how the hyperswitch recognises the VM's VPN client. */
  private_ip: string;
  mac_address: string;
  /** Provider tags (AWS ENI tags, OpenStack port fields): hypernet keeps its own facts here. */
  tags: Record<string, string>;
  /** hypernet: the cloud (providers/clouds.ts) the interface lives in. */
  cloud?: string;
}

/** Tags hypernet puts on an agentless port's network interface. */
export const NIC_TAGS = {
  hyperswitch: 'hypernet:hyperswitch_id',
  vpnPort: 'hypernet:vpn_port',
  flavor: 'hypernet:flavor',
  /** Absent: openvpn. */
  vpnType: 'hypernet:vpn_type',
} as const;

/** One NIC of a hyperswitch to launch: a provider network/subnet and its security group. */
export interface NetSpec {
  network: string;
  security_group: string;
  /** A fixed IP on that network, if the caller picked one. */
  ip?: string;
}

/** The owner of a hyperswitch: a device (level vm) or a tenant (level tenant). */
export interface HyperswitchOwner {
  hybrid_cloud_device_id?: string;
  hybrid_cloud_tenant_id?: string;
  /** hypernet: the cloud to launch in (default: the configured `cloud`). */
  cloud?: string;
}

/**
 * get_hyperswitch_host_name as every provider answers it: `hsv-`/`hst-` and a hash of the cloud and
 * the owner, so names are unique across clouds and the same owner always gets the same name.
 */
export function hyperswitchHostName(cloud: string, owner: HyperswitchOwner): string {
  const short = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 8);
  if (owner.hybrid_cloud_device_id) return `hsv-${short(`${cloud}/${owner.hybrid_cloud_device_id}`)}`;
  if (owner.hybrid_cloud_tenant_id) return `hst-${short(`${cloud}/${owner.hybrid_cloud_tenant_id}`)}`;
  throw new Error('a hyperswitch needs a device or a tenant');
}

/** A HyperVM's provider VM (one per HyperVM, when its cloud launches them through the provider). */
export interface ProviderHyperVm {
  /** Provider VM id: the HyperVM's node name (its agent's host id). */
  id: string;
  /** The HyperVM (API resource) it runs. */
  hypervm_id: string;
  /** Its provider address: the agent's underlay IP, the address its pull token is bound to. */
  provider_ip: string;
  state: string;
  cloud?: string;
}

/** What launching a HyperVM takes. */
export interface HyperVmLaunchArgs {
  /** The provider VM's name (the agent's host id). */
  name: string;
  hypervm_id: string;
  flavor: string;
  cloud?: string;
  /**
   * The user_data, built once the provider address is known: the pull token in it is bound to that
   * address (a cloud reserves the address first, e.g. an ENI on AWS, then boots with it).
   */
  user_data: (provider_ip: string) => Promise<string>;
}

export interface ProviderDriver {
  /** get_sgs: the security groups for hyperswitch vms NICs and for agentless NICs (ids). */
  getSgs(cloud?: string): Promise<{ hs_sg: string | null; vm_sg: string | null }>;
  /** get_vms_subnet: the provider subnets of the vms NICs, by index. */
  getVmsSubnet(cloud?: string): Promise<string[]>;
  /** get_hyperswitch_host_name: the name a hyperswitch for this owner gets. */
  getHyperswitchHostName(owner: HyperswitchOwner): string;
  /** launch_hyperswitch: create the provider VM booting from `user_data`. */
  launchHyperswitch(
    args: { user_data: string; flavor: Flavor; net_list: NetSpec[] } & HyperswitchOwner,
  ): Promise<ProviderHyperswitch>;
  /** get_hyperswitchs: filters are ANDed, each one a list of accepted values. */
  getHyperswitchs(filter?: {
    names?: string[];
    hyperswitch_ids?: string[];
    device_ids?: string[];
    tenant_ids?: string[];
    /** hypernet: only these clouds. */
    clouds?: string[];
  }): Promise<ProviderHyperswitch[]>;
  /** start_hyperswitchs: start stopped hyperswitch VMs. */
  startHyperswitchs(hyperswitchs: ProviderHyperswitch[]): Promise<void>;
  deleteHyperswitch(hyperswitch_id: string): Promise<void>;
  /** create_network_interface: the provider NIC an agentless VM gets for hyper port `port_id`. */
  createNetworkInterface(args: {
    port_id: string;
    device_id: string;
    tenant_id: string;
    index: number;
    subnet: string;
    security_group: string;
    /** hypernet: tags to put on the interface (which hyperswitch serves it, its VPN port). */
    tags?: Record<string, string>;
    /** hypernet: the cloud to create it in (default: the configured `cloud`). */
    cloud?: string;
  }): Promise<ProviderNetworkInterface>;
  /** get_network_interfaces: by name (id) and private_ip must work on every provider; the rest optional. */
  getNetworkInterfaces(filter?: {
    names?: string[];
    port_ids?: string[];
    device_ids?: string[];
    private_ips?: string[];
    tenant_ids?: string[];
    indexes?: number[];
  }): Promise<ProviderNetworkInterface[]>;
  /** Not in the original interface but needed by "Delete agentlessport": remove the provider NIC. */
  deleteNetworkInterface(id: string): Promise<void>;
  /** hypernet, optional: launch a HyperVM's provider VM booting from its user_data. */
  launchHyperVm?(args: HyperVmLaunchArgs): Promise<ProviderHyperVm>;
  /** hypernet, optional: the HyperVM provider VMs (filters ANDed). */
  getHyperVms?(filter?: { ids?: string[]; clouds?: string[] }): Promise<ProviderHyperVm[]>;
  /** hypernet, optional: remove a HyperVM's provider VM and everything it ran. */
  deleteHyperVm?(id: string): Promise<void>;
  /** hypernet, optional: the cloud's custom-route calls (route tables, ENIs, VPC groups), on `aws`. */
  customRoutes?(): CustomRouteCloud;
}

/** What a provider driver is built from: one cloud's options and the server's side effects. */
export interface ProviderOptions {
  config: AgentlessConfig;
  /** The provider's own directory (records, logs, pid files). */
  stateDir: string;
  exec: Exec;
  clock: Clock;
  log: Logger;
}

/**
 * Makes the driver of one provider kind. The server knows providers only by these factories, given
 * by the executable (src/providers.ts): each driver lives with the deployable it belongs to.
 */
export type ProviderFactory = (o: ProviderOptions) => ProviderDriver;

/** Factories by provider kind (`lab`, `aws`, …). */
export type ProviderFactories = Readonly<Record<string, ProviderFactory>>;
