/** DescribeVpcs and DescribeSubnets: the lab makes VPCs and subnets itself (Ec2State.addVpc/addSubnet). */
import { freeCount } from '../addresses.js';
import { applyFilters, tagSet } from '../filters.js';
import * as find from '../lookup.js';
import { paginate } from '../paging.js';
import { filters, strings } from '../query.js';
import type { Action } from './action.js';

const describeVpcs: Action = async ({ state: s }, p) => {
  const ids = strings(p, 'VpcId');
  const picked = [...s.vpcs.values()].filter((v) => !ids.length || ids.includes(v.vpcId));
  const matched = applyFilters(picked, filters(p), {
    'vpc-id': (v) => [v.vpcId],
    'cidr-block': (v) => [v.cidrBlock],
    cidr: (v) => [v.cidrBlock],
    state: () => ['available'],
  });
  const page = paginate('DescribeVpcs', p, matched, { min: 5, max: 1000 });
  return {
    vpcSet: page.items.map((v) => ({
      vpcId: v.vpcId,
      ownerId: s.ownerId,
      state: 'available',
      cidrBlock: v.cidrBlock,
      instanceTenancy: 'default',
      isDefault: false,
      tagSet: tagSet(v.tags),
    })),
    nextToken: page.nextToken,
  };
};

const describeSubnets: Action = async ({ state: s }, p) => {
  const ids = strings(p, 'SubnetId');
  const picked = ids.length ? ids.map((id) => find.subnet(s, id)) : [...s.subnets.values()];
  const matched = applyFilters(picked, filters(p), {
    'subnet-id': (x) => [x.subnetId],
    'vpc-id': (x) => [x.vpcId],
    'cidr-block': (x) => [x.cidrBlock],
    'availability-zone': (x) => [x.availabilityZone],
    state: () => ['available'],
  });
  const page = paginate('DescribeSubnets', p, matched, { min: 5, max: 1000 });
  return {
    subnetSet: page.items.map((x) => ({
      subnetId: x.subnetId,
      vpcId: x.vpcId,
      ownerId: s.ownerId,
      state: 'available',
      cidrBlock: x.cidrBlock,
      availableIpAddressCount: freeCount(s, x),
      availabilityZone: x.availabilityZone,
      defaultForAz: false,
      mapPublicIpOnLaunch: false,
      tagSet: tagSet(x.tags),
    })),
    nextToken: page.nextToken,
  };
};

export const VPC_ACTIONS: Record<string, Action> = { DescribeVpcs: describeVpcs, DescribeSubnets: describeSubnets };
