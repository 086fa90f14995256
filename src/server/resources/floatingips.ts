/**
 * Floating IPs: an address of an external network, held by a `network:floatingip` port of no
 * project (device_id = the floating IP), optionally associated with a port of the owner's
 * (l3/fip-association.ts). `floating_ip_address` is admin-only to choose, as Neutron's policy says;
 * `subnet_id` picks the external subnet. Deleting one releases its address; visible to its
 * project and admins.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { OWNER_FLOATINGIP } from '../../model/device-owners.js';
import type { FloatingIp } from '../../model/types.js';
import { neutronTime } from '../../common/clock.js';
import { owningProject } from '../auth.js';
import { faults } from '../errors.js';
import { ipVersion } from '../ipam/cidr.js';
import {
  assignPresent,
  BASE_ATTRIBUTES,
  ownedOrAdmin,
  requireAdminFor,
  zDescription,
  zId,
  zIp,
  zProject,
  zTags,
  type ResourceDef,
} from '../resource.js';
import { deletePortInTx } from './ports.js';
import { mustGetExternal } from '../l3/external-networks.js';
import { associate, UNASSOCIATED } from '../l3/fip-association.js';
import { createServicePort } from '../l3/service-ports.js';

const createSchema = z.strictObject({
  ...zProject,
  description: zDescription.optional(),
  tags: zTags.optional(),
  floating_network_id: zId,
  floating_ip_address: zIp.optional(),
  subnet_id: zId.optional(),
  port_id: zId.nullable().optional(),
  fixed_ip_address: zIp.nullable().optional(),
});

const updateSchema = z.strictObject({
  description: zDescription.optional(),
  tags: zTags.optional(),
  port_id: zId.nullable().optional(),
  fixed_ip_address: zIp.nullable().optional(),
});

function checkFixedWithoutPort(body: { port_id?: string | null; fixed_ip_address?: string | null }): void {
  if (body.fixed_ip_address != null && body.port_id == null) {
    throw faults.badRequest('Bad floatingip request: fixed_ip_address cannot be specified without a port_id.');
  }
}

export const floatingips: ResourceDef<'floatingip', typeof createSchema, typeof updateSchema> = {
  kind: 'floatingip',
  singular: 'floatingip',
  plural: 'floatingips',
  path: 'floatingips',
  taggable: true,
  attributes: new Set([
    ...BASE_ATTRIBUTES.filter((a) => a !== 'name'),
    'floating_ip_address',
    'floating_network_id',
    'router_id',
    'port_id',
    'fixed_ip_address',
    'status',
    'port_details',
  ]),
  createSchema,
  updateSchema,
  parentOf: (f) => f.floating_network_id,

  async create(ctx, tx, body) {
    requireAdminFor(ctx, body, ['floating_ip_address'], 'create_floatingip');
    checkFixedWithoutPort(body);
    const net = await mustGetExternal(tx, body.floating_network_id, 'floatingip');
    const id = randomUUID();
    const project = owningProject(ctx.caller, body);
    let fixedIps: { subnet_id?: string; ip_address?: string }[] | undefined;
    if (body.subnet_id !== undefined || body.floating_ip_address !== undefined)
      fixedIps = [{ subnet_id: body.subnet_id, ip_address: body.floating_ip_address }];
    const port = await createServicePort(ctx, tx, {
      networkId: net.id,
      projectId: '',
      deviceOwner: OWNER_FLOATINGIP,
      deviceId: id,
      fixedIps,
    });
    const v4 = port.fixed_ips.find((f) => ipVersion(f.ip_address) === 4);
    if (!v4) {
      throw faults.badRequest(
        `Unable to find any IP address on external network ${net.id}.`,
        'ExternalIpAddressExhausted',
      );
    }
    const now = neutronTime(ctx.nowMs);
    const fip: FloatingIp = {
      id,
      project_id: project,
      tenant_id: project,
      description: body.description ?? '',
      tags: [...new Set(body.tags ?? [])],
      floating_ip_address: v4.ip_address,
      floating_network_id: net.id,
      ...UNASSOCIATED,
      revision_number: 1,
      created_at: now,
      updated_at: now,
    };
    if (body.port_id != null)
      Object.assign(fip, await associate(ctx, tx, fip, body.port_id, body.fixed_ip_address ?? undefined));
    await tx.put('floatingip', fip, 'create', net.id);
    return fip;
  },

  async update(ctx, tx, current, body) {
    checkFixedWithoutPort(body);
    const next = assignPresent({ ...current }, body, ['description', 'tags']);
    // An empty body disassociates, as it did when association was a floating IP's only attribute.
    if (body.port_id === null || Object.keys(body).length === 0) Object.assign(next, UNASSOCIATED);
    else if (body.port_id !== undefined)
      Object.assign(next, await associate(ctx, tx, current, body.port_id, body.fixed_ip_address ?? undefined));
    return next;
  },

  async remove(_ctx, tx, current) {
    const port = (await tx.list('port', current.floating_network_id)).find(
      (p) => p.device_owner === OWNER_FLOATINGIP && p.device_id === current.id,
    );
    await tx.remove('floatingip', current);
    if (port) await deletePortInTx(tx, port);
  },

  async visibility(ctx) {
    return (f) => ownedOrAdmin(ctx, f);
  },
};
