/**
 * The `aws` provider: the ProviderDriver of the original agentless design on EC2, through the AWS SDK.
 * Hyperswitches are instances and agentless NICs are ENIs, both known only by their tags (./tags.ts),
 * so nothing is kept locally and a restarted server sees what EC2 holds. Calls are idempotent: a
 * repeated launch or create returns what exists, a delete of what is gone succeeds. A launch that fails
 * after RunInstances terminates its instance again.
 */
import {
  CreateNetworkInterfaceCommand,
  DeleteNetworkInterfaceCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  ModifyNetworkInterfaceAttributeCommand,
  paginateDescribeInstances,
  paginateDescribeNetworkInterfaces,
  RunInstancesCommand,
  StartInstancesCommand,
  TerminateInstancesCommand,
  type _InstanceType,
  type EC2Client,
  type Filter,
  type Instance,
  type NetworkInterface,
} from '@aws-sdk/client-ec2';
import type { AgentlessConfig, Flavor } from '../model/agentless-config.js';
import {
  hyperswitchHostName,
  type HyperswitchOwner,
  type NetSpec,
  type ProviderDriver,
  type ProviderHyperswitch,
  type ProviderNetworkInterface,
  type ProviderOptions,
} from '../model/provider.js';
import { CustomRoutes } from './custom-route.js';
import { isEc2Error, makeEc2Client } from './ec2-client.js';
import { filterOf, HS_TAGS, hyperswitchOf, nicOf, PORT_TAGS, toTags } from './tags.js';

type HsFilter = NonNullable<Parameters<ProviderDriver['getHyperswitchs']>[0]>;
type NicArgs = Parameters<ProviderDriver['createNetworkInterface']>[0];
type NicFilter = NonNullable<Parameters<ProviderDriver['getNetworkInterfaces']>[0]>;

/** Instance states in which a hyperswitch still exists (terminated ones stay listed for a while). */
const LIVE = ['pending', 'running', 'stopping', 'stopped'];

export interface AwsProviderOptions extends ProviderOptions {
  /** A client to use instead of one made from the config (tests: a short retry budget). */
  client?: EC2Client;
}

export class AwsProvider implements ProviderDriver {
  readonly ec2: EC2Client;

  constructor(private readonly o: AwsProviderOptions) {
    this.ec2 = o.client ?? makeEc2Client(o.config);
  }

  /** The custom-route calls on this cloud's VPC (one object: its client is this driver's). */
  customRoutes(): CustomRoutes {
    if (!this.c.aws_vpc) throw new Error('aws provider: aws_vpc is not configured');
    this.cr ??= new CustomRoutes(this.ec2, this.c.aws_vpc);
    return this.cr;
  }

  private cr?: CustomRoutes;

  private get c(): AgentlessConfig {
    return this.o.config;
  }

  private get vpcFilter(): Filter[] {
    if (!this.c.aws_vpc) throw new Error('aws provider: aws_vpc is not configured');
    return [{ Name: 'vpc-id', Values: [this.c.aws_vpc] }];
  }

  async getSgs(): Promise<{ hs_sg: string | null; vm_sg: string | null }> {
    const ids = await this.groupIds([this.c.hs_sg_name, this.c.vm_sg_name]);
    return { hs_sg: ids.get(this.c.hs_sg_name) ?? null, vm_sg: ids.get(this.c.vm_sg_name) ?? null };
  }

  /** Security group ids by name in the VPC (names absent from the VPC are left out). */
  private async groupIds(names: string[]): Promise<Map<string, string>> {
    const r = await this.ec2.send(
      new DescribeSecurityGroupsCommand({ Filters: [...this.vpcFilter, { Name: 'group-name', Values: names }] }),
    );
    return new Map((r.SecurityGroups ?? []).map((g) => [g.GroupName ?? '', g.GroupId ?? '']));
  }

  /** A security group given by id or by name → its id. */
  private async groupId(idOrName: string): Promise<string> {
    if (/^sg-[0-9a-f]+$/.test(idOrName)) return idOrName;
    const id = (await this.groupIds([idOrName])).get(idOrName);
    if (!id) throw new Error(`aws provider: no security group '${idOrName}' in ${this.c.aws_vpc}`);
    return id;
  }

