/**
 * What the lab's EC2 endpoint holds: one account's VPCs, subnets, route tables, network interfaces,
 * security groups and instances with their tags, in memory. The kernel side is behind `Ec2Dataplane`,
 * so the lab can back a route table with a VPC router namespace and an interface's source/dest check
 * with nftables, while tests of the API alone use the no-op one.
 */
import { randomBytes } from 'node:crypto';

export type Tags = Record<string, string>;

export interface Vpc {
  vpcId: string;
  cidrBlock: string;
  tags: Tags;
}

export interface Subnet {
  subnetId: string;
  vpcId: string;
  cidrBlock: string;
  availabilityZone: string;
  tags: Tags;
}

export interface Route {
  destinationCidrBlock: string;
  gatewayId?: string;
  networkInterfaceId?: string;
  instanceId?: string;
  origin: 'CreateRouteTable' | 'CreateRoute';
}

export interface RouteTable {
  routeTableId: string;
  vpcId: string;
  routes: Route[];
  associations: { id: string; subnetId?: string; main: boolean }[];
  tags: Tags;
}

export interface Attachment {
  attachmentId: string;
  instanceId: string;
  deviceIndex: number;
  deleteOnTermination: boolean;
}

export interface NetworkInterface {
  networkInterfaceId: string;
  subnetId: string;
  vpcId: string;
  privateIpAddress: string;
  macAddress: string;
  description: string;
  groups: string[];
  sourceDestCheck: boolean;
  attachment?: Attachment;
  tags: Tags;
}

/** One rule of a security group: a protocol and port range from CIDRs and/or other groups. */
export interface Permission {
  ipProtocol: string;
  fromPort?: number;
  toPort?: number;
  cidrs: string[];
  groupIds: string[];
}

export interface SecurityGroup {
  groupId: string;
  groupName: string;
  description: string;
  vpcId: string;
  ingress: Permission[];
  egress: Permission[];
  tags: Tags;
}

export const INSTANCE_STATES = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
} as const;
export type InstanceState = keyof typeof INSTANCE_STATES;

export interface Instance {
  instanceId: string;
  imageId: string;
  instanceType: string;
  state: InstanceState;
  subnetId: string;
  vpcId: string;
  /** Base64, as given. */
  userData: string;
  clientToken: string;
  launchTime: string;
  tags: Tags;
}

/** Where the endpoint's changes reach the kernel (the lab's VPC router namespace, nft). */
export interface Ec2Dataplane {
  /** A route of `table` now points at `route` (null: deleted). */
  routeChanged(table: RouteTable, cidr: string, route: Route | null, eni: NetworkInterface | undefined): Promise<void>;
  sourceDestCheckChanged(eni: NetworkInterface): Promise<void>;
  /** A group's rules or an interface's groups changed: the ingress filters are rewritten from `state`. */
  securityGroupsChanged?(state: Ec2State): Promise<void>;
}

export const NO_DATAPLANE: Ec2Dataplane = {
  routeChanged: async () => {},
  sourceDestCheckChanged: async () => {},
};

/** EC2-shaped ids: a prefix and 17 hex digits. */
export const newId = (prefix: string): string => `${prefix}-${randomBytes(9).toString('hex').slice(0, 17)}`;

export class Ec2State {
  readonly ownerId = '123456789012';
  readonly vpcs = new Map<string, Vpc>();
  readonly subnets = new Map<string, Subnet>();
  readonly routeTables = new Map<string, RouteTable>();
  readonly interfaces = new Map<string, NetworkInterface>();
  readonly groups = new Map<string, SecurityGroup>();
  readonly instances = new Map<string, Instance>();
  /** AMIs RunInstances accepts. */
  readonly images = new Set<string>();
  /** ClientToken → (action and parameters, the response body) for idempotent retries. */
  readonly tokens = new Map<string, { fingerprint: string; body: unknown }>();

  constructor(readonly dataplane: Ec2Dataplane = NO_DATAPLANE) {}

  /** A VPC with its main route table (local route) and default security group, as EC2 makes them. */
  addVpc(cidrBlock: string, vpcId = newId('vpc')): Vpc {
    const vpc: Vpc = { vpcId, cidrBlock, tags: {} };
    this.vpcs.set(vpcId, vpc);
    const rtb: RouteTable = {
      routeTableId: newId('rtb'),
      vpcId,
      routes: [{ destinationCidrBlock: cidrBlock, gatewayId: 'local', origin: 'CreateRouteTable' }],
      associations: [{ id: newId('rtbassoc'), main: true }],
      tags: {},
    };
    this.routeTables.set(rtb.routeTableId, rtb);
    const sg: SecurityGroup = {
      groupId: newId('sg'),
      groupName: 'default',
      description: 'default VPC security group',
      vpcId,
      ingress: [],
      egress: [{ ipProtocol: '-1', cidrs: ['0.0.0.0/0'], groupIds: [] }],
      tags: {},
    };
    sg.ingress.push({ ipProtocol: '-1', cidrs: [], groupIds: [sg.groupId] });
    this.groups.set(sg.groupId, sg);
    return vpc;
  }

  addSubnet(vpcId: string, cidrBlock: string, subnetId = newId('subnet')): Subnet {
    const s: Subnet = { subnetId, vpcId, cidrBlock, availabilityZone: 'lab-1a', tags: {} };
    this.subnets.set(subnetId, s);
    return s;
  }

  /** The route table a subnet uses: its explicit association, else its VPC's main table. */
  routeTableOf(subnet: Subnet): RouteTable | undefined {
    const tables = [...this.routeTables.values()].filter((t) => t.vpcId === subnet.vpcId);
    return (
      tables.find((t) => t.associations.some((a) => a.subnetId === subnet.subnetId)) ??
      tables.find((t) => t.associations.some((a) => a.main))
    );
  }

  /** Resource type of an id, by its prefix (for tags). */
  static resourceType(id: string): string | undefined {
    const types: Record<string, string> = {
      vpc: 'vpc',
      subnet: 'subnet',
      rtb: 'route-table',
      eni: 'network-interface',
      sg: 'security-group',
      i: 'instance',
    };
    return types[id.slice(0, id.indexOf('-'))];
  }

  /** The tags of any resource by id (undefined: no such resource). */
  tagsOf(id: string): Tags | undefined {
    for (const m of [this.vpcs, this.subnets, this.routeTables, this.interfaces, this.groups, this.instances]) {
      const r = (m as Map<string, { tags: Tags }>).get(id);
      if (r) return r.tags;
    }
    return undefined;
  }
}
