/**
 * The ports routers and floating IPs own (interfaces, gateways, floating-IP holders). They are made
 * through the ports resource itself, with the caller's rights raised to admin as Neutron does with
 * an elevated context, so MAC and address allocation and every port invariant stay in one place.
 */
import type { Port } from '../../model/types.js';
import { mustGet, type Ctx } from '../resource.js';
import { storeUpdate } from '../store-update.js';
import type { WriteTx } from '../store/store.js';
import { ports } from '../resources/ports.js';

export interface ServicePortSpec {
  networkId: string;
  /** '' for gateway and floating-IP ports, which belong to no project (as in Neutron). */
  projectId: string;
  deviceOwner: string;
  deviceId: string;
  /** Wanted addresses; undefined lets IPAM choose. */
  fixedIps?: { subnet_id?: string; ip_address?: string }[];
  /** Router ports follow their router (routerPortStatus); others start DOWN. */
  status?: 'ACTIVE' | 'DOWN';
}

/** The context of an internal step taken for the caller with admin rights. */
export function elevated(ctx: Ctx): Ctx {
  return { ...ctx, caller: { ...ctx.caller, isAdmin: true }, internal: true };
}

export async function createServicePort(ctx: Ctx, tx: WriteTx, spec: ServicePortSpec): Promise<Port> {
  return ports.create(elevated(ctx), tx, {
    network_id: spec.networkId,
    project_id: spec.projectId,
    device_owner: spec.deviceOwner,
    device_id: spec.deviceId,
    fixed_ips: spec.fixedIps,
    status: spec.status,
    name: '',
  });
}

/** Changes a port's fixed IPs (or owner) through the ports resource and stores it as an update. */
export async function updateServicePort(
  ctx: Ctx,
  tx: WriteTx,
  port: Port,
  body: {
    fixed_ips?: { subnet_id?: string; ip_address?: string }[];
    device_id?: string;
    device_owner?: string;
    status?: 'ACTIVE' | 'DOWN';
  },
): Promise<Port> {
  const current = await mustGet(tx, 'port', port.id);
  const next = await ports.update(elevated(ctx), tx, current, body);
  return storeUpdate(ports, ctx, tx, next ?? current);
}