  async getVmsSubnet(): Promise<string[]> {
    const r = await this.ec2.send(
      new DescribeSubnetsCommand({ Filters: [...this.vpcFilter, { Name: 'cidr-block', Values: this.c.vms_cidr }] }),
    );
    const byCidr = new Map((r.Subnets ?? []).map((s) => [s.CidrBlock ?? '', s.SubnetId ?? '']));
    return this.c.vms_cidr.map((cidr) => {
      const id = byCidr.get(cidr);
      if (!id) throw new Error(`aws provider: no subnet ${cidr} in ${this.c.aws_vpc}`);
      return id;
    });
  }

  getHyperswitchHostName(owner: HyperswitchOwner): string {
    return hyperswitchHostName(this.c.cloud, owner);
  }

  private async instances(filters: Filter[]): Promise<Instance[]> {
    const out: Instance[] = [];
    for await (const page of paginateDescribeInstances({ client: this.ec2 }, { Filters: filters }))
      for (const r of page.Reservations ?? []) out.push(...(r.Instances ?? []));
    return out;
  }

  /** The live instances of hyperswitches matching `filters` (besides the VPC and the tag). */
  private liveHyperswitches(filters: Filter[]): Promise<Instance[]> {
    return this.instances([
      ...this.vpcFilter,
      { Name: 'tag-key', Values: [HS_TAGS.id] },
      { Name: 'instance-state-name', Values: LIVE },
      ...filters,
    ]);
  }

  async launchHyperswitch(
    args: { user_data: string; flavor: Flavor; net_list: NetSpec[] } & HyperswitchOwner,
  ): Promise<ProviderHyperswitch> {
    const id = this.getHyperswitchHostName(args);
    const [existing] = await this.liveHyperswitches(filterOf(`tag:${HS_TAGS.id}`, [id]));
    if (existing) return hyperswitchOf(existing)!;
    if (!this.c.aws_hs_image_id) throw new Error('aws provider: aws_hs_image_id is not configured');
    const tags = toTags({
      Name: id,
      [HS_TAGS.id]: id,
      [HS_TAGS.flavor]: args.flavor,
      ...(args.hybrid_cloud_device_id ? { [HS_TAGS.device]: args.hybrid_cloud_device_id } : {}),
      ...(args.hybrid_cloud_tenant_id ? { [HS_TAGS.tenant]: args.hybrid_cloud_tenant_id } : {}),
    });
    const nics = await Promise.all(
      args.net_list.map(async (n, i) => {
        if (!n.network) throw new Error(`aws provider: no subnet for the hyperswitch NIC ${i}`);
        return {
          DeviceIndex: i,
          SubnetId: n.network,
          Groups: n.security_group ? [await this.groupId(n.security_group)] : undefined,
          PrivateIpAddress: n.ip,
          DeleteOnTermination: true,
        };
      }),
    );
    // The SDK fills ClientToken once per call, so its own retries cannot launch twice.
    const run = await this.ec2.send(
      new RunInstancesCommand({
        ImageId: this.c.aws_hs_image_id,
        InstanceType: this.c.aws_hs_flavor_map[args.flavor] as _InstanceType,
        MinCount: 1,
        MaxCount: 1,
        UserData: Buffer.from(args.user_data).toString('base64'),
        NetworkInterfaces: nics,
        TagSpecifications: [
          { ResourceType: 'instance', Tags: tags },
          { ResourceType: 'network-interface', Tags: toTags({ [HS_TAGS.id]: id }) },
        ],
      }),
    );
    const inst = run.Instances?.[0];
    if (!inst?.InstanceId) throw new Error('aws provider: RunInstances returned no instance');
    try {
      // A hyperswitch routes for others (custom-route mode): EC2 must let it send and receive packets
      // that are not addressed to its own interfaces.
      for (const n of inst.NetworkInterfaces ?? [])
        await this.ec2.send(
          new ModifyNetworkInterfaceAttributeCommand({
            NetworkInterfaceId: n.NetworkInterfaceId,
            SourceDestCheck: { Value: false },
          }),
        );
      const [now] = await this.instances([{ Name: 'instance-id', Values: [inst.InstanceId] }]);
      const hs = now && hyperswitchOf(now);
      if (!hs) throw new Error(`aws provider: instance ${inst.InstanceId} vanished after launch`);
      this.o.log.info({ id, instance: inst.InstanceId }, 'aws hyperswitch launched');
      return hs;
    } catch (e) {
      this.o.log.warn({ id, instance: inst.InstanceId, err: e }, 'aws hyperswitch launch failed: terminating');
      await this.ec2
        .send(new TerminateInstancesCommand({ InstanceIds: [inst.InstanceId] }))
        .catch((t: unknown) => this.o.log.error({ err: t, instance: inst.InstanceId }, 'terminate failed'));
      throw e;
    }
  }

