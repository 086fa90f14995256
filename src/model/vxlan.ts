/** VXLAN facts both the server (network MTU) and the agent (device MTU) use. */

/** Outer IPv4 + UDP + VXLAN + inner Ethernet headers: overlay MTU = underlay MTU − 50. */
export const VXLAN_OVERHEAD = 50;

/** VNIs are 24 bits; 0 is not a usable network (Neutron's MIN_VXLAN_VNI..MAX_VXLAN_VNI). */
export const VNI_MIN = 1;
export const VNI_MAX = 2 ** 24 - 1;

/** Whether `n` can be a network's VNI. */
export const isVni = (n: unknown): n is number =>
  Number.isInteger(n) && (n as number) >= VNI_MIN && (n as number) <= VNI_MAX;
