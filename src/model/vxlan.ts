/** VXLAN facts both the server (network MTU) and the agent (device MTU) use. */

/** Outer IPv4 + UDP + VXLAN + inner Ethernet headers: overlay MTU = underlay MTU − 50. */
export const VXLAN_OVERHEAD = 50;
