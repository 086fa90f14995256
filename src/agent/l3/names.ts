/**
 * Kernel names of what the L3 part owns, in one place so compile, driver and tests agree: a router's
 * namespace (`<prefix>qr-<router id>`), its interface veth (`qr-`/`hrp` + port id[0:11], inside the
 * router namespace / on the node's bridge) and its gateway veth (`qg-`/`hrg` + port id[0:11]), the
 * nftables tables `ip hypernet_l3` (in each router namespace) and `bridge hypernet_l3` (on the node).
 */

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
