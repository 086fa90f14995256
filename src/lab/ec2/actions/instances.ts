/**
 * Instances: RunInstances (ClientToken, `user_data`, NetworkInterface.N, TagSpecification),
 * Describe/Terminate/Start/StopInstances. A launched instance is `pending` in RunInstances' answer and
 * `running` from the next DescribeInstances on; a terminated one stays visible as `terminated`, its
 * interfaces marked DeleteOnTermination gone, as at EC2.
 */
import { neutronTime } from '../../../common/clock.js';
import { Ec2Fault, faults } from '../errors.js';
import { applyFilters, tagSet } from '../filters.js';
import { once } from '../idempotency.js';
import * as find from '../lookup.js';
import { paginate } from '../paging.js';
import { bool, filters, int, members, required, specTags, str, strings, type Params } from '../query.js';
import { INSTANCE_STATES, newId, type Ec2State, type Instance, type InstanceState } from '../state.js';
import type { XmlValue } from '../xml.js';
import type { Action, ActionContext } from './action.js';
import { makeInterface, renderInstanceInterface } from './interfaces.js';

const stateOf = (name: InstanceState) => ({ code: INSTANCE_STATES[name], name });

const interfacesOf = (s: Ec2State, i: Instance) =>
  [...s.interfaces.values()]
    .filter((n) => n.attachment?.instanceId === i.instanceId)
    .sort((a, b) => a.attachment!.deviceIndex - b.attachment!.deviceIndex);

function renderInstance(s: Ec2State, i: Instance) {
  const nics = interfacesOf(s, i);
  const primary = nics[0];
  const live = i.state !== 'terminated';
  return {
    instanceId: i.instanceId,
    imageId: i.imageId,
    instanceState: stateOf(i.state),
    privateDnsName: live && primary ? `ip-${primary.privateIpAddress.replaceAll('.', '-')}.lab.internal` : '',
    amiLaunchIndex: 0,
    instanceType: i.instanceType,
    launchTime: i.launchTime,
    placement: { availabilityZone: s.subnets.get(i.subnetId)?.availabilityZone, tenancy: 'default' },
    monitoring: { state: 'disabled' },
    subnetId: live ? i.subnetId : undefined,
    vpcId: live ? i.vpcId : undefined,
    privateIpAddress: live ? primary?.privateIpAddress : undefined,
    sourceDestCheck: primary?.sourceDestCheck,
    groupSet: (primary?.groups ?? []).map((groupId) => ({ groupId, groupName: s.groups.get(groupId)?.groupName })),
    architecture: 'x86_64',
    rootDeviceType: 'ebs',
    virtualizationType: 'hvm',
    clientToken: i.clientToken,
    tagSet: tagSet(i.tags),
    networkInterfaceSet: nics.map((n) => renderInstanceInterface(s, n)),
  };
}

const reservation = (s: Ec2State, id: string, instances: Instance[]) => ({
  reservationId: id,
  ownerId: s.ownerId,
  groupSet: [],
  instancesSet: instances.map((i) => renderInstance(s, i)),
});

/** The NICs of a launch: NetworkInterface.N, or SubnetId + SecurityGroupId.N + PrivateIpAddress. */
function nicSpecs(p: Params) {
  const specs = members(p, 'NetworkInterface').map((m) => ({
    deviceIndex: int(m, 'DeviceIndex') ?? -1,
    subnetId: str(m, 'SubnetId') ?? '',
    groups: strings(m, 'SecurityGroupId'),
    ip: str(m, 'PrivateIpAddress'),
    description: str(m, 'Description'),
    deleteOnTermination: bool(m, 'DeleteOnTermination') ?? true,
  }));
  if (specs.length) {
    if (p.has('SubnetId'))
      throw faults.combination(
        'Network interfaces and an instance-level subnet ID may not be specified on the same request',
      );
    const indexes = specs.map((x) => x.deviceIndex).sort();
    if (indexes.some((d, k) => d !== k))
      throw faults.invalidValue('DeviceIndex', indexes.join(','), 'Device indexes must start at 0 and be consecutive.');
    for (const x of specs) if (!x.subnetId) throw faults.missing('NetworkInterface.SubnetId');
    return specs;
  }
  return [
    {
      deviceIndex: 0,
      subnetId: required(p, 'SubnetId'),
      groups: strings(p, 'SecurityGroupId'),
      ip: str(p, 'PrivateIpAddress'),
      description: undefined,
      deleteOnTermination: true,
    },
  ];
}

