/**
 * Route tables: DescribeRouteTables and Create/Replace/DeleteRoute, with EC2's errors. A route to a
 * network interface is `blackhole` while the interface is not attached to a running instance. Every
 * change is handed to the dataplane (the lab's VPC router namespace).
 */
import { isCidr, parseCidr } from '../../../model/grammar/addresses.js';
import { Ec2Fault, faults } from '../errors.js';
import { applyFilters, tagSet } from '../filters.js';
import * as find from '../lookup.js';
import { paginate } from '../paging.js';
import { filters, required, str, strings, type Params } from '../query.js';
import type { Ec2State, Route, RouteTable } from '../state.js';
import type { Action } from './action.js';

function routeState(s: Ec2State, r: Route): 'active' | 'blackhole' {
  if (!r.networkInterfaceId) return 'active';
  const eni = s.interfaces.get(r.networkInterfaceId);
  const inst = eni?.attachment && s.instances.get(eni.attachment.instanceId);
  return inst && inst.state !== 'terminated' ? 'active' : 'blackhole';
}

export const renderRouteTable = (s: Ec2State, t: RouteTable) => ({
  routeTableId: t.routeTableId,
  vpcId: t.vpcId,
  ownerId: s.ownerId,
  routeSet: t.routes.map((r) => ({
    destinationCidrBlock: r.destinationCidrBlock,
    gatewayId: r.gatewayId,
    instanceId: r.instanceId,
    instanceOwnerId: r.instanceId ? s.ownerId : undefined,
    networkInterfaceId: r.networkInterfaceId,
    state: routeState(s, r),
    origin: r.origin,
  })),
  associationSet: t.associations.map((a) => ({
    routeTableAssociationId: a.id,
    routeTableId: t.routeTableId,
    subnetId: a.subnetId,
    main: a.main,
    associationState: { state: 'associated' },
  })),
  propagatingVgwSet: [],
  tagSet: tagSet(t.tags),
});

const describeRouteTables: Action = async ({ state: s }, p) => {
  const ids = strings(p, 'RouteTableId');
  const picked = ids.length ? ids.map((id) => find.routeTable(s, id)) : [...s.routeTables.values()];
  const matched = applyFilters(picked, filters(p), {
    'route-table-id': (t) => [t.routeTableId],
    'vpc-id': (t) => [t.vpcId],
    'association.subnet-id': (t) => t.associations.map((a) => a.subnetId),
    'association.main': (t) => t.associations.map((a) => a.main),
    'association.route-table-association-id': (t) => t.associations.map((a) => a.id),
    'route.destination-cidr-block': (t) => t.routes.map((r) => r.destinationCidrBlock),
    'route.network-interface-id': (t) => t.routes.map((r) => r.networkInterfaceId),
    'route.instance-id': (t) => t.routes.map((r) => r.instanceId),
    'route.gateway-id': (t) => t.routes.map((r) => r.gatewayId),
    'owner-id': () => [s.ownerId],
  });
  const page = paginate('DescribeRouteTables', p, matched, { min: 5, max: 100 });
  return { routeTableSet: page.items.map((t) => renderRouteTable(s, t)), nextToken: page.nextToken };
};

