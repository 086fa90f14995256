/**
 * Subnets: CIDR, gateway and allocation pools validated by the pure IPAM (ipam/cidr.ts); the
 * network's `subnets` list follows creates and deletes. Delete fails with SubnetInUse while a
 * port other than a DHCP port holds an address of it.
 */
import { z } from 'zod';
import type { HostRoute, Network, Subnet } from '../../model/types.js';
import { unusableSubnet } from '../../model/grammar/addresses.js';
import type { WriteTx } from '../store/store.js';
import {
  canonicalIp,
  cidrContains,
  defaultGateway,
  defaultPools,
  ipVersion,
  isIp,
  parseCidr,
  validatePools,
  type Cidr,
} from '../ipam/cidr.js';
import { ipToBigInt } from '../ipam/keys.js';
import { neutronTime } from '../../common/clock.js';
import { faults } from '../errors.js';
import {
  BASE_ATTRIBUTES,
  assignPresent,
  mustGet,
  newBase,
  zCommon,
  zDescription,
  zId,
  zIntLike,
  zName,
  zTags,
  type Ctx,
  type ResourceDef,
} from '../resource.js';
import { subnetCidr } from './subnet-allocation.js';
import { zPrefixLen } from './subnetpools.js';

const zPool = z.strictObject({ start: z.string(), end: z.string() });
const zRoute = z.strictObject({ destination: z.string(), nexthop: z.string() });
const zV6Mode = z.enum(['slaac', 'dhcpv6-stateful', 'dhcpv6-stateless']).nullable().optional();

const createSchema = z.strictObject({
  ...zCommon,
  network_id: zId,
  cidr: z.string().optional(),
  ip_version: zIntLike.pipe(z.union([z.literal(4), z.literal(6)])).optional(),
  gateway_ip: z.string().nullable().optional(),
  allocation_pools: z.array(zPool).optional(),
  enable_dhcp: z.boolean().optional(),
  dns_nameservers: z.array(z.string()).optional(),
  host_routes: z.array(zRoute).optional(),
  ipv6_ra_mode: zV6Mode,
  ipv6_address_mode: zV6Mode,
  subnetpool_id: zId.nullable().optional(),
  prefixlen: zPrefixLen.optional(),
  use_default_subnetpool: z.boolean().optional(),
});

const updateSchema = z.strictObject({
  name: zName.optional(),
  description: zDescription.optional(),
  tags: zTags.optional(),
  gateway_ip: z.string().nullable().optional(),
  allocation_pools: z.array(zPool).optional(),
  enable_dhcp: z.boolean().optional(),
  dns_nameservers: z.array(z.string()).optional(),
  host_routes: z.array(zRoute).optional(),
});

/** Neutron's InvalidInput when an address attribute is not of the subnet's IP version. */
function checkVersion(c: Cidr, what: string, ip: string): void {
  if (!isIp(ip)) throw faults.invalidInput(`'${ip}' is not a valid IP address`);
  if (ipVersion(ip) !== c.version)
    throw faults.invalidInput(`${what} '${ip}' does not match the ip_version '${c.version}'`);
}

function checkGateway(c: Cidr, gw: string | null): string | null {
  if (gw === null) return null;
  checkVersion(c, 'gateway_ip', gw);
  if (!cidrContains(c, gw)) throw faults.invalidInput(`Gateway IP ${gw} is not a valid IP address of subnet ${c.text}`);
  const n = ipToBigInt(gw);
  if (n === c.network || (c.version === 4 && n === c.last))
    throw faults.invalidInput(`Gateway is not valid on subnet ${c.text}`);
  return canonicalIp(gw);
}

function checkDns(c: Cidr, list: string[]): string[] {
  const out = list.map((d) => {
    checkVersion(c, 'dns_nameserver', d);
    return canonicalIp(d);
  });
  if (new Set(out).size !== out.length) throw faults.invalidInput('Duplicate nameserver');
  return out;
}

