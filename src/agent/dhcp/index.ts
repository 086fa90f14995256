/**
 * DHCP for this node's own ports: one dnsmasq per network, Neutron style, in a namespace
 * `${netnsPrefix}${vni}` whose veth (`hnd-${vni}`) is plugged into the network's bridge `hnb-${vni}`.
 * dnsmasq answers only MACs in its hosts file (`dhcp-ignore=tag:!known`), which holds only ports bound
 * to this host, so it never answers for another node's ports.
 *
 * Use from the agent:
 *   const desired = compileDhcp({ host, networks, subnets, ports, underlayMtu, netnsPrefix });
 *   for (const id of desired.needsDhcpPort) await api.create('ports', dhcpPortRequest(id, host));
 *       // (the new port arrives by watch; recompile then)
 *   const driver = new DhcpDriver({ exec, log, stateDir, netnsPrefix });   // once; see DhcpDriverOptions.netnsExec
 *   const result = await driver.apply(desired);   // idempotent; result.networks[i].status is
 *       // 'ok' | 'bridge-missing' (retry after the bridge exists) | 'error' (retry with backoff)
 *   await driver.actual();                        // what exists, if you want to report or diff
 *
 * Ordering: apply after the bridges exist (bridge → DHCP). An empty desired state tears everything
 * down, so do not apply before the first full sync. The DHCP port must carry the DHCP port contract
 * (device_owner "network:dhcp", device_id "dhcp-<host>", binding:host_id host); agents sharing one
 * host's namespaces (the lab) need distinct netnsPrefix and stateDir.
 */
export { compileDhcp, DEFAULT_LEASE_SECONDS, type DhcpCompileInput } from './compile.js';
export { diffDhcp } from './diff.js';
export { DhcpDriver, type DhcpDriverOptions } from './driver.js';
export { DHCP_DEVICE_OWNER, dhcpDeviceId, dhcpPortRequest, findDhcpPort, isDhcpPort } from './dhcp-port.js';
export type * from './types.js';
