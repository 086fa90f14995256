/**
 * Names of the kernel objects and files the DHCP part owns, derived from the network's VNI. One
 * place, so compile, driver and tests agree. Interface names stay ≤ 15 characters for any 24-bit VNI.
 */
import { join } from 'node:path';

/** The network's bridge in the node namespace (created by the agent's bridge code, not here). */
export { bridgeName } from '../../model/kernel-names.js';
/** The veth end plugged into the bridge, in the node namespace. */
export const vethNodeName = (vni: number): string => `hnd-${vni}`;
/** The veth end inside the DHCP namespace; dnsmasq serves on it. */
export const vethNsName = (vni: number): string => `hndi-${vni}`;
/** The per-network DHCP namespace. */
export const dhcpNetnsName = (prefix: string, vni: number): string => `${prefix}${vni}`;

/** VNI of a DHCP namespace name with this prefix, or null when the name is not ours. */
export function vniOfNetns(prefix: string, name: string): number | null {
  if (!name.startsWith(prefix)) return null;
  const rest = name.slice(prefix.length);
  return /^[0-9]{1,8}$/.test(rest) ? Number(rest) : null;
}

/** Files of one network's dnsmasq, all in `${stateDir}/${vni}/`. */
export interface DhcpFiles {
  dir: string;
  conf: string;
  hosts: string;
  pid: string;
  leases: string;
  log: string;
}

export function dhcpFiles(stateDir: string, vni: number): DhcpFiles {
  const dir = join(stateDir, String(vni));
  return {
    dir,
    conf: join(dir, 'dnsmasq.conf'),
    hosts: join(dir, 'hosts'),
    pid: join(dir, 'dnsmasq.pid'),
    leases: join(dir, 'leases'),
    log: join(dir, 'dnsmasq.log'),
  };
}
