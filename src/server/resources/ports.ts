/**
 * Ports: MAC unique per network, fixed IPs allocated by IPAM (next free or requested), security
 * groups defaulting to the project's default group, port security rules as in Neutron. Ports start
 * DOWN and `unbound`; only admins (the agent) set `status` and the `binding:*` attributes.
 */
import { z } from 'zod';
import type { FixedIp, Network, Port, Subnet } from '../../model/types.js';
import type { WriteTx } from '../store/store.js';
import { allocateMac, allocateNextIp, allocateSpecificIp } from '../ipam/allocate.js';
import { canonicalIp, cidrContains, isIp, parseCidr } from '../ipam/cidr.js';
import { canonicalIpOrCidr } from '../../model/grammar/addresses.js';
import { canonicalMac } from '../ipam/mac.js';
import { faults } from '../errors.js';
import {
  BASE_ATTRIBUTES,
  assignPresent,
  mustGet,
  newBase,
  zCommon,
  zDescription,
  zId,
  zName,
  zHost,
  zTags,
  type Ctx,
  type ResourceDef,
} from '../resource.js';
import { ensureDefaultSecurityGroup } from './security-groups.js';
import { enforcePortPolicy } from '../policy.js';
import { checkPortArrays } from '../limits.js';
import { afterPortUpdate, beforePortDelete, checkPortWrite } from '../l3/port-hooks.js';
import { checkCustomRouteProfile, withCustomRouteUserData } from '../bindings/custom-route.js';

const zFixedIp = z.strictObject({ subnet_id: zId.optional(), ip_address: z.string().optional() });
const zPair = z.strictObject({ ip_address: z.string(), mac_address: z.string().optional() });
const zStatus = z.enum(['ACTIVE', 'DOWN', 'BUILD', 'ERROR']);

const mutable = {
  name: zName.optional(),
  description: zDescription.optional(),
  tags: zTags.optional(),
  admin_state_up: z.boolean().optional(),
  mac_address: z.string().optional(),
  fixed_ips: z.array(zFixedIp).optional(),
  allowed_address_pairs: z.array(zPair).optional(),
  port_security_enabled: z.boolean().optional(),
  security_groups: z.array(zId).nullable().optional(),
  device_id: z.string().max(255).optional(),
  device_owner: z.string().max(255).optional(),
  status: zStatus.optional(),
  'binding:host_id': z.union([z.literal(''), zHost]).optional(),
  'binding:profile': z.record(z.string(), z.unknown()).nullable().optional(),
  'binding:vif_type': z.string().max(255).optional(),
  'binding:vif_details': z.record(z.string(), z.unknown()).nullable().optional(),
  'binding:vnic_type': z
    .enum([
      'normal',
      'direct',
      'macvtap',
      'baremetal',
      'direct-physical',
      'virtio-forwarder',
      'smart-nic',
      'remote-managed',
    ])
    .optional(),
};
const createSchema = z.strictObject({ ...zCommon, network_id: zId, ...mutable });
const updateSchema = z.strictObject(mutable);

const networkVisible = (ctx: Ctx) => (n: Network) =>
  ctx.caller.isAdmin || n.project_id === ctx.caller.projectId || n.shared;

/** Releases a port's addresses and MAC, then removes it. */
export async function deletePortInTx(tx: WriteTx, port: Port): Promise<void> {
  for (const f of port.fixed_ips) await tx.releaseIp(f.subnet_id, f.ip_address);
  await tx.releaseMac(port.network_id, port.mac_address);
  await tx.remove('port', port);
}

