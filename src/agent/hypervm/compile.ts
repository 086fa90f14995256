/**
 * Pure: (this node, the watched model) → the containers it should run: every HyperVM scheduled on
 * this host, not in ERROR, whose port is bound here and carries a MAC. The container's veth takes the
 * port's tap name, so the datapath enslaves it and the firewall filters it on the node's side, where
 * root inside the container cannot reach.
 */
import type { ModelView } from '../../model/model-cache.js';
import { tapName } from '../../model/kernel-names.js';
import { isMac } from '../../model/grammar/mac.js';
import type { DesiredContainer } from './types.js';

/** The LXC name of a HyperVM's container. */
export const containerName = (hypervmId: string): string => `hv-${hypervmId}`;

/** What LXC may be handed: the name goes into paths, the MAC and MTU into its config file. */
const SAFE_NAME = /^hv-[0-9a-zA-Z-]{1,64}$/;

export function compileHyperVms(host: string, model: ModelView): Map<string, DesiredContainer> {
  const out = new Map<string, DesiredContainer>();
  for (const hv of model.hypervms.values()) {
    if (hv.host !== host || hv.status === 'ERROR') continue;
    const port = model.ports.get(hv.port_id);
    if (!port || port['binding:host_id'] !== host || port.device_id !== hv.id || !isMac(port.mac_address)) continue;
    const name = containerName(hv.id);
    if (!SAFE_NAME.test(name)) continue;
    const net = model.networks.get(port.network_id);
    out.set(name, {
      id: hv.id,
      name,
      imageId: hv.image_id,
      tap: tapName(port.id),
      mac: port.mac_address.toLowerCase(),
      mtu: net?.mtu ?? 1450,
      tokenSpent: hv.launch_token_issued,
      reported: hv.status,
      task: hv.task ?? '',
      taskImageId: hv.task_image_id ?? '',
      taskTokenSpent: hv.task_token_issued ?? false,
      consoleSession: hv.console_session ?? '',
    });
  }
  return out;
}
