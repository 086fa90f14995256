/**
 * Neutron's default policy for port attributes, as one table. A port may sit on someone else's
 * shared network; the attributes that decide what the agent lets through (address pairs, port
 * security, MAC, fixed addresses, `network:*` owners, bindings) are then reserved to an admin or
 * to the network's owner, so a member cannot switch off anti-spoofing or security groups on a
 * network it only shares. A rule is checked only for an attribute the request names.
 */
import type { Network } from '../model/types.js';
import { faults } from './errors.js';
import type { Body, Ctx } from './resource.js';

/** Who passes a rule: admin only, admin or the network's project, or (also) anyone on a shared network. */
export type PolicyRule = 'admin' | 'admin_or_network_owner' | 'admin_or_network_owner_or_shared';

export interface PortPolicyEntry {
  /** Neutron's rule name after `create_port:` / `update_port:`. */
  target: string;
  /** Whether the request's body triggers this rule (it names the attribute, with a value that matters). */
  applies(body: Body): boolean;
  create?: PolicyRule;
  update?: PolicyRule;
}

const named = (key: string) => (body: Body) => body[key] !== undefined;
const fixedIpsWith = (field: 'ip_address' | 'subnet_id') => (body: Body) =>
  Array.isArray(body.fixed_ips) && body.fixed_ips.some((f) => (f as Record<string, unknown>)[field] !== undefined);
/** `device_owner: network:*` marks a port as the network's own (DHCP, router): no security groups for it. */
const networkDevice = (body: Body) => typeof body.device_owner === 'string' && body.device_owner.startsWith('network:');

/** Neutron's defaults (neutron/conf/policies/port.py), plus hypernet's agent-only status and binding results. */
export const PORT_POLICY: readonly PortPolicyEntry[] = [
  {
    target: 'device_owner',
    applies: networkDevice,
    create: 'admin_or_network_owner',
    update: 'admin_or_network_owner',
  },
  { target: 'mac_address', applies: named('mac_address'), create: 'admin_or_network_owner', update: 'admin' },
  {
    target: 'fixed_ips',
    applies: named('fixed_ips'),
    create: 'admin_or_network_owner_or_shared',
    update: 'admin_or_network_owner',
  },
  {
    target: 'fixed_ips:ip_address',
    applies: fixedIpsWith('ip_address'),
    create: 'admin_or_network_owner',
    update: 'admin_or_network_owner',
  },
  {
    target: 'fixed_ips:subnet_id',
    applies: fixedIpsWith('subnet_id'),
    create: 'admin_or_network_owner_or_shared',
    update: 'admin_or_network_owner_or_shared',
  },
  {
    target: 'port_security_enabled',
    applies: named('port_security_enabled'),
    create: 'admin_or_network_owner',
    update: 'admin_or_network_owner',
  },
  {
    target: 'allowed_address_pairs',
    applies: named('allowed_address_pairs'),
    create: 'admin_or_network_owner',
    update: 'admin_or_network_owner',
  },
  { target: 'binding:host_id', applies: named('binding:host_id'), create: 'admin', update: 'admin' },
  { target: 'binding:profile', applies: named('binding:profile'), create: 'admin', update: 'admin' },
  // Set by the agent only (Neutron does not let a user write them at all).
  { target: 'binding:vif_type', applies: named('binding:vif_type'), create: 'admin', update: 'admin' },
  { target: 'binding:vif_details', applies: named('binding:vif_details'), create: 'admin', update: 'admin' },
  { target: 'status', applies: named('status'), create: 'admin', update: 'admin' },
];

function passes(rule: PolicyRule, ctx: Ctx, net: Network): boolean {
  if (ctx.caller.isAdmin) return true;
  if (rule === 'admin') return false;
  if (net.project_id === ctx.caller.projectId) return true;
  return rule === 'admin_or_network_owner_or_shared' && net.shared;
}

/** Fails with 403 PolicyNotAuthorized naming the first rule the request breaks. */
export function enforcePortPolicy(
  ctx: Ctx,
  action: 'create' | 'update',
  body: Body,
  net: Network,
  table: readonly PortPolicyEntry[] = PORT_POLICY,
): void {
  for (const entry of table) {
    const rule = entry[action];
    if (rule === undefined || !entry.applies(body)) continue;
    if (!passes(rule, ctx, net))
      throw faults.forbidden(`(rule:${action}_port:${entry.target}) is disallowed by policy`);
  }
}
