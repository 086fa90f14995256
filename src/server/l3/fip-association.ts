/**
 * Associating a floating IP with a port, Neutron's rules: the port is the floating IP's project's
 * (unless an admin asks), has the fixed IPv4 address named (or exactly one), that address has no
 * other floating IP on the same external network, and a router connects the address's subnet to
 * the floating IP's network (else 404 ExternalGatewayForFloatingIPNotFound). The result fills
 * `port_id`, `fixed_ip_address`, `router_id`, `port_details` and `status`.
 */
import { L3_OWNERS } from '../../model/device-owners.js';
import type { FloatingIp, Port } from '../../model/types.js';
import type { ReadTx, WriteTx } from '../store/store.js';
import { faults } from '../errors.js';
import { canonicalIp, ipVersion } from '../ipam/cidr.js';
import type { Ctx } from '../resource.js';
import { routersOnSubnet } from './router-ports.js';
import { storeKindUpdate } from '../store-update.js';

type Association = Pick<FloatingIp, 'port_id' | 'fixed_ip_address' | 'router_id' | 'port_details' | 'status'>;

export const UNASSOCIATED: Association = {
  port_id: null,
  fixed_ip_address: null,
  router_id: null,
  port_details: null,
  status: 'DOWN',
};

const bad = (msg: string) => faults.badRequest(`Bad floatingip request: ${msg}.`);

export function portDetails(p: Port): NonNullable<FloatingIp['port_details']> {
  return {
    name: p.name,
    network_id: p.network_id,
    mac_address: p.mac_address,
    admin_state_up: p.admin_state_up,
    status: p.status,
    device_id: p.device_id,
    device_owner: p.device_owner,
  };
}

/** The router linking `subnetId` (on `networkId`) to external network `externalId`, if any. */
async function routerFor(
  tx: ReadTx,
  networkId: string,
  subnetId: string,
  externalId: string,
): Promise<string | undefined> {
  for (const id of await routersOnSubnet(tx, networkId, subnetId)) {
    const r = await tx.get('router', id);
    if (r?.external_gateways.some((g) => g.network_id === externalId)) return r.id;
  }
  return undefined;
}

export async function associate(
  ctx: Ctx,
  tx: ReadTx,
  fip: Pick<FloatingIp, 'id' | 'project_id' | 'floating_network_id' | 'floating_ip_address'>,
  portId: string,
  fixedIp: string | undefined,
): Promise<Association> {
  // Neutron looks the port up with an elevated context: another project's port is a 400, not a 404.
  const port = await tx.get('port', portId);
  if (!port) throw faults.notFound('port', portId);
  if (!ctx.caller.isAdmin && port.project_id !== fip.project_id) {
    throw bad(
      `Cannot create floating IP and bind it to Port ${port.id}, since that port is owned by a different tenant`,
    );
  }
  if (L3_OWNERS.includes(port.device_owner)) {
    throw bad(`Port ${port.id} has owner ${port.device_owner} and cannot have a floating IP`);
  }
  const v4 = port.fixed_ips.filter((f) => ipVersion(f.ip_address) === 4);
  if (v4.length === 0) throw bad(`Cannot add floating IP to port ${port.id} that has no fixed IPv4 addresses`);
  let chosen = v4[0];
  if (fixedIp !== undefined) {
    const ip = canonicalIp(fixedIp);
    const found = v4.find((f) => f.ip_address === ip);
    if (!found) throw bad(`Port ${port.id} does not have fixed ip ${fixedIp}`);
    chosen = found;
  } else if (v4.length > 1) {
    throw bad(
      `Port ${port.id} has multiple fixed IPv4 addresses.  Must provide a specific IPv4 address when assigning a ` +
        'floating IP',
    );
  }
  const taken = (await tx.list('floatingip')).find(
    (f) =>
      f.id !== fip.id &&
      f.port_id === port.id &&
      f.fixed_ip_address === chosen.ip_address &&
      f.floating_network_id === fip.floating_network_id,
  );
  if (taken) {
    throw faults.conflict(
      'FloatingIPPortAlreadyAssociated',
      `Cannot associate floating IP ${fip.floating_ip_address} (${fip.id}) with port ${port.id} using fixed IP ` +
        `${chosen.ip_address}, as that fixed IP already has a floating IP on external network ` +
        `${fip.floating_network_id}.`,
    );
  }
  const routerId = await routerFor(tx, port.network_id, chosen.subnet_id, fip.floating_network_id);
  if (!routerId) {
    throw faults.missing(
      'ExternalGatewayForFloatingIPNotFound',
      `External network ${fip.floating_network_id} is not reachable from subnet ${chosen.subnet_id}.  Therefore, ` +
        `cannot associate Port ${port.id} with a Floating IP.`,
    );
  }
  return {
    port_id: port.id,
    fixed_ip_address: chosen.ip_address,
    router_id: routerId,
    port_details: portDetails(port),
    status: 'ACTIVE',
  };
}

/** Disassociates every floating IP of a port that is going away (Neutron does so on port delete). */
export async function disassociatePort(ctx: Ctx, tx: WriteTx, portId: string): Promise<void> {
  for (const f of await tx.list('floatingip')) {
    if (f.port_id === portId) await storeKindUpdate('floatingip', ctx, tx, { ...f, ...UNASSOCIATED });
  }
}