const runInstances: Action = async ({ state: s, clock }, p) =>
  once(s, 'RunInstances', p, () => {
    const imageId = required(p, 'ImageId');
    if (!/^ami-[0-9a-f]{8,17}$/.test(imageId)) throw faults.malformed('InvalidAMIID.Malformed', imageId);
    if (!s.images.has(imageId))
      throw new Ec2Fault('InvalidAMIID.NotFound', `The image id '[${imageId}]' does not exist`);
    const type = str(p, 'InstanceType') ?? 'm1.small';
    if (!/^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(type))
      throw new Ec2Fault('InvalidParameterValue', `Invalid value '${type}' for InstanceType.`);
    const min = int(p, 'MinCount');
    const max = int(p, 'MaxCount');
    if (min === undefined) throw faults.missing('MinCount');
    if (max === undefined) throw faults.missing('MaxCount');
    if (min !== 1 || max !== 1)
      throw faults.invalidValue('MaxCount', String(max), 'This endpoint launches one instance per call.');
    const userData = str(p, 'UserData') ?? '';
    if (userData.length > 21848) throw faults.invalidValue('UserData', '…', 'User data is limited to 16384 bytes');
    const specs = nicSpecs(p);
    const primary = find.subnet(s, specs[0]!.subnetId);
    const inst: Instance = {
      instanceId: newId('i'),
      imageId,
      instanceType: type,
      state: 'pending',
      subnetId: primary.subnetId,
      vpcId: primary.vpcId,
      userData,
      clientToken: str(p, 'ClientToken') ?? '',
      launchTime: neutronTime(clock.now()).replace('Z', '.000Z'),
      tags: specTags(p, 'instance'),
    };
    // All or nothing: interfaces made before a failing one go again.
    const made: string[] = [];
    try {
      for (const x of specs) {
        const n = makeInterface(s, { ...x, tags: specTags(p, 'network-interface') });
        n.attachment = {
          attachmentId: newId('eni-attach'),
          instanceId: inst.instanceId,
          deviceIndex: x.deviceIndex,
          deleteOnTermination: x.deleteOnTermination,
        };
        made.push(n.networkInterfaceId);
      }
    } catch (e) {
      for (const id of made) s.interfaces.delete(id);
      throw e;
    }
    s.instances.set(inst.instanceId, inst);
    return reservation(s, newId('r'), [inst]);
  });

/** EC2 reports a launch as pending first: it is running by the time anyone looks again. */
function settle(s: Ec2State): void {
  for (const i of s.instances.values()) if (i.state === 'pending') i.state = 'running';
}

const describeInstances: Action = async ({ state: s }, p) => {
  settle(s);
  const ids = strings(p, 'InstanceId');
  if (ids.length && p.has('MaxResults'))
    throw faults.combination('The parameter instancesSet cannot be used with the parameter maxResults');
  const picked = ids.length ? ids.map((id) => find.instance(s, id)) : [...s.instances.values()];
  const matched = applyFilters(picked, filters(p), {
    'instance-id': (i) => [i.instanceId],
    'instance-state-name': (i) => [i.state],
    'instance-state-code': (i) => [INSTANCE_STATES[i.state]],
    'instance-type': (i) => [i.instanceType],
    'image-id': (i) => [i.imageId],
    'vpc-id': (i) => [i.vpcId],
    'subnet-id': (i) => [i.subnetId],
    'client-token': (i) => [i.clientToken],
    'private-ip-address': (i) =>
      interfacesOf(s, i)
        .slice(0, 1)
        .map((n) => n.privateIpAddress),
    'network-interface.network-interface-id': (i) => interfacesOf(s, i).map((n) => n.networkInterfaceId),
    'network-interface.addresses.private-ip-address': (i) => interfacesOf(s, i).map((n) => n.privateIpAddress),
  });
  const page = paginate('DescribeInstances', p, matched, { min: 5, max: 1000 });
  return {
    reservationSet: page.items.map((i) => reservation(s, `r-${i.instanceId.slice(2)}`, [i])),
    nextToken: page.nextToken,
  };
};

function transition(ctx: ActionContext, p: Params, change: (i: Instance) => InstanceState): Record<string, XmlValue> {
  const { state: s } = ctx;
  settle(s);
  const ids = strings(p, 'InstanceId');
  if (!ids.length) throw faults.missing('InstanceId');
  const insts = ids.map((id) => find.instance(s, id));
  return {
    instancesSet: insts.map((i) => {
      const before = i.state;
      i.state = change(i);
      return { instanceId: i.instanceId, currentState: stateOf(i.state), previousState: stateOf(before) };
    }),
  };
}

const terminateInstances: Action = async (ctx, p) =>
  transition(ctx, p, (i) => {
    for (const n of interfacesOf(ctx.state, i)) {
      if (n.attachment!.deleteOnTermination) ctx.state.interfaces.delete(n.networkInterfaceId);
      else n.attachment = undefined;
    }
    return 'terminated';
  });

const startInstances: Action = async (ctx, p) =>
  transition(ctx, p, (i) => {
    if (i.state === 'terminated')
      throw new Ec2Fault(
        'IncorrectInstanceState',
        `The instance '${i.instanceId}' is not in a state from which it can be started.`,
      );
    return i.state === 'stopped' ? 'pending' : i.state;
  });

const stopInstances: Action = async (ctx, p) =>
  transition(ctx, p, (i) => {
    if (i.state === 'terminated')
      throw new Ec2Fault(
        'IncorrectInstanceState',
        `This instance '${i.instanceId}' is not in a state from which it can be stopped.`,
      );
    return 'stopped';
  });

export const INSTANCE_ACTIONS: Record<string, Action> = {
  RunInstances: runInstances,
  DescribeInstances: describeInstances,
  TerminateInstances: terminateInstances,
  StartInstances: startInstances,
  StopInstances: stopInstances,
};
