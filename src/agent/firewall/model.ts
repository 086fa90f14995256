/**
 * Inputs and outputs of the security-group compiler: which ports this node filters, the groups and
 * rules they use, every port (for remote-group membership), and the conntrack mode the kernel offers.
 * Also the names of the nft objects, in one place so compile, driver and tests agree.
 */
import type { Port, SecurityGroup } from '../../model/types.js';

/**
 * How stateful filtering of bridged traffic is done.
 *  - 'bridge-ct': the kernel has nf_conntrack_bridge; the bridge table uses `ct state` itself.
 *  - 'br-netfilter': no bridge conntrack; br_netfilter hands bridged IP to the inet hooks, an inet
 *    chain copies the conntrack state into packet-mark bits, the bridge table reads the mark.
 */
export type FirewallMode = 'bridge-ct' | 'br-netfilter';

/** A port wired on this node, with the bridge-port interface its traffic enters and leaves by. */
export interface LocalPort {
  port: Port;
  ifname: string;
}

export interface FirewallInput {
  mode: FirewallMode;
  /** Ports bound on this node (any order). */
  localPorts: readonly LocalPort[];
  /** Security groups with their rules (`security_group_rules`), at least those the local ports use. */
  securityGroups: readonly SecurityGroup[];
  /** Every port of the model, wherever bound: members of remote groups. */
  allPorts: readonly Port[];
}

/** What compile produces: the whole ruleset, and the same without set contents (see driver). */
export interface CompiledFirewall {
  /** One `nft -f` transaction replacing the owned tables wholesale. */
  readonly text: string;
  /** `text` with every set's elements left out: equal skeletons mean only memberships changed. */
  readonly skeleton: string;
  /** Named member sets (bridge table) and their elements, sorted. */
  readonly sets: ReadonlyMap<string, readonly string[]>;
  /** Chains of the bridge table, sorted (the driver checks them after apply). */
  readonly chains: readonly string[];
}

/** The tables the agent owns wholesale. */
export const TABLE = 'hypernet';
/** Packet-mark bits the inet table sets for the bridge table in br-netfilter mode. */
export const MARK_ESTABLISHED = 0x00010000;
export const MARK_INVALID = 0x00020000;

/** Named set of a remote group's member addresses. */
export const groupSetName = (sgId: string, v: 4 | 6): string => `sg_${sgId}_v${v}`;
export const groupChainName = (sgId: string, dir: 'ingress' | 'egress'): string =>
  `sg_${sgId}_${dir === 'ingress' ? 'in' : 'eg'}`;
export const portChainName = (portId: string, dir: 'ingress' | 'egress'): string => `${dir === 'ingress' ? 'in' : 'eg'}_${portId}`;

/** Ports the firewall leaves alone: port security off, or a network service port (DHCP, router). */
export function isTrusted(port: Port): boolean {
  return port.port_security_enabled === false || port.device_owner.startsWith('network:');
}