  async getHyperswitchs(filter: HsFilter = {}): Promise<ProviderHyperswitch[]> {
    const found = await this.liveHyperswitches([
      ...filterOf(`tag:${HS_TAGS.id}`, filter.names),
      ...filterOf(`tag:${HS_TAGS.id}`, filter.hyperswitch_ids),
      ...filterOf(`tag:${HS_TAGS.device}`, filter.device_ids),
      ...filterOf(`tag:${HS_TAGS.tenant}`, filter.tenant_ids),
    ]);
    return found.map(hyperswitchOf).filter((h): h is ProviderHyperswitch => !!h);
  }

  async startHyperswitchs(hyperswitchs: ProviderHyperswitch[]): Promise<void> {
    const stopped = hyperswitchs.filter((h) => h.state === 'stopped').map((h) => h.instance_id);
    if (stopped.length) await this.ec2.send(new StartInstancesCommand({ InstanceIds: stopped }));
  }

  async deleteHyperswitch(hyperswitch_id: string): Promise<void> {
    const found = await this.liveHyperswitches(filterOf(`tag:${HS_TAGS.id}`, [hyperswitch_id]));
    const ids = found.map((i) => i.InstanceId ?? '').filter(Boolean);
    if (!ids.length) return;
    await this.ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }));
    this.o.log.info({ id: hyperswitch_id, instances: ids }, 'aws hyperswitch terminated');
  }

  private async interfaces(filters: Filter[]): Promise<NetworkInterface[]> {
    const out: NetworkInterface[] = [];
    const all = [...this.vpcFilter, { Name: 'tag-key', Values: [PORT_TAGS.port] }, ...filters];
    for await (const page of paginateDescribeNetworkInterfaces({ client: this.ec2 }, { Filters: all }))
      out.push(...(page.NetworkInterfaces ?? []));
    return out;
  }

  async createNetworkInterface(args: NicArgs): Promise<ProviderNetworkInterface> {
    const [existing] = await this.getNetworkInterfaces({ port_ids: [args.port_id], indexes: [args.index] });
    if (existing) return existing;
    const r = await this.ec2.send(
      new CreateNetworkInterfaceCommand({
        SubnetId: args.subnet,
        Groups: args.security_group ? [await this.groupId(args.security_group)] : undefined,
        Description: `hypernet agentless port ${args.port_id}`,
        TagSpecifications: [
          {
            ResourceType: 'network-interface',
            Tags: toTags({
              ...(args.tags ?? {}),
              [PORT_TAGS.port]: args.port_id,
              [PORT_TAGS.device]: args.device_id,
              [PORT_TAGS.tenant]: args.tenant_id,
              [PORT_TAGS.index]: String(args.index),
            }),
          },
        ],
      }),
    );
    const nic = r.NetworkInterface && nicOf(r.NetworkInterface);
    if (!nic) throw new Error('aws provider: CreateNetworkInterface returned no interface');
    return nic;
  }

  async getNetworkInterfaces(filter: NicFilter = {}): Promise<ProviderNetworkInterface[]> {
    const found = await this.interfaces([
      ...filterOf('network-interface-id', filter.names),
      ...filterOf(`tag:${PORT_TAGS.port}`, filter.port_ids),
      ...filterOf(`tag:${PORT_TAGS.device}`, filter.device_ids),
      ...filterOf('private-ip-address', filter.private_ips),
      ...filterOf(`tag:${PORT_TAGS.tenant}`, filter.tenant_ids),
      ...filterOf(`tag:${PORT_TAGS.index}`, filter.indexes),
    ]);
    return found.map(nicOf).filter((n): n is ProviderNetworkInterface => !!n);
  }

  async deleteNetworkInterface(id: string): Promise<void> {
    try {
      await this.ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: id }));
    } catch (e) {
      if (!isEc2Error(e, 'InvalidNetworkInterfaceID.NotFound')) throw e;
    }
  }
}
