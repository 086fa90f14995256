/**
 * Neutron's port bindings (`binding-extended`) as pure changes of a port: a new binding (ACTIVE when
 * the port has no active host, else INACTIVE: a migration target its host's agent prepares),
 * activation (the target becomes the port's `binding:*`, the previous active one INACTIVE), and the
 * faults Neutron answers with. The HTTP routes (../port-bindings.ts) and the agentless move
 * (./transitions.ts) both build on these.
 */
import { activeBinding, inactiveBindings } from '../../model/bindings.js';
import type { Port, PortBinding } from '../../model/types.js';
import { NeutronFault } from '../errors.js';
import type { WriteTx } from '../store/store.js';

export const bindingFaults = {
  notFound: (portId: string, host: string) =>
    new NeutronFault(404, 'PortBindingNotFound', `Binding for port ${portId} for host ${host} could not be found.`),
  exists: (portId: string, host: string) =>
    new NeutronFault(409, 'PortBindingAlreadyExists', `Binding for port ${portId} on host ${host} already exists.`),
  active: (portId: string, host: string) =>
    new NeutronFault(409, 'PortBindingAlreadyActive', `Binding for port ${portId} on host ${host} is already active.`),
};

/** The VIF type a new binding gets: `tap` when a hypernet agent serves the host. */
export async function vifTypeFor(tx: WriteTx, host: string): Promise<string> {
  return (await tx.list('agent')).some((a) => a.host === host) ? 'tap' : 'unbound';
}

/** Port with its active binding replaced by `b` and the inactive list given. */
export function withBindings(p: Port, active: PortBinding | undefined, inactive: PortBinding[]): Port {
  return {
    ...p,
    'binding:host_id': active?.host ?? '',
    'binding:vif_type': active?.vif_type ?? 'unbound',
    'binding:vif_details': active?.vif_details ?? {},
    'binding:vnic_type': active?.vnic_type ?? p['binding:vnic_type'],
    'binding:profile': active?.profile ?? {},
    'binding:inactive': inactive,
  };
}

/** A new binding of `port` for `host`: ACTIVE when the port has no active host, INACTIVE otherwise. */
export async function newBinding(
  tx: WriteTx,
  port: Port,
  host: string,
  opts: { vnic_type?: string; profile?: Record<string, unknown> | null } = {},
): Promise<PortBinding> {
  return {
    host,
    vif_type: await vifTypeFor(tx, host),
    vif_details: {},
    vnic_type: opts.vnic_type ?? port['binding:vnic_type'],
    profile: opts.profile ?? {},
    status: activeBinding(port) ? 'INACTIVE' : 'ACTIVE',
  };
}

/** The port with `b` added (as its active binding when `b` is ACTIVE), replacing an inactive one of b's host. */
export function addBinding(port: Port, b: PortBinding): Port {
  const rest = inactiveBindings(port).filter((x) => x.host !== b.host);
  return b.status === 'ACTIVE' ? withBindings(port, b, rest) : withBindings(port, activeBinding(port), [...rest, b]);
}

/**
 * The port once `host`'s inactive binding is activated: it becomes the port's `binding:*`, the previous
 * active binding becomes INACTIVE (Neutron's activate; the agentless move uses it too).
 */
export function activateBinding(port: Port, host: string): { port: Port; active: PortBinding } {
  if (port['binding:host_id'] === host) throw bindingFaults.active(port.id, host);
  const target = inactiveBindings(port).find((b) => b.host === host);
  if (!target) throw bindingFaults.notFound(port.id, host);
  const old = activeBinding(port);
  const active: PortBinding = { ...target, status: 'ACTIVE' };
  const inactive = [
    ...inactiveBindings(port).filter((b) => b.host !== host),
    ...(old ? [{ ...old, status: 'INACTIVE' as const }] : []),
  ];
  return { port: withBindings(port, active, inactive), active };
}

/** The port without `host`'s inactive binding (Neutron's DELETE of a binding; the active one stays). */
export function dropInactive(port: Port, host: string): Port {
  return withBindings(
    port,
    activeBinding(port),
    inactiveBindings(port).filter((b) => b.host !== host),
  );
}
