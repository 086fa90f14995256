/**
 * Neutron's `device_owner` values of the ports the network itself owns. Router and floating-IP ports
 * are made and removed only through the routers and floatingips APIs, never by the ports API.
 */
export const OWNER_DHCP = 'network:dhcp';
export const OWNER_ROUTER_INTERFACE = 'network:router_interface';
export const OWNER_ROUTER_GATEWAY = 'network:router_gateway';
export const OWNER_FLOATINGIP = 'network:floatingip';

/** Owners whose ports belong to a router or a floating IP (Neutron refuses to delete them directly). */
export const L3_OWNERS: readonly string[] = [OWNER_ROUTER_INTERFACE, OWNER_ROUTER_GATEWAY, OWNER_FLOATINGIP];
