/**
 * Taking a network's sharing away. Other projects' ports and subnets on a shared network depend on
 * it being shared (they could not have been made otherwise, and their owners could no longer see
 * the network), so, as in Neutron, `shared: false` is refused while any remain. The network's own
 * `network:*` ports (DHCP) do not count.
 */
import type { Network } from '../model/types.js';
import type { ReadTx } from './store/store.js';
import { faults } from './errors.js';

export async function checkUnshare(tx: ReadTx, net: Network): Promise<void> {
  const ports = (await tx.list('port', net.id)).filter((p) => !p.device_owner.startsWith('network:'));
  const subnets = await tx.list('subnet', net.id);
  const foreign = [...ports, ...subnets].some((o) => o.project_id !== net.project_id);
  if (foreign) {
    throw faults.conflict(
      'InvalidSharedSetting',
      `Unable to reconfigure sharing settings for network ${net.id}. Multiple tenants are using it.`,
    );
  }
}
