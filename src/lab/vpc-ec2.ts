/**
 * The real AWS SDK pointed at the lab's EC2 endpoint, loaded on first use: importing the SDK costs a
 * second or more, which every other `hypernet` command (and a lab without a vpc cloud) should not pay.
 */
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { VpcEndpointInfo } from './vpc-endpoint.js';

export type Ec2Sdk = typeof import('@aws-sdk/client-ec2');

/** The SDK module and a client with the endpoint's key. */
export async function vpcEc2(info: VpcEndpointInfo): Promise<{ sdk: Ec2Sdk; client: EC2Client }> {
  const sdk = await import('@aws-sdk/client-ec2');
  const client = new sdk.EC2Client({
    endpoint: info.url,
    region: info.region,
    credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey },
  });
  return { sdk, client };
}

/** One route of the VPC's main table as DescribeRouteTables answers it. */
export interface VpcRoute {
  destination: string;
  /** `local`, an ENI id, or another gateway id. */
  target: string;
  state: string;
}

/** An ENI as DescribeNetworkInterfaces answers it: its check and its security groups' names. */
export interface VpcEni {
  id: string;
  sourceDestCheck: boolean;
  groupNames: string[];
}

/** The routes of the VPC's main route table and, when asked, some ENIs, read through the SDK. */
export async function describeVpc(
  info: VpcEndpointInfo,
  eniIds: readonly string[] = [],
): Promise<{ routes: VpcRoute[]; enis: VpcEni[] }> {
  const { sdk, client } = await vpcEc2(info);
  try {
    const r = await client.send(new sdk.DescribeRouteTablesCommand({ RouteTableIds: [info.routeTableId] }));
    const routes = (r.RouteTables?.[0]?.Routes ?? []).map((x) => ({
      destination: x.DestinationCidrBlock ?? '?',
      target: x.NetworkInterfaceId ?? x.GatewayId ?? x.InstanceId ?? '?',
      state: x.State ?? '?',
    }));
    if (!eniIds.length) return { routes, enis: [] };
    const n = await client.send(new sdk.DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [...eniIds] }));
    const enis = (n.NetworkInterfaces ?? []).map((e) => ({
      id: e.NetworkInterfaceId ?? '?',
      sourceDestCheck: e.SourceDestCheck ?? true,
      groupNames: (e.Groups ?? []).map((g) => g.GroupName ?? '?'),
    }));
    return { routes, enis };
  } finally {
    client.destroy();
  }
}
