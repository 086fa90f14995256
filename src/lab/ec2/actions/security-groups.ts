/**
 * VPC security groups: Create/Describe/DeleteSecurityGroup and Authorize/RevokeSecurityGroupIngress
 * (and Egress). Rules are compared as EC2 does: protocol, port range and each CIDR or group on its own,
 * so a rule already present is InvalidPermission.Duplicate and an absent one InvalidPermission.NotFound.
 */
import { Ec2Fault, faults } from '../errors.js';
import { applyFilters, tagSet } from '../filters.js';
import * as find from '../lookup.js';
import { paginate } from '../paging.js';
import { filters, int, members, required, specTags, str, strings, type Params } from '../query.js';
import { newId, type Ec2State, type Permission, type SecurityGroup } from '../state.js';
import type { Action } from './action.js';

const PROTOCOLS: Record<string, string> = {
  tcp: 'tcp',
  udp: 'udp',
  icmp: 'icmp',
  '-1': '-1',
  all: '-1',
  '6': 'tcp',
  '17': 'udp',
  '1': 'icmp',
};

const renderPermission = (s: Ec2State, r: Permission) => ({
  ipProtocol: r.ipProtocol,
  fromPort: r.fromPort,
  toPort: r.toPort,
  groups: r.groupIds.map((groupId) => ({ userId: s.ownerId, groupId })),
  ipRanges: r.cidrs.map((cidrIp) => ({ cidrIp })),
  ipv6Ranges: [],
  prefixListIds: [],
});

export const renderGroup = (s: Ec2State, g: SecurityGroup) => ({
  ownerId: s.ownerId,
  groupId: g.groupId,
  groupName: g.groupName,
  groupDescription: g.description,
  vpcId: g.vpcId,
  ipPermissions: g.ingress.map((r) => renderPermission(s, r)),
  ipPermissionsEgress: g.egress.map((r) => renderPermission(s, r)),
  tagSet: tagSet(g.tags),
});

/** One permission per source (a CIDR or a group), so rules compare one to one. */
function atoms(p: Params, s: Ec2State): Permission[] {
  const out: Permission[] = [];
  for (const m of members(p, 'IpPermissions')) {
    const proto = PROTOCOLS[(m.get('IpProtocol') ?? '').toLowerCase()];
    if (!proto) throw faults.invalidValue('IpProtocol', m.get('IpProtocol') ?? '');
    const ports = proto === '-1' ? {} : { fromPort: int(m, 'FromPort') ?? -1, toPort: int(m, 'ToPort') ?? -1 };
    for (const r of members(m, 'IpRanges')) {
      const cidr = r.get('CidrIp') ?? '';
      out.push({ ipProtocol: proto, ...ports, cidrs: [cidr], groupIds: [] });
    }
    for (const g of members(m, 'Groups')) {
      const id = g.get('GroupId') ?? '';
      find.securityGroup(s, id);
      out.push({ ipProtocol: proto, ...ports, cidrs: [], groupIds: [id] });
    }
  }
  if (!out.length) throw faults.missing('IpPermissions');
  return out;
}

const same = (a: Permission, b: Permission): boolean =>
  a.ipProtocol === b.ipProtocol &&
  a.fromPort === b.fromPort &&
  a.toPort === b.toPort &&
  a.cidrs.join() === b.cidrs.join() &&
  a.groupIds.join() === b.groupIds.join();

const describeRule = (r: Permission): string =>
  `peer: ${r.cidrs[0] ?? r.groupIds[0]}, ${r.ipProtocol === '-1' ? 'ALL' : r.ipProtocol.toUpperCase()}, ` +
  `from port: ${r.fromPort ?? 'ALL'}, to port: ${r.toPort ?? 'ALL'}, ALLOW`;

/** The group of an Authorize/Revoke/Delete: GroupId, or GroupName (default VPC only at EC2). */
function groupOf(s: Ec2State, p: Params): SecurityGroup {
  const id = str(p, 'GroupId');
  if (id) return find.securityGroup(s, id);
  const name = str(p, 'GroupName');
  if (!name) throw faults.missing('GroupId');
  const g = [...s.groups.values()].find((x) => x.groupName === name);
  if (!g) throw new Ec2Fault('InvalidGroup.NotFound', `The security group '${name}' does not exist in default VPC`);
  return g;
}

