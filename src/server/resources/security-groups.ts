/**
 * Security groups. Every project has a `default` group, created lazily the first time the project
 * lists groups or creates a port or group (as Neutron does), with Neutron's default rules: egress
 * IPv4 and IPv6 to anywhere, ingress IPv4 and IPv6 from members of the group itself. A new group
 * gets the two egress rules, counted against the rule quota. The group's `security_group_rules`
 * list is kept in step with its rules.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { SecurityGroup, SecurityGroupRule } from '../../model/types.js';
import type { WriteTx } from '../store/store.js';
import { neutronTime } from '../../common/clock.js';
import { faults } from '../errors.js';
import { enforceQuota } from '../quotas.js';
import {
  BASE_ATTRIBUTES,
  assignPresent,
  newBase,
  ownedOrAdmin,
  zCommon,
  zDescription,
  zName,
  zTags,
  type Ctx,
  type ResourceDef,
} from '../resource.js';

const createSchema = z.strictObject({ ...zCommon, stateful: z.boolean().optional() });
const updateSchema = z.strictObject({
  name: zName.optional(),
  description: zDescription.optional(),
  tags: zTags.optional(),
  stateful: z.boolean().optional(),
});

type RuleSpec = Pick<SecurityGroupRule, 'direction' | 'ethertype' | 'remote_group_id'>;

/** A rule object with Neutron defaults for the unspecified fields. */
export function makeRule(ctx: Ctx, sg: SecurityGroup, spec: Partial<SecurityGroupRule> & RuleSpec): SecurityGroupRule {
  const now = neutronTime(ctx.nowMs);
  return {
    id: randomUUID(),
    project_id: sg.project_id,
    tenant_id: sg.project_id,
    security_group_id: sg.id,
    protocol: null,
    port_range_min: null,
    port_range_max: null,
    remote_ip_prefix: null,
    description: '',
    revision_number: 0,
    created_at: now,
    updated_at: now,
    ...spec,
  };
}

/** Stores a rule and appends it to its group's list (a group update). */
export async function addRuleInTx(
  ctx: Ctx,
  tx: WriteTx,
  sg: SecurityGroup,
  rule: SecurityGroupRule,
): Promise<SecurityGroup> {
  await tx.put('security_group_rule', rule, 'create', sg.id);
  const latest = (await tx.get('security_group', sg.id)) ?? sg;
  const updated: SecurityGroup = {
    ...latest,
    security_group_rules: [...latest.security_group_rules, rule],
    revision_number: latest.revision_number + 1,
    updated_at: neutronTime(ctx.nowMs),
  };
  await tx.put('security_group', updated, 'update');
  return updated;
}

/** Removes a rule and drops it from its group's list. */
export async function removeRuleInTx(ctx: Ctx, tx: WriteTx, rule: SecurityGroupRule): Promise<void> {
  await tx.remove('security_group_rule', rule);
  const sg = await tx.get('security_group', rule.security_group_id);
  if (!sg) return;
  await tx.put(
    'security_group',
    {
      ...sg,
      security_group_rules: sg.security_group_rules.filter((r) => r.id !== rule.id),
      revision_number: sg.revision_number + 1,
      updated_at: neutronTime(ctx.nowMs),
    },
    'update',
  );
}

async function createGroup(
  ctx: Ctx,
  tx: WriteTx,
  body: z.output<typeof createSchema>,
  isDefault: boolean,
): Promise<SecurityGroup> {
  const base = newBase(ctx, body);
  let sg: SecurityGroup = {
    ...base,
    stateful: body.stateful ?? true,
    security_group_rules: [],
  };
  await tx.put('security_group', sg, 'create');
  const specs: RuleSpec[] = [
    { direction: 'egress', ethertype: 'IPv4', remote_group_id: null },
    { direction: 'egress', ethertype: 'IPv6', remote_group_id: null },
  ];
  // Neutron reserves a new group's egress rules against the rule quota. Not the default group's: it is
  // made on first use (even by a list), which a full rule quota must not fail.
  if (!isDefault)
    await enforceQuota(
      ctx,
      tx,
      'security_group_rule',
      specs.map(() => ({ security_group_id: sg.id })),
    );
  if (isDefault) {
    specs.push(
      { direction: 'ingress', ethertype: 'IPv4', remote_group_id: sg.id },
      { direction: 'ingress', ethertype: 'IPv6', remote_group_id: sg.id },
    );
  }
  for (const spec of specs) sg = await addRuleInTx(ctx, tx, sg, makeRule(ctx, sg, spec));
  return sg;
}

/** The project's default group, created on first use. */
export async function ensureDefaultSecurityGroup(ctx: Ctx, tx: WriteTx, projectId: string): Promise<string> {
  const existing = await tx.defaultSecurityGroup(projectId);
  if (existing) return existing;
  const adminCtx: Ctx = { ...ctx, caller: { isAdmin: true, projectId } };
  const sg = await createGroup(
    adminCtx,
    tx,
    { name: 'default', description: 'Default security group', project_id: projectId },
    true,
  );
  if (!(await tx.setDefaultSecurityGroup(projectId, sg.id)))
    throw new Error(`default security group race for ${projectId}`);
  return sg.id;
}

export const securityGroups: ResourceDef<'security_group', typeof createSchema, typeof updateSchema> = {
  kind: 'security_group',
  singular: 'security_group',
  plural: 'security_groups',
  path: 'security-groups',
  taggable: true,
  attributes: new Set([...BASE_ATTRIBUTES, 'stateful', 'security_group_rules']),
  createSchema,
  updateSchema,

  async create(ctx, tx, body) {
    const base = newBase(ctx, body);
    await ensureDefaultSecurityGroup(ctx, tx, base.project_id);
    if (body.name === 'default')
      throw faults.conflict('SecurityGroupDefaultAlreadyExists', 'Default security group already exists.');
    return createGroup(ctx, tx, body, false);
  },

  async update(_ctx, tx, current, body) {
    if (
      body.name !== undefined &&
      body.name !== 'default' &&
      (await tx.defaultSecurityGroup(current.project_id)) === current.id
    ) {
      throw faults.conflict('SecurityGroupCannotUpdateDefault', 'Updating default security group not allowed.');
    }
    return assignPresent({ ...current }, body, ['name', 'description', 'tags', 'stateful']);
  },

  async remove(ctx, tx, current) {
    if (!ctx.caller.isAdmin && (await tx.defaultSecurityGroup(current.project_id)) === current.id) {
      throw faults.conflict(
        'SecurityGroupCannotRemoveDefault',
        'Insufficient rights for removing default security group.',
      );
    }
    const inUse = (await tx.list('port')).some((p) => p.security_groups.includes(current.id));
    if (inUse) throw faults.conflict('SecurityGroupInUse', `Security Group ${current.id} in use.`);
    for (const r of await tx.list('security_group_rule')) {
      if (r.remote_group_id === current.id && r.security_group_id !== current.id) await removeRuleInTx(ctx, tx, r);
    }
    for (const r of await tx.list('security_group_rule', current.id)) await tx.remove('security_group_rule', r);
    await tx.clearDefaultSecurityGroup(current.id);
    await tx.remove('security_group', (await tx.get('security_group', current.id)) ?? current);
  },

  async beforeList(ctx, tx) {
    await ensureDefaultSecurityGroup(ctx, tx, ctx.caller.projectId);
  },

  async visibility(ctx) {
    return (sg) => ownedOrAdmin(ctx, sg);
  },
};
