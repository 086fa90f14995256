/**
 * The `extraroute` routes of a router: each next hop must be an address on one of the router's
 * subnets (interfaces or gateways) and not the router's own, at most MAX_ROUTES routes, duplicates
 * refused; Neutron's InvalidRoutes / RoutesExhausted answers. Destinations and next hops are
 * canonicalised, so what reaches a route table later is in the shared address grammar.
 */
import type { HostRoute, Port } from '../../model/types.js';
import type { ReadTx } from '../store/store.js';
import { faults } from '../errors.js';
import { canonicalIp, cidrContains, isIp, parseCidr, type Cidr } from '../ipam/cidr.js';

/** Neutron's `max_routes` default. */
export const MAX_ROUTES = 30;

const show = (routes: readonly HostRoute[]) =>
  `[${routes.map((r) => `{'destination': '${r.destination}', 'nexthop': '${r.nexthop}'}`).join(', ')}]`;

function invalid(routes: readonly HostRoute[], reason: string) {
  return faults.badRequest(`Invalid format for routes: ${show(routes)}, ${reason}.`, 'InvalidRoutes');
}

/** Parses and canonicalises routes (400 on bad text or duplicates), without looking at the router. */
export function canonicalRoutes(routes: readonly HostRoute[]): HostRoute[] {
  const out: HostRoute[] = [];
  const seen = new Set<string>();
  for (const r of routes) {
    const d = parseCidr(r.destination);
    if (!isIp(r.nexthop, d.version))
      throw invalid(routes, `the nexthop '${r.nexthop}' is not an IPv${d.version} address`);
    const route = { destination: d.text, nexthop: canonicalIp(r.nexthop) };
    const key = `${route.destination} ${route.nexthop}`;
    if (seen.has(key)) {
      throw faults.badRequest(
        `Invalid input for routes. Reason: Duplicate hostroute '${route.destination} ${route.nexthop}'.`,
        'HTTPBadRequest',
      );
    }
    seen.add(key);
    out.push(route);
  }
  return out;
}

/** Checks routes against the router's ports (all of them: interfaces and gateways). */
export async function checkRoutes(
  tx: ReadTx,
  routerId: string,
  ports: readonly Port[],
  routes: readonly HostRoute[],
): Promise<void> {
  if (routes.length > MAX_ROUTES) {
    throw faults.badRequest(
      `Unable to complete operation for ${routerId}. The number of routes exceeds the maximum ${MAX_ROUTES}.`,
      'RoutesExhausted',
    );
  }
  const cidrs: Cidr[] = [];
  const own = new Set<string>();
  for (const p of ports) {
    for (const f of p.fixed_ips) {
      own.add(f.ip_address);
      const s = await tx.get('subnet', f.subnet_id);
      if (s) cidrs.push(parseCidr(s.cidr));
    }
  }
  for (const r of routes) {
    if (!cidrs.some((c) => cidrContains(c, r.nexthop)))
      throw invalid(routes, 'the nexthop is not connected with router');
    if (own.has(r.nexthop)) throw invalid(routes, 'the nexthop is used by router');
  }
}
