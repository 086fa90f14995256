/**
 * hypernet's facts kept as EC2 tags, so a restarted server rebuilds its view from EC2 alone: which
 * instance is which hyperswitch (owner, flavor), which ENI is which agentless port. Pure mapping
 * between the SDK's shapes and the provider entities.
 */
import type { Filter, Instance, NetworkInterface, Tag } from '@aws-sdk/client-ec2';
import { FLAVORS, type Flavor } from '../model/agentless-config.js';
import type { ProviderHyperswitch, ProviderNetworkInterface } from '../model/provider.js';

export const HS_TAGS = {
  id: 'hypernet:hyperswitch_id',
  device: 'hypernet:device_id',
  tenant: 'hypernet:tenant_id',
  flavor: 'hypernet:flavor',
} as const;

export const PORT_TAGS = {
  port: 'hypernet:port_id',
  device: 'hypernet:device_id',
  tenant: 'hypernet:tenant_id',
  index: 'hypernet:index',
} as const;

export const toTags = (r: Record<string, string>): Tag[] => Object.entries(r).map(([Key, Value]) => ({ Key, Value }));

export const fromTags = (tags: Tag[] | undefined): Record<string, string> =>
  Object.fromEntries((tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));

/** An EC2 filter, or nothing for an absent list (EC2 ANDs filters; a filter's values are ORed). */
export const filterOf = (name: string, values: readonly (string | number)[] | undefined): Filter[] =>
  values ? [{ Name: name, Values: values.map(String) }] : [];

const ec2States: Record<string, string> = {
  pending: 'pending',
  running: 'running',
  stopping: 'stopped',
  stopped: 'stopped',
};

/** A hyperswitch from its instance: NICs by device index are mgnt, data, vms0…vms2. */
export function hyperswitchOf(i: Instance): ProviderHyperswitch | undefined {
  const t = fromTags(i.Tags);
  const id = t[HS_TAGS.id];
  if (!id) return undefined;
  const ips: (string | null)[] = [];
  for (const n of i.NetworkInterfaces ?? []) ips[n.Attachment?.DeviceIndex ?? 0] = n.PrivateIpAddress ?? null;
  const flavor = t[HS_TAGS.flavor] as Flavor;
  return {
    id,
    flavor: FLAVORS.includes(flavor) ? flavor : '1G',
    device_id: t[HS_TAGS.device] || null,
    tenant_id: t[HS_TAGS.tenant] || null,
    instance_id: i.InstanceId ?? '',
    instance_type: i.InstanceType ?? '',
    private_ip: i.PrivateIpAddress ?? ips[0] ?? '',
    mgnt_ip: ips[0] ?? '',
    data_ip: ips[1] ?? '',
    vms_ip_0: ips[2] ?? null,
    vms_ip_1: ips[3] ?? null,
    vms_ip_2: ips[4] ?? null,
    state: ec2States[i.State?.Name ?? ''] ?? i.State?.Name ?? 'unknown',
  };
}

/** An agentless port's NIC from its ENI (undefined: not one of ours). */
export function nicOf(n: NetworkInterface): ProviderNetworkInterface | undefined {
  const tags = fromTags(n.TagSet);
  const port = tags[PORT_TAGS.port];
  if (!port) return undefined;
  return {
    id: n.NetworkInterfaceId ?? '',
    port_id: port,
    device_id: tags[PORT_TAGS.device] ?? '',
    tenant_id: tags[PORT_TAGS.tenant] ?? '',
    index: Number(tags[PORT_TAGS.index] ?? 0),
    private_ip: n.PrivateIpAddress ?? '',
    mac_address: n.MacAddress ?? '',
    tags,
  };
}
