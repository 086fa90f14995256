/**
 * Kernel naming of everything the agent owns (docs/CONVENTIONS.md "Kernel naming"): bridge `hnb-N`,
 * VXLAN `hnv-N` for VNI N, workload interface `tap` + port id[0:11], an agentless port's OpenVPN TAP
 * `vpn` + port id[0:11] and its veth shim `vps` + port id[0:11], a custom-route port's routed end `hcr` +
 * port id[0:11]. Ownership is decided here only.
 */

export const BRIDGE_PREFIX = 'hnb-';
export const VXLAN_PREFIX = 'hnv-';
export const TAP_PREFIX = 'tap';
/** An agentless port's OpenVPN TAP, and its veth shim to the port interface (src/agent/vpn/port-links.ts). */
export const VPN_TAP_PREFIX = 'vpn';
export const VPN_SHIM_PREFIX = 'vps';
/** A custom-route port's routed end on its hyperswitch, veth peer of its tap (src/agent/customroute/). */
export const CUSTOM_ROUTE_SHIM_PREFIX = 'hcr';
/** IANA VXLAN port. */
export const VXLAN_DSTPORT = 4789;
export { VXLAN_OVERHEAD } from './vxlan.js';
/** The all-zero MAC: VXLAN default destination (head-end replication of BUM traffic). */
export const ZERO_MAC = '00:00:00:00:00:00';

export const bridgeName = (vni: number): string => `${BRIDGE_PREFIX}${vni}`;
export const vxlanName = (vni: number): string => `${VXLAN_PREFIX}${vni}`;
export const tapName = (portId: string): string => `${TAP_PREFIX}${portId.slice(0, 11)}`;
export const vpnTapName = (portId: string): string => `${VPN_TAP_PREFIX}${portId.slice(0, 11)}`;
export const vpnShimName = (portId: string): string => `${VPN_SHIM_PREFIX}${portId.slice(0, 11)}`;
export const customRouteShimName = (portId: string): string => `${CUSTOM_ROUTE_SHIM_PREFIX}${portId.slice(0, 11)}`;

/**
 * The fixed MAC of bridge `hnb-N` (locally administered, 02:68:VNI:00). A bridge without one takes
 * the lowest MAC of its ports, and every change of it flushes the bridge's neighbour entries —
 * permanent ones too, i.e. the ARP answers of every remote port — whenever a tap with a lower MAC
 * joins or leaves.
 */
export const bridgeMac = (vni: number): string =>
  ['02', '68', (vni >> 16) & 255, (vni >> 8) & 255, vni & 255, 0]
    .map((b) => (typeof b === 'string' ? b : b.toString(16).padStart(2, '0')))
    .join(':');

const OURS_BRIDGE = /^hnb-\d+$/;
const OURS_VXLAN = /^hnv-\d+$/;

export const isOurBridge = (name: string): boolean => OURS_BRIDGE.test(name);
export const isOurVxlan = (name: string): boolean => OURS_VXLAN.test(name);
export const isTap = (name: string): boolean => name.startsWith(TAP_PREFIX);