function checkRoutes(c: Cidr, routes: HostRoute[]): HostRoute[] {
  return routes.map((r) => {
    const d = parseCidr(r.destination);
    if (d.version !== c.version)
      throw faults.invalidInput(`destination '${r.destination}' does not match the ip_version '${c.version}'`);
    checkVersion(c, 'nexthop', r.nexthop);
    return { destination: d.text, nexthop: canonicalIp(r.nexthop) };
  });
}

/**
 * A subnet CIDR must leave room for a gateway and a port (Neutron's limit for DHCP, applied to every
 * subnet: smaller ones gave pools outside the CIDR or none, and an IPv6 subnet without a free
 * address fails every port create on its network), and may not be a default route, multicast or
 * loopback range.
 */
function checkSubnetCidr(c: Cidr, dhcp: boolean): void {
  const why = unusableSubnet(c);
  if (why) throw faults.invalidInput(why);
  if (c.prefix > (c.version === 4 ? 30 : 126)) {
    throw faults.invalidInput(
      dhcp
        ? 'Subnet has a prefix length that is incompatible with DHCP service enabled'
        : `Subnet ${c.text} is too small: it needs room for a gateway and a port`,
    );
  }
}

/** Adds or removes a subnet id in its network's `subnets` (a network update change). */
async function linkToNetwork(ctx: Ctx, tx: WriteTx, networkId: string, subnetId: string, add: boolean): Promise<void> {
  const net = await tx.get('network', networkId);
  if (!net) return;
  const subnets = add ? [...net.subnets, subnetId] : net.subnets.filter((s) => s !== subnetId);
  const updated: Network = {
    ...net,
    subnets,
    revision_number: net.revision_number + 1,
    updated_at: neutronTime(ctx.nowMs),
  };
  await tx.put('network', updated, 'update');
}

/** Deletes a subnet (SubnetInUse unless only DHCP ports hold addresses, which lose them). */
export async function deleteSubnetInTx(ctx: Ctx, tx: WriteTx, subnet: Subnet, updateNetwork: boolean): Promise<void> {
  const allocs = await tx.ipAllocations({ subnetId: subnet.id });
  for (const a of allocs) {
    const port = await tx.get('port', a.port_id);
    if (port && port.device_owner !== 'network:dhcp') {
      throw faults.conflict(
        'SubnetInUse',
        `Unable to complete operation on subnet ${subnet.id}: One or more ports have an IP allocation ` +
          `from this subnet.`,
      );
    }
    await tx.releaseIp(subnet.id, a.ip_address);
    if (port) {
      const fixed_ips = port.fixed_ips.filter((f) => f.subnet_id !== subnet.id);
      await tx.put(
        'port',
        { ...port, fixed_ips, revision_number: port.revision_number + 1, updated_at: neutronTime(ctx.nowMs) },
        'update',
        port.network_id,
      );
    }
  }
  if (updateNetwork) await linkToNetwork(ctx, tx, subnet.network_id, subnet.id, false);
  await tx.remove('subnet', subnet);
}

