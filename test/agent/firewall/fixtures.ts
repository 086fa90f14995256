/**
 * Hand-made model objects in the types.ts shape for the firewall tests and benchmark: ports,
 * security groups and rules with only the fields that matter set, the rest filled with defaults.
 */
import type { Port, SecurityGroup, SecurityGroupRule } from '../../../src/model/types.js';

const BASE = {
  project_id: 'p1',
  tenant_id: 'p1',
  description: '',
  tags: [] as string[],
  revision_number: 1,
  created_at: '2026-11-21T00:00:00Z',
  updated_at: '2026-11-21T00:00:00Z',
};

export function makePort(p: Partial<Port> & { id: string; mac_address: string }, ips: string[] = []): Port {
  return {
    ...BASE,
    name: p.id,
    network_id: 'net1',
    admin_state_up: true,
    fixed_ips: ips.map((ip_address) => ({ subnet_id: 'sub1', ip_address })),
    allowed_address_pairs: [],
    port_security_enabled: true,
    security_groups: [],
    device_id: 'vm',
    device_owner: 'compute:nova',
    status: 'ACTIVE',
    'binding:host_id': 'node1',
    'binding:profile': {},
    'binding:vif_type': 'tap',
    'binding:vif_details': {},
    'binding:vnic_type': 'normal',
    ...p,
  };
}

let ruleSeq = 0;
export function makeRule(sg: string, r: Partial<SecurityGroupRule> & Pick<SecurityGroupRule, 'direction'>): SecurityGroupRule {
  ruleSeq++;
  return {
    id: r.id ?? `r-${sg}-${String(ruleSeq).padStart(5, '0')}`,
    project_id: 'p1',
    tenant_id: 'p1',
    security_group_id: sg,
    ethertype: 'IPv4',
    protocol: null,
    port_range_min: null,
    port_range_max: null,
    remote_ip_prefix: null,
    remote_group_id: null,
    description: '',
    revision_number: 1,
    created_at: BASE.created_at,
    updated_at: BASE.updated_at,
    ...r,
  };
}

export function makeGroup(id: string, rules: Array<Partial<SecurityGroupRule> & Pick<SecurityGroupRule, 'direction'>>): SecurityGroup {
  return { ...BASE, id, name: id, stateful: true, security_group_rules: rules.map((r) => makeRule(id, r)) };
}

/** Neutron's default group: egress anything (v4, v6); ingress from members of the same group. */
export function defaultGroup(id: string): SecurityGroup {
  return makeGroup(id, [
    { id: `${id}-e4`, direction: 'egress', ethertype: 'IPv4' },
    { id: `${id}-e6`, direction: 'egress', ethertype: 'IPv6' },
    { id: `${id}-i4`, direction: 'ingress', ethertype: 'IPv4', remote_group_id: id },
    { id: `${id}-i6`, direction: 'ingress', ethertype: 'IPv6', remote_group_id: id },
  ]);
}
