/**
 * The custom-route feature's state on a hyperswitch (docs/custom-route.md): per custom-route port a
 * veth `tap<id>` (bridged by the datapath like any port, so security groups and anti-spoofing apply)
 * ⇄ `hcr<id>` (routed, with the port's MAC), and the kernel objects that join `hcr<id>` to the VM's
 * VPC address: a proxy-ARP entry and the peers' neighbours on `hcr<id>`, a routing table of the port,
 * policy rules into it, and (mode `instead`) the 1:1 NAT in the nftables table `ip hypernet_cr`.
 */
import type { CustomRouteMode } from '../../model/custom-route.js';

/**
 * Preferences of the policy rules into the ports' tables (before `main`, 32766): first `to <hyper IP>
 * iif <shim>` (towards a VM, from the hyper network), then `from <VM source>` (from a VM). In this
 * order a VM's reply to another VM's hyper IP leaves through its own shim, and a packet one VM's shim
 * hands another is routed to that VM, not back out of the sender's shim.
 */
export const CR_RULE_PREF = 2600;
export const CR_FROM_RULE_PREF = 2601;
/** The ports' routing tables: CR_TABLE_BASE + a slot below CR_TABLE_SLOTS, chosen from the port id. */
export const CR_TABLE_BASE = 0x68630000;
export const CR_TABLE_SLOTS = 0x10000;
/** The nftables table of the NAT, owned wholesale. */
export const CR_NFT_TABLE = 'hypernet_cr';

export const isCrTable = (t: number): boolean => t >= CR_TABLE_BASE && t < CR_TABLE_BASE + CR_TABLE_SLOTS;

/** One custom-route port served by this node, as compiled from the model. */
export interface CrPort {
  portId: string;
  /** The bridged end (the port interface). */
  tap: string;
  /** The routed end, holding the port's MAC. */
  shim: string;
  mac: string;
  mtu: number;
  mode: CustomRouteMode;
  /** The VM's address in the VPC. */
  vpcIp: string;
  /** The port's (first IPv4) hyper IP. */
  hyperIp: string;
  /** The port's routing table. */
  table: number;
  /**
   * The port's conntrack zone: every flow of its VM on this node (from the VM's source on the VPC
   * side, or in from `shim`) is tracked there. Two VMs of one hyperswitch reach each other through
   * it twice (VPC → shim A → bridge → shim B → VPC); in one zone the second pass's entry would clash
   * with the first's NATed reply and be dropped.
   */
  zone: number;
  /** The IPv4 subnets of the port's network (the peers behind `shim`). */
  subnets: string[];
  /** The other ports of the network (IPv4, MAC): answered from `shim` without ARP (see compile.ts). */
  neighbours: { ip: string; mac: string }[];
}

/** A kernel object of the feature; `key` names it, and the other fields are what it must hold. */
export type CrObject =
  | { kind: 'link'; key: string; shim: string; tap: string; mac: string; mtu: number; up: boolean }
  | { kind: 'proxy'; key: string; ip: string; dev: string }
  | { kind: 'neigh'; key: string; ip: string; dev: string; mac: string }
  | { kind: 'route'; key: string; table: number; dst: string; dev?: string; via?: string }
  | { kind: 'rule'; key: string; sel: 'from' | 'to'; ip: string; table: number; iif?: string };

export interface CrDesired {
  ports: CrPort[];
  objects: CrObject[];
  /** The NAT table's text (nft -f), or null for no table (no custom-route port here). */
  nft: string | null;
  /** A digest of `nft`, kept as the table's comment so a read tells whether it is current. */
  nftTag: string;
  /** Ports whose binding could not be compiled: port id → why. */
  errors: Map<string, string>;
}

export interface CrActual {
  objects: CrObject[];
  /** The comment of the NAT table, '' when it has none, null when there is no table. */
  nftTag: string | null;
  /** IPv4 forwarding is on. */
  forwarding: boolean;
}

export type CrOp =
  | { op: 'forwarding' }
  | { op: 'add'; obj: CrObject }
  | { op: 'del'; obj: CrObject }
  /** Replace the NAT table with `text` tagged `tag`, or delete it (`text` null). */
  | { op: 'nft'; text: string | null; tag: string };