function authorize(direction: 'ingress' | 'egress'): Action {
  return async ({ state: s }, p) => {
    const g = groupOf(s, p);
    const rules = atoms(p, s);
    for (const r of rules)
      if (g[direction].some((x) => same(x, r)))
        throw new Ec2Fault('InvalidPermission.Duplicate', `the specified rule "${describeRule(r)}" already exists`);
    g[direction].push(...rules);
    await s.dataplane.securityGroupsChanged?.(s);
    return {
      return: true,
      securityGroupRuleSet: rules.map((r) => ({
        securityGroupRuleId: newId('sgr'),
        groupId: g.groupId,
        groupOwnerId: s.ownerId,
        isEgress: direction === 'egress',
        ipProtocol: r.ipProtocol,
        fromPort: r.fromPort ?? -1,
        toPort: r.toPort ?? -1,
        cidrIpv4: r.cidrs[0],
        referencedGroupInfo: r.groupIds[0] ? { groupId: r.groupIds[0], userId: s.ownerId } : undefined,
      })),
    };
  };
}

function revoke(direction: 'ingress' | 'egress'): Action {
  return async ({ state: s }, p) => {
    const g = groupOf(s, p);
    const rules = atoms(p, s);
    const unknown = rules.filter((r) => !g[direction].some((x) => same(x, r)));
    // EC2 fails only when none of the rules exists; the ones it did not find come back as unknown.
    if (unknown.length === rules.length)
      throw new Ec2Fault('InvalidPermission.NotFound', 'The specified rule does not exist in this security group.');
    g[direction] = g[direction].filter((x) => !rules.some((r) => same(x, r)));
    await s.dataplane.securityGroupsChanged?.(s);
    return { return: true, unknownIpPermissionSet: unknown.map((r) => renderPermission(s, r)) };
  };
}

const createSecurityGroup: Action = async ({ state: s }, p) => {
  const name = required(p, 'GroupName');
  const description = required(p, 'GroupDescription');
  const vpcId = required(p, 'VpcId');
  if (!s.vpcs.has(vpcId)) throw faults.notFound('InvalidVpcID.NotFound', 'vpc', vpcId);
  if (name === 'default' || /^sg-/.test(name))
    throw faults.invalidValue('GroupName', name, "Group names may not be in the format 'sg-*' or be 'default'.");
  if ([...s.groups.values()].some((g) => g.vpcId === vpcId && g.groupName === name))
    throw new Ec2Fault('InvalidGroup.Duplicate', `The security group '${name}' already exists for VPC '${vpcId}'`);
  const g: SecurityGroup = {
    groupId: newId('sg'),
    groupName: name,
    description,
    vpcId,
    ingress: [],
    egress: [{ ipProtocol: '-1', cidrs: ['0.0.0.0/0'], groupIds: [] }],
    tags: specTags(p, 'security-group'),
  };
  s.groups.set(g.groupId, g);
  return { groupId: g.groupId, tagSet: tagSet(g.tags) };
};

const describeSecurityGroups: Action = async ({ state: s }, p) => {
  const ids = strings(p, 'GroupId');
  const names = strings(p, 'GroupName');
  let picked = ids.length ? ids.map((id) => find.securityGroup(s, id)) : [...s.groups.values()];
  if (names.length) {
    for (const n of names)
      if (!picked.some((g) => g.groupName === n))
        throw new Ec2Fault('InvalidGroup.NotFound', `The security group '${n}' does not exist in default VPC`);
    picked = picked.filter((g) => names.includes(g.groupName));
  }
  const matched = applyFilters(picked, filters(p), {
    'group-id': (g) => [g.groupId],
    'group-name': (g) => [g.groupName],
    'vpc-id': (g) => [g.vpcId],
    description: (g) => [g.description],
    'owner-id': () => [s.ownerId],
  });
  const page = paginate('DescribeSecurityGroups', p, matched, { min: 5, max: 1000 });
  return { securityGroupInfo: page.items.map((g) => renderGroup(s, g)), nextToken: page.nextToken };
};

const deleteSecurityGroup: Action = async ({ state: s }, p) => {
  const g = groupOf(s, p);
  if (g.groupName === 'default')
    throw new Ec2Fault(
      'CannotDelete',
      `the specified group: "${g.groupId}" name: "default" cannot be deleted by a user`,
    );
  const users = [
    ...[...s.interfaces.values()].filter((n) => n.groups.includes(g.groupId)),
    ...[...s.groups.values()].filter(
      (x) => x !== g && [...x.ingress, ...x.egress].some((r) => r.groupIds.includes(g.groupId)),
    ),
  ];
  if (users.length) throw faults.dependency(g.groupId);
  s.groups.delete(g.groupId);
  return { return: true, groupId: g.groupId };
};

export const SECURITY_GROUP_ACTIONS: Record<string, Action> = {
  CreateSecurityGroup: createSecurityGroup,
  DescribeSecurityGroups: describeSecurityGroups,
  DeleteSecurityGroup: deleteSecurityGroup,
  AuthorizeSecurityGroupIngress: authorize('ingress'),
  AuthorizeSecurityGroupEgress: authorize('egress'),
  RevokeSecurityGroupIngress: revoke('ingress'),
  RevokeSecurityGroupEgress: revoke('egress'),
};