/** Claims addresses for `wanted` (or, when undefined, the automatic choice); keeps what the port already holds. */
async function claimFixedIps(
  ctx: Ctx,
  tx: WriteTx,
  net: Network,
  portId: string,
  wanted: { subnet_id?: string; ip_address?: string }[] | undefined,
  held: FixedIp[],
  isRouter: boolean,
): Promise<FixedIp[]> {
  const subnets = await tx.list('subnet', net.id);
  const byId = new Map(subnets.map((s) => [s.id, s]));
  const out: FixedIp[] = [];
  if (wanted === undefined) {
    const v4 = subnets.filter((s) => s.ip_version === 4);
    if (v4.length > 0) {
      let got: FixedIp | undefined;
      for (const s of v4) {
        const ip = await allocateNextIp(tx, s, portId);
        if (ip) {
          got = { subnet_id: s.id, ip_address: ip };
          break;
        }
      }
      if (!got)
        throw faults.conflict('IpAddressGenerationFailure', `No more IP addresses available on network ${net.id}.`);
      out.push(got);
    }
    for (const s of subnets.filter((x) => x.ip_version === 6)) {
      const ip = await allocateNextIp(tx, s, portId);
      if (!ip)
        throw faults.conflict('IpAddressGenerationFailure', `No more IP addresses available on network ${net.id}.`);
      out.push({ subnet_id: s.id, ip_address: ip });
    }
    return out;
  }
  for (const w of wanted) {
    let subnet: Subnet | undefined;
    if (w.ip_address !== undefined && !isIp(w.ip_address))
      throw faults.invalidInput(`'${w.ip_address}' is not a valid IP address`);
    const ip = w.ip_address === undefined ? undefined : canonicalIp(w.ip_address);
    if (w.subnet_id !== undefined) {
      subnet = byId.get(w.subnet_id);
      if (!subnet) {
        if (await tx.get('subnet', w.subnet_id))
          throw faults.invalidInput(
            `Failed to create port on network ${net.id}, because fixed_ips included invalid subnet ${w.subnet_id}`,
          );
        throw faults.notFound('subnet', w.subnet_id);
      }
    } else if (ip !== undefined) {
      subnet = subnets.find((s) => s.ip_version === (ip.includes(':') ? 6 : 4) && cidrContains(parseCidr(s.cidr), ip));
      if (!subnet)
        throw faults.invalidInput(`IP address ${ip} is not a valid IP for any of the subnets on the specified network`);
    } else {
      throw faults.invalidInput('Exceeded maximum amount of fixed ips per port or missing subnet_id/ip_address');
    }
    // The same subnet may be named again without an address: the port gets one more address of it.
    if (ip !== undefined && out.some((o) => o.subnet_id === subnet!.id && o.ip_address === ip)) {
      throw faults.invalidInput('Duplicate IP address in fixed_ips');
    }
    if (ip !== undefined) {
      if (held.some((h) => h.subnet_id === subnet!.id && h.ip_address === ip))
        out.push({ subnet_id: subnet.id, ip_address: ip });
      else {
        await allocateSpecificIp(tx, subnet, ip, portId, isRouter);
        out.push({ subnet_id: subnet.id, ip_address: ip });
      }
    } else {
      const keep = held.find((h) => h.subnet_id === subnet!.id && !out.some((o) => o.ip_address === h.ip_address));
      const got = keep?.ip_address ?? (await allocateNextIp(tx, subnet, portId));
      if (!got)
        throw faults.conflict('IpAddressGenerationFailure', `No more IP addresses available on network ${net.id}.`);
      out.push({ subnet_id: subnet.id, ip_address: got });
    }
  }
  return out;
}

/** The groups exist and are the port's project's; a group named twice is refused, as Neutron's uuid_list does. */
async function resolveSecurityGroups(ctx: Ctx, tx: WriteTx, projectId: string, ids: string[]): Promise<string[]> {
  const twice = ids.filter((id, i) => ids.indexOf(id) !== i);
  if (twice.length > 0)
    throw faults.badRequest(
      `Invalid input for security_groups. Reason: Duplicate items in the list: '${[...new Set(twice)].join(', ')}'.`,
      'HTTPBadRequest',
    );
  for (const id of ids)
    await mustGet(tx, 'security_group', id, (sg) => ctx.caller.isAdmin || sg.project_id === projectId);
  return ids;
}

function checkPairs(pairs: { ip_address: string; mac_address?: string }[]): Port['allowed_address_pairs'] {
  return pairs.map((p) => {
    let ip: string;
    try {
      ip = canonicalIpOrCidr(p.ip_address);
    } catch {
      throw faults.invalidInput(`'${p.ip_address}' is not a valid IP address or CIDR`);
    }
    return { ip_address: ip, mac_address: p.mac_address === undefined ? '' : canonicalMac(p.mac_address) };
  });
}

function checkPortSecurity(p: Port, creating: boolean): void {
  if (p.port_security_enabled) return;
  if (p.security_groups.length > 0) {
    if (creating) {
      throw faults.badRequest(
        'Port security must be enabled and port must have an IP address in order to use security groups.',
        'PortSecurityAndIPRequiredForSecurityGroups',
      );
    }
    throw faults.conflict(
      'PortSecurityPortHasSecurityGroup',
      'Port has security group associated. Cannot disable port security or ip address until security group is removed',
    );
  }
  if (p.allowed_address_pairs.length > 0) {
    throw faults.conflict(
      'AddressPairAndPortSecurityRequired',
      'Port Security must be enabled in order to have allowed address pairs on a port.',
    );
  }
}

