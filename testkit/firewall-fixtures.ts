/**
 * Hand-made model objects in the types.ts shape for the firewall tests and benchmark: ports,
 * security groups and rules with only the fields that matter set, the rest filled with defaults;
 * and the benchmark-scale model (n ports x 10 rules) shared by the benchmark and the tests.
 */
import type { Port, SecurityGroup, SecurityGroupRule } from '../src/model/types.js';
import type { FirewallInput, FirewallMode } from '../src/agent/firewall/model.js';
import { tapName } from '../src/model/kernel-names.js';

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
export function makeRule(
  sg: string,
  r: Partial<SecurityGroupRule> & Pick<SecurityGroupRule, 'direction'>,
): SecurityGroupRule {
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

export function makeGroup(
  id: string,
  rules: Array<Partial<SecurityGroupRule> & Pick<SecurityGroupRule, 'direction'>>,
): SecurityGroup {
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

/** Benchmark-scale model: ports 1..n, each in default and its own 10-rule group; 10.0.x.y addresses. */
const hex2 = (n: number) => n.toString(16).padStart(2, '0');
export const portId = (i: number) => `${String(i).padStart(8, '0')}-0000-4000-8000-${String(i).padStart(12, '0')}`;

export function scaleModel(n: number, mode: FirewallMode, extraRule = false): FirewallInput {
  const ports: Port[] = [];
  const groups: SecurityGroup[] = [defaultGroup('default')];
  for (let i = 1; i <= n; i++) {
    const sg = `sg${i}`;
    ports.push(
      makePort(
        {
          id: portId(i),
          mac_address: `fa:16:3e:00:${hex2(i >> 8)}:${hex2(i & 255)}`,
          security_groups: ['default', sg],
        },
        [`10.0.${i >> 8}.${(i & 255) + 1}`],
      ),
    );
    groups.push(
      makeGroup(sg, [
        { id: `${sg}-1`, direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22 },
        {
          id: `${sg}-2`,
          direction: 'ingress',
          protocol: 'tcp',
          port_range_min: 80,
          port_range_max: 80,
          remote_ip_prefix: '10.0.0.0/8',
        },
        { id: `${sg}-3`, direction: 'ingress', protocol: 'tcp', port_range_min: 443, port_range_max: 443 },
        { id: `${sg}-4`, direction: 'ingress', protocol: 'udp', port_range_min: 53, port_range_max: 53 },
        {
          id: `${sg}-5`,
          direction: 'ingress',
          protocol: 'udp',
          port_range_min: 5000,
          port_range_max: 5100,
          remote_group_id: sg,
        },
        { id: `${sg}-6`, direction: 'ingress', protocol: 'icmp', port_range_min: 8, port_range_max: 0 },
        { id: `${sg}-7`, direction: 'ingress', protocol: 'tcp', port_range_min: 5201, port_range_max: 5201 },
        {
          id: `${sg}-8`,
          direction: 'ingress',
          ethertype: 'IPv6',
          protocol: 'tcp',
          port_range_min: 22,
          port_range_max: 22,
        },
        { id: `${sg}-9`, direction: 'egress', ethertype: 'IPv4' },
        { id: `${sg}-10`, direction: 'egress', ethertype: 'IPv6' },
        ...(extraRule && i === 1
          ? [
              {
                id: `${sg}-11`,
                direction: 'ingress' as const,
                protocol: 'tcp',
                port_range_min: 8080,
                port_range_max: 8080,
              },
            ]
          : []),
      ]),
    );
  }
  return {
    mode,
    localPorts: ports.map((port) => ({ port, ifname: tapName(port.id), vni: 1001 })),
    securityGroups: groups,
    allPorts: ports,
  };
}
