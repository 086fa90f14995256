/**
 * Finding resources by id the way EC2 answers: a malformed id and an unknown one are different
 * errors (`…ID.Malformed`, `…ID.NotFound`).
 */
import { Ec2Fault, faults } from './errors.js';
import type { Ec2State, Instance, NetworkInterface, RouteTable, SecurityGroup, Subnet } from './state.js';

const check = <T>(map: Map<string, T>, id: string, prefix: string, code: string, kind: string): T => {
  if (!new RegExp(`^${prefix}-[0-9a-f]{8,17}$`).test(id)) throw faults.malformed(`${code}.Malformed`, id);
  const r = map.get(id);
  if (!r) throw faults.notFound(`${code}.NotFound`, kind, id);
  return r;
};

export const routeTable = (s: Ec2State, id: string): RouteTable =>
  check(s.routeTables, id, 'rtb', 'InvalidRouteTableID', 'routeTable');
export const networkInterface = (s: Ec2State, id: string): NetworkInterface =>
  check(s.interfaces, id, 'eni', 'InvalidNetworkInterfaceID', 'networkInterface');
export const subnet = (s: Ec2State, id: string): Subnet => check(s.subnets, id, 'subnet', 'InvalidSubnetID', 'subnet');
export const instance = (s: Ec2State, id: string): Instance =>
  check(s.instances, id, 'i', 'InvalidInstanceID', 'instance');
export function securityGroup(s: Ec2State, id: string): SecurityGroup {
  if (!/^sg-[0-9a-f]{8,17}$/.test(id)) throw faults.malformed('InvalidGroupId.Malformed', id);
  const g = s.groups.get(id);
  if (!g) throw new Ec2Fault('InvalidGroup.NotFound', `The security group '${id}' does not exist`);
  return g;
}
