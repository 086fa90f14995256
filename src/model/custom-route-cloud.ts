/**
 * What the server's custom-route controller (src/server/custom-route/) asks of a cloud, and what the
 * cloud reports back: the VPC's route tables, the ENIs it manages, and its two security groups. The
 * `aws` driver implements it on EC2 (src/aws/custom-route.ts); the server sees only this interface,
 * handed over by the provider driver (`ProviderDriver.customRoutes`).
 */

/** One ingress rule: a protocol (tcp, udp, icmp, -1 = all), ports, and one source (CIDR or group id). */
export interface IngressRule {
  protocol: string;
  from?: number;
  to?: number;
  cidr?: string;
  group?: string;
}

/** The tag the controller puts on every ENI it manages; its value is the ENI's role. */
export const CUSTOM_ROUTE_ENI_TAG = 'hypernet:custom_route';
export type CustomRouteEniRole = 'vm' | 'hyperswitch';

/** An ENI as EC2 reports it. */
export interface CrEni {
  id: string;
  subnetId: string;
  sourceDestCheck: boolean;
  groups: string[];
  /** The value of CUSTOM_ROUTE_ENI_TAG, when tagged. */
  role?: CustomRouteEniRole;
}

/** What the controller sees of a VPC: enough to diff against what it wants. */
export interface CrView {
  /** The VPC's main route table (subnets without an association of their own use it). */
  mainTable: string;
  /** Subnet → its explicitly associated route table. */
  tableOfSubnet: Record<string, string>;
  /** Table → destination CIDR → target ENI, for the routes whose target is an ENI. */
  routes: Record<string, Record<string, string>>;
  /** ENIs asked about or tagged as managed, by id. */
  enis: Record<string, CrEni>;
  /** The security groups asked about by name: id and ingress rules. */
  groups: Record<string, { id: string; rules: IngressRule[] }>;
}

export interface CustomRouteCloud {
  /** The route tables, the ENIs `eniIds` plus those tagged managed, and the groups `groupNames`. */
  describe(eniIds: readonly string[], groupNames: readonly string[]): Promise<CrView>;
  /** Only ENIs (a new port's VM ENI): absent ones are left out. */
  describeEnis(eniIds: readonly string[]): Promise<CrEni[]>;
  setRoute(table: string, cidr: string, eni: string): Promise<'created' | 'replaced'>;
  deleteRoute(table: string, cidr: string): Promise<void>;
  setSourceDestCheck(eni: string, enabled: boolean): Promise<void>;
  /** Makes the group exist with exactly `rules` as its ingress; returns its id. */
  ensureSecurityGroup(name: string, description: string, rules: IngressRule[]): Promise<string>;
  /** Replaces the ENI's security groups. */
  setGroups(eni: string, groups: readonly string[]): Promise<void>;
  /** Tags the ENI as managed with `role`, or removes the tag (undefined). */
  setRole(eni: string, role: CustomRouteEniRole | undefined): Promise<void>;
}

/** Canonical text of a rule: rules compare by it (the same on both sides of a diff). */
export const ruleKey = (r: IngressRule): string =>
  [
    r.protocol,
    r.protocol === '-1' ? '' : (r.from ?? -1),
    r.protocol === '-1' ? '' : (r.to ?? -1),
    r.cidr ?? '',
    r.group ?? '',
  ].join('|');
