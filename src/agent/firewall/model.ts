/**
 * Inputs and outputs of the security-group compiler: which ports this node filters, the groups and
 * rules they use, every port (for remote-group membership), and the conntrack mode the kernel offers.
 * Also the names of the nft objects, in one place so compile, driver and tests agree.
 */
import { createHash } from 'node:crypto';
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
  /** VNI of the port's network (its bridge `hnb-<vni>`): picks the conntrack zone. */
  vni?: number;
}

export interface FirewallInput {
  mode: FirewallMode;
  /** Ports bound on this node (any order). */
  localPorts: readonly LocalPort[];
  /** Security groups with their rules (`security_group_rules`), at least those the local ports use. */
  securityGroups: readonly SecurityGroup[];
  /** Every port of the model, wherever bound: members of remote groups. */
  allPorts: readonly Port[];
  /**
   * Source filtering (source.ts): the flows between a local port and a port of another node are
   * filtered and tracked by one of the two nodes only. Absent: every node filters its own ports
   * (two-sided), and the ruleset is exactly that design's.
   */
  source?: SourceInput;
}

/** Which ports take part in source filtering, as seen from this node (source.ts). */
export interface SourceInput {
  /** Ids of the local ports that take part. */
  readonly local: ReadonlySet<string>;
  /** Ports of other nodes that take part, on this node's networks. */
  readonly peers: readonly PeerPort[];
}

/** A port on another node that shares a network with this one (source filtering, source.ts). */
export interface PeerPort {
  readonly port: Port;
  /** VNI of its network: its frames cross `hnv-<vni>`. */
  readonly vni: number;
  /**
   * True: this node filters and tracks the flows between its ports and this one (the peer's egress
   * and ingress rules are compiled here). False: the peer's node does, and this node passes them
   * without conntrack.
   */
  readonly owned: boolean;
}

/** A named set or map of one of the owned tables, with its elements (sorted). */
export interface NftSet {
  readonly family: 'bridge' | 'inet';
  readonly kind: 'set' | 'map';
  /** Declaration lines (`type …`, `flags …`), without elements. */
  readonly decl: readonly string[];
  readonly elements: readonly string[];
}

/** A chain that hooks into the packet path; its rules may hold GENERATION (see conntrack.ts). */
export interface BaseChain {
  readonly family: 'bridge' | 'inet';
  readonly name: string;
  readonly hook: string;
  readonly rules: readonly string[];
}

/**
 * What compile produces, structured so the driver can write either the whole ruleset or only the
 * delta from the last one applied (render.ts, diff.ts).
 */
export interface CompiledFirewall {
  readonly mode: FirewallMode;
  /** Hooked chains (anti-spoofing, the forward filters, conntrack zone/state). */
  readonly base: readonly BaseChain[];
  /** `base` as text: equal keys mean the delta path may be used. */
  readonly baseKey: string;
  /** Named sets and maps by name (names are unique across both tables). */
  readonly sets: ReadonlyMap<string, NftSet>;
  /** Regular chains of the bridge table (per port, per group) by name, with their rules. */
  readonly chains: ReadonlyMap<string, readonly string[]>;
  /** Local ports the compiler refused (closed, see validate.ts), with the reason, by port id. */
  readonly rejected: ReadonlyMap<string, string>;
}

/** The tables the agent owns wholesale. */
export const TABLE = 'hypernet';
/** Packet-mark bits the inet table sets for the bridge table in br-netfilter mode. */
export const MARK_ESTABLISHED = 0x00010000;
export const MARK_INVALID = 0x00020000;
/** Set on bridged packets that went through the rules: if they leave, their ct mark gets the generation. */
export const MARK_REEVAL = 0x00040000;
/** Source filtering: set on frames that came out of a VXLAN device (bridge prerouting). */
export const MARK_OVERLAY = 0x00080000;
/** Source filtering: a frame of a flow the peer's node filters; it skips conntrack and our rules. */
export const MARK_PEER = 0x00100000;
/** Placeholder in base-chain rules for the ruleset generation (the driver substitutes it). */
export const GENERATION = '@GENERATION@';

/** Named set of a remote group's member addresses. */
export const groupSetName = (sgId: string, v: 4 | 6): string => `sg_${sgId}_v${v}`;
export const groupChainName = (sgId: string, dir: 'ingress' | 'egress'): string =>
  `sg_${sgId}_${dir === 'ingress' ? 'in' : 'eg'}`;
/**
 * Chain of a port profile (`key`: the port's sorted group ids and statefulness), shared by every
 * port with that profile: a stable 12-hex-digit digest of the key, as group ids are long.
 */
export const profileChainName = (key: string, dir: 'ingress' | 'egress'): string =>
  `pf_${createHash('sha256').update(key).digest('hex').slice(0, 12)}_${dir === 'ingress' ? 'in' : 'eg'}`;

/** A port whose groups are all `stateful: false` (Neutron forbids mixing): replies need rules. */
export function isStateless(port: Port, groups: ReadonlyMap<string, { stateful: boolean }>): boolean {
  const gs = port.security_groups.flatMap((g) => (groups.has(g) ? [groups.get(g)!] : []));
  return gs.length > 0 && gs.every((g) => g.stateful === false);
}

/** Ports the firewall leaves alone: port security off, or a network service port (DHCP, router). */
export function isTrusted(port: Port): boolean {
  return port.port_security_enabled === false || port.device_owner.startsWith('network:');
}
