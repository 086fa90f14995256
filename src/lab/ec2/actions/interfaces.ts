/**
 * Network interfaces: Describe/Create/DeleteNetworkInterface and ModifyNetworkInterfaceAttribute
 * (SourceDestCheck, security groups). CreateNetworkInterface takes a ClientToken. Also the rendering
 * RunInstances and DescribeInstances share.
 */
import { generateMac } from '../../../model/grammar/mac.js';
import { allocateIp } from '../addresses.js';
import { Ec2Fault, faults } from '../errors.js';
import { applyFilters, tagSet } from '../filters.js';
import { once } from '../idempotency.js';
import * as find from '../lookup.js';
import { paginate } from '../paging.js';
import { bool, filters, required, specTags, str, strings, type Params } from '../query.js';
import { newId, type Ec2State, type NetworkInterface } from '../state.js';
import type { Action } from './action.js';

const groupSet = (s: Ec2State, ids: string[]) =>
  ids.map((groupId) => ({ groupId, groupName: s.groups.get(groupId)?.groupName }));

export const renderInterface = (s: Ec2State, n: NetworkInterface) => ({
  networkInterfaceId: n.networkInterfaceId,
  subnetId: n.subnetId,
  vpcId: n.vpcId,
  availabilityZone: s.subnets.get(n.subnetId)?.availabilityZone,
  description: n.description,
  ownerId: s.ownerId,
  requesterManaged: false,
  status: n.attachment ? 'in-use' : 'available',
  macAddress: n.macAddress,
  privateIpAddress: n.privateIpAddress,
  sourceDestCheck: n.sourceDestCheck,
  interfaceType: 'interface',
  groupSet: groupSet(s, n.groups),
  attachment: n.attachment && {
    attachmentId: n.attachment.attachmentId,
    instanceId: n.attachment.instanceId,
    instanceOwnerId: s.ownerId,
    deviceIndex: n.attachment.deviceIndex,
    status: 'attached',
    deleteOnTermination: n.attachment.deleteOnTermination,
  },
  privateIpAddressesSet: [{ privateIpAddress: n.privateIpAddress, primary: true }],
  tagSet: tagSet(n.tags),
});

/** The interface as DescribeInstances shows it (no tags, no availability zone). */
export function renderInstanceInterface(s: Ec2State, n: NetworkInterface) {
  const { tagSet: _t, availabilityZone: _a, requesterManaged: _r, ...rest } = renderInterface(s, n);
  return rest;
}

/** Makes an interface (CreateNetworkInterface, RunInstances' NetworkInterface.N). */
export function makeInterface(
  s: Ec2State,
  o: { subnetId: string; groups: string[]; ip?: string; description?: string; tags?: Record<string, string> },
): NetworkInterface {
  const subnet = find.subnet(s, o.subnetId);
  const groups = o.groups.length
    ? o.groups
    : [...s.groups.values()].filter((g) => g.vpcId === subnet.vpcId && g.groupName === 'default').map((g) => g.groupId);
  for (const g of groups) {
    const sg = find.securityGroup(s, g);
    if (sg.vpcId !== subnet.vpcId)
      throw faults.invalidValue(
        'SecurityGroupId',
        g,
        `Security group ${g} and subnet ${subnet.subnetId} belong to different networks.`,
      );
  }
  const n: NetworkInterface = {
    networkInterfaceId: newId('eni'),
    subnetId: subnet.subnetId,
    vpcId: subnet.vpcId,
    privateIpAddress: allocateIp(s, subnet, o.ip),
    macAddress: generateMac('0a:00:00:00:00:00'),
    description: o.description ?? '',
    groups,
    sourceDestCheck: true,
    tags: { ...(o.tags ?? {}) },
  };
  s.interfaces.set(n.networkInterfaceId, n);
  return n;
}

const describeNetworkInterfaces: Action = async ({ state: s }, p) => {
  const ids = strings(p, 'NetworkInterfaceId');
  const picked = ids.length ? ids.map((id) => find.networkInterface(s, id)) : [...s.interfaces.values()];
  const matched = applyFilters(picked, filters(p), {
    'network-interface-id': (n) => [n.networkInterfaceId],
    'subnet-id': (n) => [n.subnetId],
    'vpc-id': (n) => [n.vpcId],
    'private-ip-address': (n) => [n.privateIpAddress],
    'addresses.private-ip-address': (n) => [n.privateIpAddress],
    'mac-address': (n) => [n.macAddress],
    description: (n) => [n.description],
    status: (n) => [n.attachment ? 'in-use' : 'available'],
    'source-dest-check': (n) => [n.sourceDestCheck],
    'group-id': (n) => n.groups,
    'attachment.instance-id': (n) => [n.attachment?.instanceId],
    'attachment.device-index': (n) => [n.attachment?.deviceIndex],
  });
  const page = paginate('DescribeNetworkInterfaces', p, matched, { min: 5, max: 1000 });
  return { networkInterfaceSet: page.items.map((n) => renderInterface(s, n)), nextToken: page.nextToken };
};

const createNetworkInterface: Action = async ({ state: s }, p) =>
  once(s, 'CreateNetworkInterface', p, () => {
    const n = makeInterface(s, {
      subnetId: required(p, 'SubnetId'),
      groups: strings(p, 'SecurityGroupId'),
      ip: str(p, 'PrivateIpAddress'),
      description: str(p, 'Description'),
      tags: specTags(p, 'network-interface'),
    });
    return { networkInterface: renderInterface(s, n), clientToken: str(p, 'ClientToken') };
  });

const deleteNetworkInterface: Action = async ({ state: s }, p) => {
  const n = find.networkInterface(s, required(p, 'NetworkInterfaceId'));
  if (n.attachment) throw new Ec2Fault('InvalidNetworkInterface.InUse', `Interface: [${n.networkInterfaceId}] in use.`);
  s.interfaces.delete(n.networkInterfaceId);
  return { return: true };
};

/** One attribute per call, as EC2 requires. */
function oneAttribute(p: Params): void {
  const given = ['SourceDestCheck.Value', 'Description.Value', 'SecurityGroupId.1'].filter((k) => p.has(k));
  if (given.length !== 1)
    throw faults.combination(`Fields for multiple attribute types specified: ${given.join(', ') || 'none'}`);
}

const modifyNetworkInterfaceAttribute: Action = async ({ state: s }, p) => {
  const n = find.networkInterface(s, required(p, 'NetworkInterfaceId'));
  oneAttribute(p);
  const check = bool(p, 'SourceDestCheck.Value');
  if (check !== undefined) {
    n.sourceDestCheck = check;
    await s.dataplane.sourceDestCheckChanged(n);
  }
  const description = str(p, 'Description.Value');
  if (description !== undefined) n.description = description;
  const groups = strings(p, 'SecurityGroupId');
  if (groups.length) {
    for (const g of groups) find.securityGroup(s, g);
    n.groups = groups;
    await s.dataplane.securityGroupsChanged?.(s);
  }
  return { return: true };
};

export const INTERFACE_ACTIONS: Record<string, Action> = {
  DescribeNetworkInterfaces: describeNetworkInterfaces,
  CreateNetworkInterface: createNetworkInterface,
  DeleteNetworkInterface: deleteNetworkInterface,
  ModifyNetworkInterfaceAttribute: modifyNetworkInterfaceAttribute,
};
