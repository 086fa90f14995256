/**
 * What the ports API must respect of L3: a port a router or a floating IP owns is deleted only
 * through them (409 ServicePortInUse, as Neutron), and a port that goes away takes its floating
 * IPs' associations with it.
 */
import { OWNER_FLOATINGIP, L3_OWNERS } from '../../model/device-owners.js';
import type { Port } from '../../model/types.js';
import type { WriteTx } from '../store/store.js';
import { faults } from '../errors.js';
import type { Ctx } from '../resource.js';
import { disassociatePort } from './fip-association.js';

export async function beforePortDelete(ctx: Ctx, tx: WriteTx, port: Port): Promise<void> {
  if (L3_OWNERS.includes(port.device_owner) && port.device_id !== '') {
    const owner =
      port.device_owner === OWNER_FLOATINGIP
        ? await tx.get('floatingip', port.device_id)
        : await tx.get('router', port.device_id);
    if (owner) {
      throw faults.conflict(
        'ServicePortInUse',
        `Port ${port.id} cannot be deleted directly via the port API: has device owner ${port.device_owner}.`,
      );
    }
  }
  await disassociatePort(ctx, tx, port.id);
}
