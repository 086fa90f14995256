/**
 * A custom-route port's binding (docs/custom-route.md): a hyper port whose VM is an ordinary cloud VM
 * behind a hyperswitch that the VPC route table names as the hyper subnet's gateway. Its
 * `binding:profile` carries `hypernet:custom_route` = {mode, interface, vpc_ip}: how the VM sees its
 * hyper IP (`instead`: not at all, the hyperswitch maps the VM's VPC address 1:1 to it; `in-addition`:
 * as a secondary address from cloud-init) and which cloud interface (ENI id, VPC address) is the VM's.
 * The grammar is strict and shared: the server refuses a bad profile, and the agent checks it again.
 */
import { isIp } from './grammar/addresses.js';

export const CUSTOM_ROUTE_MODES = ['instead', 'in-addition'] as const;
export type CustomRouteMode = (typeof CUSTOM_ROUTE_MODES)[number];
export const DEFAULT_CUSTOM_ROUTE_MODE: CustomRouteMode = 'instead';

/** The key of `binding:profile` that makes a port a custom-route port. */
export const CUSTOM_ROUTE_PROFILE_KEY = 'hypernet:custom_route';

/** An EC2 network interface id: `eni-` and 8 or 17 lower-case hex digits. */
const ENI_ID = /^eni-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

export const isEniId = (s: unknown): s is string => typeof s === 'string' && ENI_ID.test(s);

/** The key of an `in-addition` port's `binding:vif_details` holding its VM's user_data. */
export const CUSTOM_ROUTE_USER_DATA_KEY = 'hypernet:user_data';

/** The key of an agent's `configurations` naming its hyperswitch's own ENI (`--custom-route-interface`). */
export const CUSTOM_ROUTE_INTERFACE_KEY = 'custom_route_interface';

export interface CustomRouteBinding {
  mode: CustomRouteMode;
  /** The VM's cloud interface (ENI id). */
  interface: string;
  /** The VM's address in the VPC (IPv4, the ENI's primary private address). */
  vpc_ip: string;
}

export class CustomRouteError extends Error {
  override readonly name = 'CustomRouteError';
}

/**
 * The custom-route binding of a `binding:profile`, or undefined when the profile has none. Throws
 * CustomRouteError for anything but exactly {mode?, interface, vpc_ip} in the grammar above.
 */
export function customRouteOf(profile: Record<string, unknown> | null | undefined): CustomRouteBinding | undefined {
  const v = profile?.[CUSTOM_ROUTE_PROFILE_KEY];
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new CustomRouteError(`${CUSTOM_ROUTE_PROFILE_KEY} must be an object`);
  const o = v as Record<string, unknown>;
  const extra = Object.keys(o).filter((k) => !['mode', 'interface', 'vpc_ip'].includes(k));
  if (extra.length) throw new CustomRouteError(`${CUSTOM_ROUTE_PROFILE_KEY} has unknown keys: ${extra.join(', ')}`);
  const mode = o.mode ?? DEFAULT_CUSTOM_ROUTE_MODE;
  if (!(CUSTOM_ROUTE_MODES as readonly unknown[]).includes(mode))
    throw new CustomRouteError(`${CUSTOM_ROUTE_PROFILE_KEY}.mode must be one of ${CUSTOM_ROUTE_MODES.join(', ')}`);
  if (!isEniId(o.interface))
    throw new CustomRouteError(`${CUSTOM_ROUTE_PROFILE_KEY}.interface must be an ENI id (eni-…)`);
  if (!isIp(o.vpc_ip, 4)) throw new CustomRouteError(`${CUSTOM_ROUTE_PROFILE_KEY}.vpc_ip must be an IPv4 address`);
  return { mode: mode as CustomRouteMode, interface: o.interface, vpc_ip: o.vpc_ip };
}