export const subnets: ResourceDef<'subnet', typeof createSchema, typeof updateSchema> = {
  kind: 'subnet',
  singular: 'subnet',
  plural: 'subnets',
  path: 'subnets',
  taggable: true,
  attributes: new Set([
    ...BASE_ATTRIBUTES,
    'network_id',
    'cidr',
    'ip_version',
    'gateway_ip',
    'allocation_pools',
    'enable_dhcp',
    'dns_nameservers',
    'host_routes',
    'ipv6_ra_mode',
    'ipv6_address_mode',
    'subnetpool_id',
  ]),
  createSchema,
  updateSchema,
  parentOf: (s) => s.network_id,

  async create(ctx, tx, body) {
    const net = await mustGet(
      tx,
      'network',
      body.network_id,
      (n) => ctx.caller.isAdmin || n.project_id === ctx.caller.projectId || n.shared,
    );
    if (!ctx.caller.isAdmin && net.project_id !== ctx.caller.projectId) {
      throw faults.forbidden('(rule:create_subnet) is disallowed by policy');
    }
    const base = newBase(ctx, body);
    const { cidr: c, poolId } = await subnetCidr(ctx, tx, net, body, base.project_id);
    if (body.ip_version !== undefined && body.ip_version !== c.version) {
      throw faults.invalidInput(`Cidr ${c.text} does not match ip_version ${body.ip_version}`);
    }
    checkSubnetCidr(c, body.enable_dhcp ?? true);
    for (const other of await tx.list('subnet', net.id)) {
      const o = parseCidr(other.cidr);
      if (o.version === c.version && o.network <= c.last && c.network <= o.last) {
        throw faults.invalidInput(
          `Requested subnet with cidr: ${c.text} for network: ${net.id} overlaps with another subnet`,
        );
      }
    }
    const gateway = body.gateway_ip === undefined ? defaultGateway(c) : checkGateway(c, body.gateway_ip);
    const pools =
      body.allocation_pools === undefined ? defaultPools(c, gateway) : validatePools(c, body.allocation_pools, gateway);
    if (base.project_id !== net.project_id && !ctx.caller.isAdmin)
      throw faults.forbidden('(rule:create_subnet) is disallowed by policy');
    const subnet: Subnet = {
      ...base,
      network_id: net.id,
      cidr: c.text,
      ip_version: c.version,
      gateway_ip: gateway,
      allocation_pools: pools,
      enable_dhcp: body.enable_dhcp ?? true,
      dns_nameservers: checkDns(c, body.dns_nameservers ?? []),
      host_routes: checkRoutes(c, body.host_routes ?? []),
      ipv6_ra_mode: c.version === 6 ? (body.ipv6_ra_mode ?? null) : null,
      ipv6_address_mode: c.version === 6 ? (body.ipv6_address_mode ?? null) : null,
      subnetpool_id: poolId,
    };
    await tx.put('subnet', subnet, 'create', net.id);
    await linkToNetwork(ctx, tx, net.id, subnet.id, true);
    return subnet;
  },

  async update(_ctx, tx, current, body) {
    const c = parseCidr(current.cidr);
    const next = assignPresent({ ...current }, body, ['name', 'description', 'tags', 'enable_dhcp']);
    if (body.dns_nameservers !== undefined) next.dns_nameservers = checkDns(c, body.dns_nameservers);
    if (body.host_routes !== undefined) next.host_routes = checkRoutes(c, body.host_routes);
    if (body.gateway_ip !== undefined) {
      next.gateway_ip = checkGateway(c, body.gateway_ip);
      const holders =
        next.gateway_ip === null
          ? []
          : (await tx.ipAllocations({ subnetId: current.id })).filter((a) => a.ip_address === next.gateway_ip);
      if (holders.length > 0)
        throw faults.conflict(
          'GatewayIpInUse',
          `Gateway ip ${next.gateway_ip} is in use by port ${holders[0].port_id}.`,
        );
    }
    if (body.allocation_pools !== undefined || body.gateway_ip !== undefined) {
      next.allocation_pools = validatePools(c, body.allocation_pools ?? current.allocation_pools, next.gateway_ip);
    }
    return next;
  },

  async remove(ctx, tx, current) {
    await deleteSubnetInTx(ctx, tx, current, true);
  },

  // Neutron filters subnets on their network's `shared` without showing it.
  async hiddenFilters(_ctx, tx) {
    const shared = new Set((await tx.list('network')).filter((n) => n.shared).map((n) => n.id));
    return { shared: (s) => shared.has(s.network_id) };
  },

  async visibility(ctx, tx) {
    if (ctx.caller.isAdmin) return () => true;
    // Subnets of shared networks are everyone's to see. An external network is, but not its subnets:
    // Neutron's get_subnet policy is owner or shared network (floating IPs and gateways need none).
    const shared = new Set((await tx.list('network')).filter((n) => n.shared).map((n) => n.id));
    return (s) => s.project_id === ctx.caller.projectId || shared.has(s.network_id);
  },
};