/** The destination and the one target of a Create/ReplaceRoute. */
function target(s: Ec2State, p: Params): { cidr: string; route: Omit<Route, 'origin'> } {
  const cidr = required(p, 'DestinationCidrBlock');
  if (!isCidr(cidr, true)) throw faults.invalidValue('destinationCidrBlock', cidr, 'This is not a valid CIDR block.');
  const gatewayId = str(p, 'GatewayId');
  const eniId = str(p, 'NetworkInterfaceId');
  const instanceId = str(p, 'InstanceId');
  const given = [gatewayId, eniId, instanceId].filter((x) => x !== undefined);
  if (given.length !== 1)
    throw faults.combination('The request must contain exactly one of gatewayId, networkInterfaceId or instanceId');
  const dest = parseCidr(cidr).text;
  if (eniId) {
    const eni = find.networkInterface(s, eniId);
    return {
      cidr: dest,
      route: {
        destinationCidrBlock: dest,
        networkInterfaceId: eni.networkInterfaceId,
        instanceId: eni.attachment?.instanceId,
      },
    };
  }
  if (instanceId) {
    find.instance(s, instanceId);
    const eni = [...s.interfaces.values()].find(
      (n) => n.attachment?.instanceId === instanceId && n.attachment.deviceIndex === 0,
    );
    return {
      cidr: dest,
      route: { destinationCidrBlock: dest, instanceId, networkInterfaceId: eni?.networkInterfaceId },
    };
  }
  return { cidr: dest, route: { destinationCidrBlock: dest, gatewayId } };
}

function checkSameVpc(s: Ec2State, t: RouteTable, route: Omit<Route, 'origin'>): void {
  const eni = route.networkInterfaceId ? s.interfaces.get(route.networkInterfaceId) : undefined;
  if (eni && eni.vpcId !== t.vpcId)
    throw faults.invalidValue(
      'networkInterfaceId',
      eni.networkInterfaceId,
      `Route table ${t.routeTableId} and network interface ${eni.networkInterfaceId} belong to different networks.`,
    );
}

const createRoute: Action = async ({ state: s }, p) => {
  const t = find.routeTable(s, required(p, 'RouteTableId'));
  const { cidr, route } = target(s, p);
  checkSameVpc(s, t, route);
  if (t.routes.some((r) => r.destinationCidrBlock === cidr))
    throw new Ec2Fault('RouteAlreadyExists', `The route identified by ${cidr} already exists.`);
  const r: Route = { ...route, origin: 'CreateRoute' };
  t.routes.push(r);
  await s.dataplane.routeChanged(t, cidr, r, r.networkInterfaceId ? s.interfaces.get(r.networkInterfaceId) : undefined);
  return { return: true };
};

const notFound = (t: RouteTable, cidr: string) =>
  new Ec2Fault(
    'InvalidRoute.NotFound',
    `no route with destination-cidr-block ${cidr} in route table ${t.routeTableId}`,
  );

const replaceRoute: Action = async ({ state: s }, p) => {
  const t = find.routeTable(s, required(p, 'RouteTableId'));
  const { cidr, route } = target(s, p);
  checkSameVpc(s, t, route);
  const i = t.routes.findIndex((r) => r.destinationCidrBlock === cidr);
  if (i < 0) throw notFound(t, cidr);
  if (t.routes[i]!.gatewayId === 'local')
    throw faults.invalidValue('destinationCidrBlock', cidr, 'The local route cannot be replaced.');
  const r: Route = { ...route, origin: 'CreateRoute' };
  t.routes[i] = r;
  await s.dataplane.routeChanged(t, cidr, r, r.networkInterfaceId ? s.interfaces.get(r.networkInterfaceId) : undefined);
  return { return: true };
};

const deleteRoute: Action = async ({ state: s }, p) => {
  const t = find.routeTable(s, required(p, 'RouteTableId'));
  const cidr = required(p, 'DestinationCidrBlock');
  const i = t.routes.findIndex((r) => r.destinationCidrBlock === cidr);
  if (i < 0) throw notFound(t, cidr);
  if (t.routes[i]!.gatewayId === 'local')
    throw new Ec2Fault('InvalidParameterValue', `cannot remove local route ${cidr} in route table ${t.routeTableId}`);
  t.routes.splice(i, 1);
  await s.dataplane.routeChanged(t, cidr, null, undefined);
  return { return: true };
};

export const ROUTE_ACTIONS: Record<string, Action> = {
  DescribeRouteTables: describeRouteTables,
  CreateRoute: createRoute,
  ReplaceRoute: replaceRoute,
  DeleteRoute: deleteRoute,
};
