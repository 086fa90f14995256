/**
 * Networks: VXLAN only, VNI allocated from the configured range, MTU = global_physnet_mtu − 50.
 * Visible to their project and, when shared or external (`router:external`), to everyone. Delete fails with NetworkInUse while
 * ports other than DHCP ports remain; DHCP ports and subnets go with the network.
 */
import { z } from 'zod';
import type { Network } from '../../model/types.js';
import { allocateVni } from '../ipam/allocate.js';
import { VNI_MAX } from '../../model/vxlan.js';
import { VXLAN_OVERHEAD } from '../config.js';
import { faults } from '../errors.js';
import {
  BASE_ATTRIBUTES,
  assignPresent,
  newBase,
  requireAdminFor,
  zCommon,
  zDescription,
  zName,
  zTags,
  type Ctx,
  type ResourceDef,
} from '../resource.js';
import { deletePortInTx } from './ports.js';
import { deleteSubnetInTx } from './subnets.js';
import { checkUnshare } from '../sharing.js';
import { checkExternalUpdate, zCloud } from '../l3/external-networks.js';
import { ENCRYPTION_POLICIES, NETWORK_ENCRYPTION, NETWORK_ENCRYPTION_EFFECTIVE } from '../../model/encryption.js';

const ADMIN_ONLY = [
  'provider:network_type',
  'provider:physical_network',
  'provider:segmentation_id',
  'router:external',
  'hypernet:cloud',
  // Encryption is the operator's call (docs/encryption.md): a tenant can neither weaken it nor
  // make other tenants' tunnels between the same nodes pay for it.
  NETWORK_ENCRYPTION,
];

/** The per-network override of the server's `encryption` (null: follow the server default). */
const zEncryption = z.enum(ENCRYPTION_POLICIES).nullable().optional();

const createSchema = z.strictObject({
  ...zCommon,
  admin_state_up: z.boolean().optional(),
  shared: z.boolean().optional(),
  mtu: z.number().int().min(68).optional(),
  port_security_enabled: z.boolean().optional(),
  'provider:network_type': z.literal('vxlan').optional(),
  'provider:physical_network': z.null().optional(),
  'provider:segmentation_id': z.number().int().min(1).max(VNI_MAX).optional(),
  'router:external': z.boolean().optional(),
  'hypernet:cloud': zCloud.optional(),
  availability_zone_hints: z.array(z.string()).optional(),
  [NETWORK_ENCRYPTION]: zEncryption,
});

const updateSchema = z.strictObject({
  name: zName.optional(),
  description: zDescription.optional(),
  tags: zTags.optional(),
  admin_state_up: z.boolean().optional(),
  shared: z.boolean().optional(),
  mtu: z.number().int().min(68).optional(),
  port_security_enabled: z.boolean().optional(),
  'router:external': z.boolean().optional(),
  'hypernet:cloud': zCloud.optional(),
  [NETWORK_ENCRYPTION]: zEncryption,
});

function maxMtu(ctx: Ctx): number {
  return ctx.config.globalPhysnetMtu - VXLAN_OVERHEAD;
}

function checkMtu(ctx: Ctx, mtu: number | undefined): void {
  if (mtu !== undefined && mtu > maxMtu(ctx)) {
    throw faults.invalidInput(`Requested MTU is too big, maximum is ${maxMtu(ctx)}`);
  }
}

export const networks: ResourceDef<'network', typeof createSchema, typeof updateSchema> = {
  kind: 'network',
  singular: 'network',
  plural: 'networks',
  path: 'networks',
  taggable: true,
  attributes: new Set([
    ...BASE_ATTRIBUTES,
    'admin_state_up',
    'status',
    'subnets',
    'shared',
    'mtu',
    'port_security_enabled',
    'provider:network_type',
    'provider:physical_network',
    'provider:segmentation_id',
    'router:external',
    'hypernet:cloud',
    'availability_zone_hints',
    'availability_zones',
    NETWORK_ENCRYPTION,
    NETWORK_ENCRYPTION_EFFECTIVE,
  ]),
  createSchema,
  updateSchema,

  async create(ctx, tx, body) {
    requireAdminFor(ctx, body, [...ADMIN_ONLY, 'shared'], 'create_network', {
      shared: false,
      'router:external': false,
    });
    checkMtu(ctx, body.mtu);
    const base = newBase(ctx, body);
    let vni: number;
    const wanted = body['provider:segmentation_id'];
    if (wanted !== undefined) {
      if (!(await tx.claimVni(wanted, base.id))) {
        throw faults.conflict('TunnelIdInUse', `Unable to create the network. The tunnel ID ${wanted} is in use.`);
      }
      vni = wanted;
    } else {
      vni = await allocateVni(tx, ctx.config.vniRange, base.id);
    }
    const net: Network = {
      ...base,
      admin_state_up: body.admin_state_up ?? true,
      status: 'ACTIVE',
      subnets: [],
      shared: body.shared ?? false,
      mtu: body.mtu ?? maxMtu(ctx),
      port_security_enabled: body.port_security_enabled ?? true,
      'provider:network_type': 'vxlan',
      'provider:physical_network': null,
      'provider:segmentation_id': vni,
      'router:external': body['router:external'] ?? false,
      'hypernet:cloud': body['hypernet:cloud'] ?? '',
      availability_zone_hints: body.availability_zone_hints ?? [],
      availability_zones: [],
      [NETWORK_ENCRYPTION]: body[NETWORK_ENCRYPTION] ?? null,
    };
    await tx.put('network', net, 'create');
    return net;
  },

  async update(ctx, tx, current, body) {
    requireAdminFor(ctx, body, ['shared', 'router:external', 'hypernet:cloud', NETWORK_ENCRYPTION], 'update_network');
    if (body.shared === false && current.shared) await checkUnshare(tx, current);
    checkMtu(ctx, body.mtu);
    await checkExternalUpdate(tx, current, body);
    return assignPresent({ ...current }, body, [
      'router:external',
      'hypernet:cloud',
      'name',
      'description',
      'tags',
      'admin_state_up',
      'shared',
      'mtu',
      'port_security_enabled',
      NETWORK_ENCRYPTION,
    ]);
  },

  async remove(ctx, tx, current) {
    const ports = await tx.list('port', current.id);
    if (ports.some((p) => p.device_owner !== 'network:dhcp')) {
      throw faults.conflict(
        'NetworkInUse',
        `Unable to complete operation on network ${current.id}. There are one or more ports still in use ` +
          `on the network.`,
      );
    }
    for (const p of ports) await deletePortInTx(tx, p);
    for (const s of await tx.list('subnet', current.id)) await deleteSubnetInTx(ctx, tx, s, false);
    await tx.releaseVni(current.id);
    const latest = (await tx.get('network', current.id)) ?? current;
    await tx.remove('network', latest);
  },

  async visibility(ctx) {
    return (n) => ctx.caller.isAdmin || n.project_id === ctx.caller.projectId || n.shared || n['router:external'];
  },

  // The policy the agents follow, so they need not know the server's config (networks stored before
  // the attribute existed have none: the default).
  present(ctx, n) {
    const own = n[NETWORK_ENCRYPTION] ?? null;
    return { ...n, [NETWORK_ENCRYPTION]: own, [NETWORK_ENCRYPTION_EFFECTIVE]: own ?? ctx.config.encryption };
  },
};
