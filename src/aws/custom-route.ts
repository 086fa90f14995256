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
  CreateTagsCommand,
  DeleteTagsCommand,
  type Filter,
  ModifyNetworkInterfaceAttributeCommand,
  type NetworkInterface,
  paginateDescribeNetworkInterfaces,
  paginateDescribeRouteTables,
  ReplaceRouteCommand,
  RevokeSecurityGroupIngressCommand,
  type SecurityGroup,
} from '@aws-sdk/client-ec2';
import {
  CUSTOM_ROUTE_ENI_TAG,
  type CrEni,
  type CrView,
  type CustomRouteCloud,
  type CustomRouteEniRole,
  type IngressRule,
  ruleKey,
} from '../model/custom-route-cloud.js';
import { isEc2Error } from './ec2-client.js';
import { toTags } from './tags.js';

export type { IngressRule };

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

const key = ruleKey;

const eniOf = (n: NetworkInterface): CrEni => {
  const role = n.TagSet?.find((t) => t.Key === CUSTOM_ROUTE_ENI_TAG)?.Value;
  return {
    id: n.NetworkInterfaceId ?? '',
    subnetId: n.SubnetId ?? '',
    sourceDestCheck: n.SourceDestCheck !== false,
    groups: (n.Groups ?? []).map((g) => g.GroupId ?? ''),
    ...(role === 'vm' || role === 'hyperswitch' ? { role } : {}),
  };
};

export class CustomRoutes implements CustomRouteCloud {
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

  /** Everything the controller diffs against, in three Describe calls (paged). */
  async describe(eniIds: readonly string[], groupNames: readonly string[]): Promise<CrView> {
    const view: CrView = { mainTable: '', tableOfSubnet: {}, routes: {}, enis: {}, groups: {} };
    const vpc: Filter = { Name: 'vpc-id', Values: [this.vpc] };
    for await (const page of paginateDescribeRouteTables({ client: this.ec2 }, { Filters: [vpc] }))
      for (const t of page.RouteTables ?? []) {
        const id = t.RouteTableId ?? '';
        for (const a of t.Associations ?? []) {
          if (a.Main) view.mainTable = id;
          else if (a.SubnetId) view.tableOfSubnet[a.SubnetId] = id;
        }
        view.routes[id] = Object.fromEntries(
          (t.Routes ?? [])
            .filter((r) => r.NetworkInterfaceId && r.DestinationCidrBlock)
            .map((r) => [r.DestinationCidrBlock!, r.NetworkInterfaceId!]),
        );
      }
    for (const e of [
      ...(await this.enis([vpc, { Name: 'tag-key', Values: [CUSTOM_ROUTE_ENI_TAG] }])),
      ...(await this.describeEnis(eniIds)),
    ])
      view.enis[e.id] = e;
    if (groupNames.length) {
      const r = await this.ec2.send(
        new DescribeSecurityGroupsCommand({ Filters: [vpc, { Name: 'group-name', Values: [...groupNames] }] }),
      );
      for (const g of r.SecurityGroups ?? [])
        if (g.GroupName && g.GroupId) view.groups[g.GroupName] = { id: g.GroupId, rules: rulesOf(g) };
    }
    return view;
  }

  /** The ENIs of `ids` that exist (a filter, not ids: one unknown id would fail the whole call). */
  async describeEnis(ids: readonly string[]): Promise<CrEni[]> {
    const out: CrEni[] = [];
    // EC2 takes up to 200 values per filter.
    for (let i = 0; i < ids.length; i += 200)
      out.push(...(await this.enis([{ Name: 'network-interface-id', Values: ids.slice(i, i + 200) }])));
    return out;
  }

  private async enis(filters: Filter[]): Promise<CrEni[]> {
    const out: CrEni[] = [];
    for await (const page of paginateDescribeNetworkInterfaces({ client: this.ec2 }, { Filters: filters }))
      out.push(...(page.NetworkInterfaces ?? []).map(eniOf));
    return out;
  }

  async setGroups(eni: string, groups: readonly string[]): Promise<void> {
    await this.ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eni, Groups: [...groups] }));
  }

  async setRole(eni: string, role: CustomRouteEniRole | undefined): Promise<void> {
    const Tags = [{ Key: CUSTOM_ROUTE_ENI_TAG, ...(role ? { Value: role } : {}) }];
    try {
      if (role) await this.ec2.send(new CreateTagsCommand({ Resources: [eni], Tags }));
      else await this.ec2.send(new DeleteTagsCommand({ Resources: [eni], Tags }));
    } catch (e) {
      // An ENI deleted meanwhile has no tag to remove.
      if (role || !isEc2Error(e, 'InvalidNetworkInterfaceID.NotFound')) throw e;
    }
  }
}
