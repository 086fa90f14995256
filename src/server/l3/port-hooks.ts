/**
 * What the ports API must respect of L3: a port a router or a floating IP owns is deleted only
 * through them (409 ServicePortInUse, as Neutron), and a port that goes away takes its floating
 * IPs' associations with it. The router topology agents see is read from ports (device_owner and
 * device_id), so the ports API may neither make an L3 port nor re-address or re-own one: that
 * would let a port pose as another project's router interface.
 */
import { OWNER_FLOATINGIP, L3_OWNERS } from '../../model/device-owners.js';
import type { Body } from '../resource.js';
import type { Port } from '../../model/types.js';
import type { WriteTx } from '../store/store.js';
import { faults } from '../errors.js';
import type { Ctx } from '../resource.js';
import { disassociatePort, portDetails, UNASSOCIATED } from './fip-association.js';
import { storeKindUpdate } from '../store-update.js';

/** Fields of an L3 port only its router or floating IP may change. */
const OWNED_FIELDS = ['device_id', 'device_owner', 'fixed_ips', 'mac_address'] as const;

async function l3Owner(tx: WriteTx, port: Port): Promise<unknown> {
  if (!L3_OWNERS.includes(port.device_owner) || port.device_id === '') return undefined;
  return port.device_owner === OWNER_FLOATINGIP
    ? tx.get('floatingip', port.device_id)
    : tx.get('router', port.device_id);
}

/** Refuses, for a request of the ports API, to make an L3 port or to change what its owner holds. */
export async function checkPortWrite(ctx: Ctx, tx: WriteTx, body: Body, current?: Port): Promise<void> {
  if (ctx.internal) return;
  const owner = body.device_owner;
  if (typeof owner === 'string' && L3_OWNERS.includes(owner) && owner !== current?.device_owner) {
    throw faults.badRequest(
      `Bad port request: device_owner ${owner} is given by the routers and floatingips APIs, not the port API.`,
    );
  }
  if (current && OWNED_FIELDS.some((k) => body[k] !== undefined) && (await l3Owner(tx, current))) {
    throw faults.conflict(
      'ServicePortInUse',
      `Port ${current.id} cannot be changed directly via the port API: has device owner ${current.device_owner}.`,
    );
  }
}

export async function beforePortDelete(ctx: Ctx, tx: WriteTx, port: Port): Promise<void> {
  if (await l3Owner(tx, port)) {
    throw faults.conflict(
      'ServicePortInUse',
      `Port ${port.id} cannot be deleted directly via the port API: has device owner ${port.device_owner}.`,
    );
  }
  await disassociatePort(ctx, tx, port.id);
}

/**
 * Keeps the floating IPs of a changed port true to it: `port_details` follow the port (its status
 * once the agent wires it, its name…), and a floating IP whose fixed address the port gave up is
 * disassociated, since nothing would answer on that address any more.
 */
export async function afterPortUpdate(ctx: Ctx, tx: WriteTx, port: Port): Promise<void> {
  for (const f of await tx.list('floatingip')) {
    if (f.port_id !== port.id) continue;
    const kept = port.fixed_ips.some((x) => x.ip_address === f.fixed_ip_address);
    const next = kept ? { ...f, port_details: portDetails(port) } : { ...f, ...UNASSOCIATED };
    if (JSON.stringify(next) !== JSON.stringify(f)) await storeKindUpdate('floatingip', ctx, tx, next);
  }
}
