/**
 * Port bindings (Neutron `binding-extended`) read from a port object, shared by the server and the
 * agents: the ACTIVE binding is the port's `binding:*` attributes, INACTIVE ones (hosts a migration
 * prepares) are `binding:inactive`. An agent wires a port that is active on its host, and prepares
 * (bridge, filters, DHCP entry, tap plugged but not announced) one with an inactive binding there.
 */
import type { Port, PortBinding } from './types.js';

/** The port's active binding, or undefined while it is unbound. */
export function activeBinding(p: Port): PortBinding | undefined {
  if (!p['binding:host_id']) return undefined;
  return {
    host: p['binding:host_id'],
    vif_type: p['binding:vif_type'],
    vif_details: p['binding:vif_details'],
    vnic_type: p['binding:vnic_type'],
    profile: p['binding:profile'],
    status: 'ACTIVE',
  };
}

export const inactiveBindings = (p: Port): readonly PortBinding[] => p['binding:inactive'] ?? [];

/** Every binding of the port: the active one first, then the inactive ones. */
export function portBindings(p: Port): PortBinding[] {
  const a = activeBinding(p);
  return [...(a ? [a] : []), ...inactiveBindings(p)];
}

/** True when `host` holds an inactive binding of the port (a migration target being prepared). */
export const preparedOn = (p: Port, host: string): boolean => inactiveBindings(p).some((b) => b.host === host);

/** True when the port is active on `host` or being prepared there: the host wires its side. */
export const wiredOn = (p: Port, host: string): boolean => p['binding:host_id'] === host || preparedOn(p, host);

/**
 * Why an agent reported the port ERROR (an object of it the agent cannot compile), kept by the
 * server in the port's `binding:vif_details.error`; undefined when none.
 */
export function portError(p: Pick<Port, 'binding:vif_details'>): string | undefined {
  const e = p['binding:vif_details']?.error;
  return typeof e === 'string' ? e : undefined;
}
