/**
 * The API's side of a custom-route binding (`binding:profile` key `hypernet:custom_route`, grammar in
 * model/custom-route.ts): a bad one is Neutron's InvalidInput, at the port API and the bindings API
 * alike; and an `in-addition` port carries its VM's user_data in `binding:vif_details`, written with
 * the port, so whoever boots the VM reads it from the API.
 */
import { CUSTOM_ROUTE_USER_DATA_KEY, CustomRouteError, customRouteOf } from '../../model/custom-route.js';
import { customRouteUserData } from '../../model/custom-route-userdata.js';
import type { Port } from '../../model/types.js';
import { faults } from '../errors.js';
import type { ReadTx } from '../store/store.js';

export function checkCustomRouteProfile(profile: Record<string, unknown> | null | undefined): void {
  try {
    customRouteOf(profile);
  } catch (e) {
    if (e instanceof CustomRouteError) throw faults.invalidInput(e.message);
    throw e;
  }
}

/** `port` with `hypernet:user_data` in its vif_details when it is an `in-addition` port, without it otherwise. */
export async function withCustomRouteUserData(tx: ReadTx, port: Port): Promise<Port> {
  const { [CUSTOM_ROUTE_USER_DATA_KEY]: had, ...rest } = port['binding:vif_details'] ?? {};
  const cr = customRouteOf(port['binding:profile']);
  const ip = port.fixed_ips.find((f) => !f.ip_address.includes(':'))?.ip_address;
  if (cr?.mode !== 'in-addition' || !ip) {
    if (had !== undefined) port['binding:vif_details'] = rest;
    return port;
  }
  const cidrs = (await tx.list('subnet', port.network_id))
    .filter((s) => s.ip_version === 4)
    .map((s) => s.cidr)
    .sort();
  port['binding:vif_details'] = { ...rest, [CUSTOM_ROUTE_USER_DATA_KEY]: customRouteUserData(ip, cidrs) };
  return port;
}
