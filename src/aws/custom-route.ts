/**
 * What custom-route mode asks of EC2 beyond the agentless driver: the hyper subnet's entry in the VPC
 * subnet's route table pointing at a hyperswitch's ENI (created, replaced on failover or migration,
 * deleted), the source/destination check of an ENI, and security groups whose ingress rules are made
 * to match a wanted list. Every call is idempotent, so a retry after a lost answer does no harm.
 */
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateRouteCommand,
  CreateSecurityGroupCommand,
  DeleteRouteCommand,
  DeleteSecurityGroupCommand,
  DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand,
  type EC2Client,
  type IpPermission,
  ModifyNetworkInterfaceAttributeCommand,
  ReplaceRouteCommand,
  RevokeSecurityGroupIngressCommand,
  type SecurityGroup,
} from '@aws-sdk/client-ec2';
import { isEc2Error } from './ec2-client.js';
import { toTags } from './tags.js';

/** One ingress rule: a protocol (tcp, udp, icmp, -1 = all), ports, and one source (CIDR or group id). */
export interface IngressRule {
  protocol: string;
  from?: number;
  to?: number;
  cidr?: string;
  group?: string;
}

/** A route of the hyper subnet as EC2 reports it. */
export interface HyperRoute {
  cidr: string;
  networkInterfaceId?: string;
  state?: string;
}

const permission = (r: IngressRule): IpPermission => ({
  IpProtocol: r.protocol,
  ...(r.protocol === '-1' ? {} : { FromPort: r.from ?? -1, ToPort: r.to ?? -1 }),
  ...(r.cidr ? { IpRanges: [{ CidrIp: r.cidr }] } : {}),
  ...(r.group ? { UserIdGroupPairs: [{ GroupId: r.group }] } : {}),
});

/** A group's ingress as one rule per source, comparable with IngressRule. */
function rulesOf(g: SecurityGroup): IngressRule[] {
  const out: IngressRule[] = [];
  for (const p of g.IpPermissions ?? []) {
    const base = {
      protocol: p.IpProtocol ?? '-1',
      ...(p.IpProtocol === '-1' ? {} : { from: p.FromPort, to: p.ToPort }),
    };
    for (const r of p.IpRanges ?? []) out.push({ ...base, cidr: r.CidrIp });
    for (const u of p.UserIdGroupPairs ?? []) out.push({ ...base, group: u.GroupId });
  }
  return out;
}

const key = (r: IngressRule): string =>
  [
    r.protocol,
    r.protocol === '-1' ? '' : (r.from ?? -1),
    r.protocol === '-1' ? '' : (r.to ?? -1),
    r.cidr ?? '',
    r.group ?? '',
  ].join('|');

export class CustomRoutes {
  constructor(
    private readonly ec2: EC2Client,
    private readonly vpc: string,
  ) {}

  /** The route table a subnet uses: its own association, else the VPC's main table. */
  async routeTableOf(subnetId: string): Promise<string> {
    const own = await this.ec2.send(
      new DescribeRouteTablesCommand({ Filters: [{ Name: 'association.subnet-id', Values: [subnetId] }] }),
    );
    const main = own.RouteTables?.length
      ? own
      : await this.ec2.send(
          new DescribeRouteTablesCommand({
            Filters: [
              { Name: 'vpc-id', Values: [this.vpc] },
              { Name: 'association.main', Values: ['true'] },
            ],
          }),
        );
    const id = main.RouteTables?.[0]?.RouteTableId;
    if (!id) throw new Error(`aws: no route table for ${subnetId}`);
    return id;
  }

  /** Points `cidr` at `eni`: CreateRoute, or ReplaceRoute when a route is there (failover, migration). */
  async setRoute(table: string, cidr: string, eni: string): Promise<'created' | 'replaced'> {
    const route = { RouteTableId: table, DestinationCidrBlock: cidr, NetworkInterfaceId: eni };
    try {
      await this.ec2.send(new CreateRouteCommand(route));
      return 'created';
    } catch (e) {
      if (!isEc2Error(e, 'RouteAlreadyExists')) throw e;
      await this.ec2.send(new ReplaceRouteCommand(route));
      return 'replaced';
    }
  }

  async deleteRoute(table: string, cidr: string): Promise<void> {
    try {
      await this.ec2.send(new DeleteRouteCommand({ RouteTableId: table, DestinationCidrBlock: cidr }));
    } catch (e) {
      if (!isEc2Error(e, 'InvalidRoute.NotFound')) throw e;
    }
  }

  /** The table's routes that go to an ENI (what a restarted server reads back). */
  async routes(table: string): Promise<HyperRoute[]> {
    const r = await this.ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: [table] }));
    return (r.RouteTables?.[0]?.Routes ?? [])
      .filter((x) => x.NetworkInterfaceId)
      .map((x) => ({ cidr: x.DestinationCidrBlock ?? '', networkInterfaceId: x.NetworkInterfaceId, state: x.State }));
  }

  async setSourceDestCheck(eni: string, enabled: boolean): Promise<void> {
    await this.ec2.send(
      new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eni, SourceDestCheck: { Value: enabled } }),
    );
  }

  private async group(name: string): Promise<SecurityGroup | undefined> {
    const r = await this.ec2.send(
      new DescribeSecurityGroupsCommand({
        Filters: [
          { Name: 'vpc-id', Values: [this.vpc] },
          { Name: 'group-name', Values: [name] },
        ],
      }),
    );
    return r.SecurityGroups?.[0];
  }

  /** Makes the group `name` exist with exactly `rules` as its ingress; returns its id. */
  async ensureSecurityGroup(name: string, description: string, rules: IngressRule[]): Promise<string> {
    let g = await this.group(name);
    if (!g) {
      try {
        await this.ec2.send(
          new CreateSecurityGroupCommand({
            GroupName: name,
            Description: description,
            VpcId: this.vpc,
            TagSpecifications: [{ ResourceType: 'security-group', Tags: toTags({ 'hypernet:managed': 'true' }) }],
          }),
        );
      } catch (e) {
        // Another server made it between our look and our create: use theirs.
        if (!isEc2Error(e, 'InvalidGroup.Duplicate')) throw e;
      }
      g = await this.group(name);
    }
    const id = g?.GroupId;
    if (!g || !id) throw new Error(`aws: security group ${name} not found after creating it`);
    const have = new Map(rulesOf(g).map((r) => [key(r), r]));
    const want = new Map(rules.map((r) => [key(r), r]));
    const add = [...want].filter(([k]) => !have.has(k)).map(([, r]) => permission(r));
    const drop = [...have].filter(([k]) => !want.has(k)).map(([, r]) => permission(r));
    if (add.length) {
      try {
        await this.ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: id, IpPermissions: add }));
      } catch (e) {
        if (!isEc2Error(e, 'InvalidPermission.Duplicate')) throw e;
      }
    }
    if (drop.length) await this.ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: id, IpPermissions: drop }));
    return id;
  }

  async deleteSecurityGroup(name: string): Promise<void> {
    const g = await this.group(name);
    if (!g?.GroupId) return;
    try {
      await this.ec2.send(new DeleteSecurityGroupCommand({ GroupId: g.GroupId }));
    } catch (e) {
      if (!isEc2Error(e, 'InvalidGroup.NotFound')) throw e;
    }
  }
}
