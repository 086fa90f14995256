/**
 * Neutron's rule for a router's subnets: a router has at most one port on a subnet, and no two of
 * its subnets overlap (it could not tell where to send a packet). Both are 400 Bad router request.
 */
import type { Port, Subnet } from '../../model/types.js';
import type { ReadTx } from '../store/store.js';
import { faults } from '../errors.js';
import { parseCidr } from '../ipam/cidr.js';

export function badRouter(msg: string) {
  return faults.badRequest(`Bad router request: ${msg}.`);
}

/** Fails when one of `adding` is already on the router (`ports`) or overlaps one of its subnets. */
export async function checkRouterSubnets(tx: ReadTx, ports: readonly Port[], adding: readonly Subnet[]): Promise<void> {
  const held = new Set(ports.flatMap((p) => p.fixed_ips.map((f) => f.subnet_id)));
  for (const s of adding) if (held.has(s.id)) throw badRouter(`Router already has a port on subnet ${s.id}`);
  for (const id of held) {
    const other = await tx.get('subnet', id);
    if (!other) continue;
    const o = parseCidr(other.cidr);
    for (const s of adding) {
      const c = parseCidr(s.cidr);
      if (c.version === o.version && c.network <= o.last && o.network <= c.last) {
        throw badRouter(`Cidr ${s.cidr} of subnet ${s.id} overlaps with cidr ${other.cidr} of subnet ${other.id}`);
      }
    }
  }
}
