/**
 * External networks (`router:external`) and the hypernet `hypernet:cloud` attribute saying which
 * cloud an external network is in. Router gateways and floating IPs depend on both, so neither may
 * change while a gateway or floating-IP port sits on the network (Neutron's ExternalNetworkInUse).
 */
import { z } from 'zod';
import { OWNER_FLOATINGIP, OWNER_ROUTER_GATEWAY } from '../../model/device-owners.js';
import type { Network } from '../../model/types.js';
import type { ReadTx } from '../store/store.js';
import { faults } from '../errors.js';
import { zHost } from '../resource.js';

/** A cloud name in the shared host/cloud grammar, or '' for none. */
export const zCloud = z.union([z.literal(''), zHost]);

/** The cloud an external network is in ('' when none was set). */
export const cloudOf = (n: Network): string => n['hypernet:cloud'] ?? '';

export async function checkExternalUpdate(
  tx: ReadTx,
  current: Network,
  body: { 'router:external'?: boolean; 'hypernet:cloud'?: string },
): Promise<void> {
  const unexternal = body['router:external'] === false && current['router:external'];
  const moved = body['hypernet:cloud'] !== undefined && body['hypernet:cloud'] !== cloudOf(current);
  if (!unexternal && !moved) return;
  const ports = await tx.list('port', current.id);
  if (ports.some((p) => p.device_owner === OWNER_ROUTER_GATEWAY || p.device_owner === OWNER_FLOATINGIP)) {
    throw faults.conflict(
      'ExternalNetworkInUse',
      unexternal
        ? `External network ${current.id} cannot be updated to be made non-external, since it has existing ` +
            'gateway ports'
        : `External network ${current.id} cannot be moved to another cloud, since it has existing gateway ports`,
    );
  }
}

/** Loads a network for a gateway or a floating IP: 404 when invisible, 400 when not external. */
export async function mustGetExternal(tx: ReadTx, id: string, resource: 'router' | 'floatingip'): Promise<Network> {
  const net = await tx.get('network', id);
  if (!net) throw faults.notFound('network', id);
  if (!net['router:external']) {
    const msg =
      resource === 'router'
        ? `Network ${id} is not an external network`
        : `Network ${id} is not a valid external network`;
    throw faults.badRequest(`Bad ${resource} request: ${msg}.`);
  }
  return net;
}
