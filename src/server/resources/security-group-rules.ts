/**
 * Security group rules, validated as Neutron does: protocol name or number, port ranges only for
 * port-carrying protocols (ICMP type/code for ICMP), remote prefix XOR remote group, prefix matching
 * the ethertype, and no duplicate rule in a group (409 SecurityGroupRuleExists). Rules are immutable.
 */
import { z } from 'zod';
import type { SecurityGroupRule } from '../../model/types.js';
import { parseCidr } from '../ipam/cidr.js';
import {
  checkProtocolFamily,
  ICMP_PROTOCOLS,
  parseProtocol,
  PORT_PROTOCOLS,
  ProtocolError,
  type Protocol,
} from '../../model/grammar/protocols.js';
import { faults } from '../errors.js';
import { mustGet, ownedOrAdmin, zDescription, zId, zProject, type ResourceDef } from '../resource.js';
import { addRuleInTx, ensureDefaultSecurityGroup, makeRule, removeRuleInTx } from './security-groups.js';

const zPort = z.number().int().nullable().optional();

const createSchema = z.strictObject({
  ...zProject,
  security_group_id: zId,
  direction: z.enum(['ingress', 'egress']),
  ethertype: z.enum(['IPv4', 'IPv6']).optional(),
  protocol: z.union([z.string(), z.number().int()]).nullable().optional(),
  port_range_min: zPort,
  port_range_max: zPort,
  remote_ip_prefix: z.string().nullable().optional(),
  remote_group_id: zId.nullable().optional(),
  remote_address_group_id: z.null().optional(),
  description: zDescription.optional(),
});
const updateSchema = z.strictObject({});

/** The rule's protocol in the shared grammar (model/grammar/protocols.ts), with Neutron's faults. */
function normalizeProtocol(p: unknown, ethertype: 'IPv4' | 'IPv6'): Protocol {
  try {
    const proto = parseProtocol(p);
    checkProtocolFamily(proto, ethertype === 'IPv4' ? 4 : 6);
    return proto;
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    const type = e.familyConflict ? 'SecurityGroupEthertypeConflictWithProtocol' : 'SecurityGroupRuleInvalidProtocol';
    throw faults.badRequest(e.message, type);
  }
}

function checkPorts(num: number | null, min: number | null, max: number | null): [number | null, number | null] {
  if (min === null && max === null) return [null, null];
  if (num !== null && PORT_PROTOCOLS.has(num)) {
    if (min === null)
      throw faults.badRequest(
        'For TCP/UDP protocols, port_range_min must be <= port_range_max',
        'SecurityGroupInvalidPortRange',
      );
    const hi = max ?? min;
    for (const v of [min, hi]) {
      if (v < 1 || v > 65535) throw faults.badRequest(`Invalid value for port ${v}`, 'SecurityGroupInvalidPortValue');
    }
    if (min > hi)
      throw faults.badRequest(
        'For TCP/UDP protocols, port_range_min must be <= port_range_max',
        'SecurityGroupInvalidPortRange',
      );
    return [min, hi];
  }
  if (num !== null && ICMP_PROTOCOLS.has(num)) {
    if (min === null)
      throw faults.badRequest(
        `ICMP code (port-range-max) ${max} is provided but ICMP type (port-range-min) is missing.`,
        'SecurityGroupMissingIcmpType',
      );
    for (const v of [min, max]) {
      if (v !== null && (v < 0 || v > 255))
        throw faults.badRequest(`Invalid value for ICMP ${v}`, 'SecurityGroupInvalidIcmpValue');
    }
    return [min, max];
  }
  throw faults.badRequest(
    'Ports can only be given for TCP, UDP, SCTP, UDPLite, DCCP and ICMP protocols',
    'SecurityGroupInvalidProtocolForPort',
  );
}

/** Two rules are the same when every matching attribute is (any-prefix equals no prefix). */
function sameRule(a: SecurityGroupRule, b: SecurityGroupRule): boolean {
  const proto = (p: string | null) => parseProtocol(p).num;
  const prefix = (r: SecurityGroupRule) =>
    r.remote_ip_prefix === '0.0.0.0/0' || r.remote_ip_prefix === '::/0' ? null : r.remote_ip_prefix;
  return (
    a.direction === b.direction &&
    a.ethertype === b.ethertype &&
    proto(a.protocol) === proto(b.protocol) &&
    a.port_range_min === b.port_range_min &&
    a.port_range_max === b.port_range_max &&
    prefix(a) === prefix(b) &&
    a.remote_group_id === b.remote_group_id
  );
}

export const securityGroupRules: ResourceDef<'security_group_rule', typeof createSchema, typeof updateSchema> = {
  kind: 'security_group_rule',
  singular: 'security_group_rule',
  plural: 'security_group_rules',
  path: 'security-group-rules',
  taggable: false,
  attributes: new Set([
    'id',
    'project_id',
    'tenant_id',
    'security_group_id',
    'direction',
    'ethertype',
    'protocol',
    'port_range_min',
    'port_range_max',
    'remote_ip_prefix',
    'remote_group_id',
    'description',
    'revision_number',
    'created_at',
    'updated_at',
  ]),
  createSchema,
  updateSchema,
  parentOf: (r) => r.security_group_id,

  async create(ctx, tx, body) {
    await ensureDefaultSecurityGroup(ctx, tx, ctx.caller.projectId);
    const visible = (o: { project_id: string }) => ownedOrAdmin(ctx, o);
    const sg = await mustGet(tx, 'security_group', body.security_group_id, visible);
    const ethertype = body.ethertype ?? 'IPv4';
    const { text: protocol, num } = normalizeProtocol(body.protocol, ethertype);
    const [port_range_min, port_range_max] = checkPorts(num, body.port_range_min ?? null, body.port_range_max ?? null);
    const remoteGroup = body.remote_group_id ?? null;
    let remotePrefix = body.remote_ip_prefix ?? null;
    if (remoteGroup !== null && remotePrefix !== null) {
      throw faults.badRequest(
        'Only remote_ip_prefix or remote_group_id may be provided.',
        'SecurityGroupRemoteGroupAndRemoteIpPrefix',
      );
    }
    if (remotePrefix !== null) {
      const c = parseCidr(remotePrefix, false);
      if ((c.version === 4 ? 'IPv4' : 'IPv6') !== ethertype) {
        throw faults.badRequest(
          `Conflicting value ethertype ${ethertype} for CIDR ${remotePrefix}`,
          'SecurityGroupRuleParameterConflict',
        );
      }
      remotePrefix = c.text;
    }
    if (remoteGroup !== null) await mustGet(tx, 'security_group', remoteGroup, visible);
    const rule = makeRule(ctx, sg, {
      direction: body.direction,
      ethertype,
      protocol,
      port_range_min,
      port_range_max,
      remote_ip_prefix: remotePrefix,
      remote_group_id: remoteGroup,
      description: body.description ?? '',
    });
    const dup = sg.security_group_rules.find((r) => sameRule(r, rule));
    if (dup)
      throw faults.conflict('SecurityGroupRuleExists', `Security group rule already exists. Rule id is ${dup.id}.`);
    await addRuleInTx(ctx, tx, sg, rule);
    return rule;
  },

  async update() {
    throw faults.badRequest('Security group rules cannot be updated', 'HTTPBadRequest');
  },

  async remove(ctx, tx, current) {
    await removeRuleInTx(ctx, tx, current);
  },

  async visibility(ctx) {
    return (r) => ownedOrAdmin(ctx, r);
  },
};
