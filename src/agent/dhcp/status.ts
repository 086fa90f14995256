/**
 * Pure: the status of this host's DHCP ports (device_owner network:dhcp) toward the server. A DHCP
 * port has no tap for the datapath to see; it is ACTIVE once the driver serves its network (veth in
 * the bridge, addresses set, dnsmasq running), DOWN when it does not (an apply failed, or no local
 * port needs DHCP there any more and the network's DHCP was torn down).
 */
import type { ModelView } from '../../model/model-cache.js';
import type { PortStatusUpdate } from '../status-reporter.js';
import { dhcpDeviceId, isDhcpPort } from './dhcp-port.js';
import type { DhcpDesired } from './types.js';

/** Updates for this host's DHCP ports, given the VNIs the last driver apply served without error. */
export function dhcpPortStatusUpdates(
  host: string,
  desired: DhcpDesired,
  served: ReadonlySet<number>,
  model: ModelView,
): PortStatusUpdate[] {
  const out: PortStatusUpdate[] = [];
  const servedPorts = new Set(desired.networks.filter((n) => served.has(n.vni)).map((n) => n.portId));
  for (const port of model.ports.values()) {
    if (!isDhcpPort(port) || port['binding:host_id'] !== host || port.device_id !== dhcpDeviceId(host)) continue;
    const up = servedPorts.has(port.id);
    if (up && (port.status !== 'ACTIVE' || port['binding:vif_type'] !== 'tap'))
      out.push({ portId: port.id, status: 'ACTIVE', vifType: 'tap' });
    else if (!up && port.status === 'ACTIVE') out.push({ portId: port.id, status: 'DOWN' });
  }
  return out;
}