export const ports: ResourceDef<'port', typeof createSchema, typeof updateSchema> = {
  kind: 'port',
  singular: 'port',
  plural: 'ports',
  path: 'ports',
  taggable: true,
  attributes: new Set([
    ...BASE_ATTRIBUTES,
    'network_id',
    'admin_state_up',
    'mac_address',
    'fixed_ips',
    'allowed_address_pairs',
    'port_security_enabled',
    'security_groups',
    'device_id',
    'device_owner',
    'status',
    'binding:host_id',
    'binding:profile',
    'binding:vif_type',
    'binding:vif_details',
    'binding:vnic_type',
    'binding:inactive',
  ]),
  createSchema,
  updateSchema,
  parentOf: (p) => p.network_id,

  async create(ctx, tx, body) {
    checkPortArrays(ctx.config, body);
    checkCustomRouteProfile(body['binding:profile']);
    const net = await mustGet(tx, 'network', body.network_id, networkVisible(ctx));
    enforcePortPolicy(ctx, 'create', body, net);
    await checkPortWrite(ctx, tx, body);
    const base = newBase(ctx, body);
    const deviceOwner = body.device_owner ?? '';
    const portSecurity = body.port_security_enabled ?? net.port_security_enabled;
    let sgs: string[];
    if (body.security_groups !== undefined && body.security_groups !== null) {
      sgs = await resolveSecurityGroups(ctx, tx, base.project_id, body.security_groups);
    } else if (portSecurity && !deviceOwner.startsWith('network:')) {
      sgs = [await ensureDefaultSecurityGroup(ctx, tx, base.project_id)];
    } else sgs = [];
    const mac = await allocateMac(
      tx,
      net.id,
      base.id,
      ctx.config.baseMac,
      body.mac_address === undefined ? undefined : canonicalMac(body.mac_address),
    );
    const fixed = await claimFixedIps(
      ctx,
      tx,
      net,
      base.id,
      body.fixed_ips,
      [],
      deviceOwner.startsWith('network:router'),
    );
    const port: Port = {
      ...base,
      network_id: net.id,
      admin_state_up: body.admin_state_up ?? true,
      mac_address: mac,
      fixed_ips: fixed,
      allowed_address_pairs: checkPairs(body.allowed_address_pairs ?? []),
      port_security_enabled: portSecurity,
      security_groups: sgs,
      device_id: body.device_id ?? '',
      device_owner: deviceOwner,
      status: body.status ?? 'DOWN',
      'binding:host_id': body['binding:host_id'] ?? '',
      'binding:profile': body['binding:profile'] ?? {},
      'binding:vif_type': body['binding:vif_type'] ?? 'unbound',
      'binding:vif_details': body['binding:vif_details'] ?? {},
      'binding:vnic_type': body['binding:vnic_type'] ?? 'normal',
      'binding:inactive': [],
    };
    checkPortSecurity(port, true);
    await withCustomRouteUserData(tx, port);
    await tx.put('port', port, 'create', net.id);
    return port;
  },

  async update(ctx, tx, current, body) {
    checkPortArrays(ctx.config, body);
    checkCustomRouteProfile(body['binding:profile']);
    const net = await mustGet(tx, 'network', current.network_id);
    enforcePortPolicy(ctx, 'update', body, net);
    await checkPortWrite(ctx, tx, body, current);
    const next = assignPresent({ ...current }, body, [
      'name',
      'description',
      'tags',
      'admin_state_up',
      'port_security_enabled',
      'device_id',
      'device_owner',
      'status',
      'binding:host_id',
      'binding:vif_type',
      'binding:vnic_type',
    ]);
    if (body['binding:profile'] !== undefined) next['binding:profile'] = body['binding:profile'] ?? {};
    if (body['binding:vif_details'] !== undefined) next['binding:vif_details'] = body['binding:vif_details'] ?? {};
    // A plain host change (cold move) takes over an inactive binding prepared for the new host.
    if (next['binding:host_id'] !== current['binding:host_id'] && current['binding:inactive']?.length) {
      next['binding:inactive'] = current['binding:inactive'].filter((b) => b.host !== next['binding:host_id']);
    }
    if (body.mac_address !== undefined) {
      const mac = canonicalMac(body.mac_address);
      if (mac !== current.mac_address) {
        next.mac_address = await allocateMac(tx, net.id, current.id, ctx.config.baseMac, mac);
        await tx.releaseMac(net.id, current.mac_address);
      }
    }
    if (body.security_groups !== undefined) {
      next.security_groups = await resolveSecurityGroups(ctx, tx, current.project_id, body.security_groups ?? []);
    }
    if (body.allowed_address_pairs !== undefined) next.allowed_address_pairs = checkPairs(body.allowed_address_pairs);
    if (body.fixed_ips !== undefined) {
      const wanted = body.fixed_ips;
      // Release first what is no longer wanted, so an address can move between entries.
      const fixed = await claimFixedIps(
        ctx,
        tx,
        net,
        current.id,
        wanted,
        current.fixed_ips,
        next.device_owner.startsWith('network:router'),
      );
      for (const h of current.fixed_ips) {
        if (!fixed.some((f) => f.subnet_id === h.subnet_id && f.ip_address === h.ip_address))
          await tx.releaseIp(h.subnet_id, h.ip_address);
      }
      next.fixed_ips = fixed;
    }
    checkPortSecurity(next, false);
    await withCustomRouteUserData(tx, next);
    await afterPortUpdate(ctx, tx, next);
    return next;
  },

  async remove(ctx, tx, current) {
    await beforePortDelete(ctx, tx, current);
    await deletePortInTx(tx, current);
  },

  async visibility(ctx, tx) {
    if (ctx.caller.isAdmin) return () => true;
    const ownNets = new Set(
      (await tx.list('network')).filter((n) => n.project_id === ctx.caller.projectId).map((n) => n.id),
    );
    return (p) => p.project_id === ctx.caller.projectId || ownNets.has(p.network_id);
  },
};
