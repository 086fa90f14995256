/**
 * Kernel names of what the L3 part owns, in one place so compile, driver and tests agree: a router's
 * namespace (`<prefix>qr-<router id>`), its interface veth (`qr-`/`hrp` + port id[0:11], inside the
 * router namespace / on the node's bridge) and its gateway veth (`qg-`/`hrg` + port id[0:11]), the
 * nftables tables `ip hypernet_l3` (in each router namespace) and `bridge`/`ip`/`netdev hypernet_l3`
 * (on the node), and the egress transit: a VXLAN `qt-` + router id[0:11] in each router namespace,
 * its next hops, routing tables and rule priorities.
 */
import { createHash } from 'node:crypto';

export const ROUTER_NS_INFIX = 'qr-';
export const IFACE_INNER_PREFIX = 'qr-';
export const IFACE_OUTER_PREFIX = 'hrp';
export const GW_INNER_PREFIX = 'qg-';
export const GW_OUTER_PREFIX = 'hrg';
/** The table the L3 part owns wholesale, in each router namespace (NAT) and on the node (bridge family). */
export const L3_TABLE = 'hypernet_l3';
/**
 * The next hop a router namespace sends external traffic to: an address of the node end of its
 * gateway veth (link-local, the same on every gateway veth, as Calico does for its workloads).
 */
export const L3_NEXT_HOP = '169.254.0.1';

export const TRANSIT_PREFIX = 'qt-';
/**
 * The UDP port of the transit VXLANs: apart from the tenant overlay's 4789, so a router's transit VNI
 * never collides with a tenant network's.
 */
export const L3_TRANSIT_PORT = 4790;
/** The transit's own address, the same on every node (only its connected route is used, never ARP). */
export const L3_TRANSIT_ADDR = '169.254.1.254/24';
/** The next hop standing for the i-th gateway node of a router on its transit (a permanent neighbour). */
export const transitHop = (i: number): string => `169.254.1.${i + 1}`;
/** Routing table of a router namespace's default through its own gateway veth (floating IPs' sources). */
export const FIP_TABLE = 100;
/** Routing table of a default through the transit to the i-th gateway node. */
export const transitTable = (i: number): number => FIP_TABLE + 1 + i;
/** Rule priorities: the main table without its default first, then floating IPs' sources. */
export const RULE_MAIN_PREF = 100;
export const RULE_FIP_PREF = 200;

const hashBytes = (text: string): Buffer => createHash('sha256').update(text).digest();
/** The router's transit VNI (24 bits, never 0): every node of the router derives the same one. */
export const transitVni = (routerId: string): number => hashBytes(routerId).readUIntBE(0, 3) || 1;
/** The MAC of a router's transit on one node (locally administered, unicast). */
export const transitMac = (routerId: string, host: string): string =>
  ['02', ...[...hashBytes(`${routerId} ${host}`).subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
export const transitName = (routerId: string): string => `${TRANSIT_PREFIX}${routerId.slice(0, 11)}`;
/** The device of a route key (`DST [via GW] dev DEV [table N]`). */
export const routeDev = (route: string): string => / dev (\S+)/.exec(route)?.[1] ?? '';

export const routerNetns = (prefix: string, routerId: string): string => `${prefix}${ROUTER_NS_INFIX}${routerId}`;
export const ifaceInner = (portId: string): string => `${IFACE_INNER_PREFIX}${portId.slice(0, 11)}`;
export const ifaceOuter = (portId: string): string => `${IFACE_OUTER_PREFIX}${portId.slice(0, 11)}`;
export const gwInner = (portId: string): string => `${GW_INNER_PREFIX}${portId.slice(0, 11)}`;
export const gwOuter = (portId: string): string => `${GW_OUTER_PREFIX}${portId.slice(0, 11)}`;

/** Whether a namespace name is a router namespace of this prefix. */
export const isRouterNetns = (prefix: string, name: string): boolean =>
  name.startsWith(`${prefix}${ROUTER_NS_INFIX}`) && /^[0-9a-f-]{1,64}$/.test(name.slice(prefix.length + 3));

/** Whether a node link is the node end of a router veth (ours to delete). */
export const isOuterLink = (name: string): boolean => /^hr[pg][0-9a-f-]{1,11}$/.test(name);
