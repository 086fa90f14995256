/**
 * Agents (Neutron's agents resource plus registration, see docs/CONVENTIONS.md). POST registers and
 * is idempotent per host (same id, updated); PUT `{"agent": {"heartbeat": true}}` records a heartbeat
 * quietly (no change-log row, unless the agent comes back to life); `alive` is computed on read from
 * the heartbeat age against `agent_down_time`. Admin only.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Agent } from '../../model/types.js';
import { CUSTOM_ROUTE_INTERFACE_KEY, isEniId } from '../../model/custom-route.js';
import { neutronTime } from '../../common/clock.js';
import { AGENT_ENCRYPTION_STATUS, AGENT_WG_PUBLIC_KEY, isWgKey } from '../../model/encryption.js';
import { assignPresent, zDescription, zHost, zIp, zWord, type Ctx, type ResourceDef } from '../resource.js';

const zConfigurations = z.looseObject({
  // Both reach agents' command lines and config files: strict grammar, '' for not given.
  tunneling_ip: z.union([z.literal(''), zIp]).default(''),
  cloud: z.union([z.literal(''), zHost]).default(''),
  underlay_mtu: z.number().int().min(68).max(65535).optional(),
  capabilities: z.array(zWord).optional(),
  // The hyperswitch's own ENI (`--custom-route-interface`): it reaches EC2 calls, so the strict grammar.
  [CUSTOM_ROUTE_INTERFACE_KEY]: z.string().refine(isEniId, 'an ENI id (eni-…)').optional(),
});

/** Only a public key ever reaches the server; the grammar keeps anything else out of `wg set` lines. */
const zPublicKey = z.string().refine(isWgKey, 'a WireGuard public key: base64 of 32 bytes (44 characters)');

/** Reported with heartbeats; kept quietly (no watch event: the agents do not compile from it). */
const zEncryptionStatus = z.strictObject({
  state: z.enum(['up', 'error']),
  impl: z.enum(['kernel', 'userspace']).nullable(),
  error: z.string().max(500).optional(),
  peers: z.array(z.strictObject({ host: zHost, latest_handshake: z.number().int().min(0) })).max(10_000),
});

const createSchema = z.strictObject({
  host: zHost,
  agent_type: z.string().max(255).optional(),
  binary: z.string().max(255).optional(),
  topic: z.string().max(255).optional(),
  availability_zone: z.string().nullable().optional(),
  description: zDescription.optional(),
  admin_state_up: z.boolean().optional(),
  configurations: zConfigurations.optional(),
  [AGENT_WG_PUBLIC_KEY]: zPublicKey.optional(),
});

const updateSchema = z.strictObject({
  heartbeat: z.boolean().optional(),
  admin_state_up: z.boolean().optional(),
  description: zDescription.optional(),
  configurations: zConfigurations.optional(),
  [AGENT_WG_PUBLIC_KEY]: zPublicKey.optional(),
  [AGENT_ENCRYPTION_STATUS]: zEncryptionStatus.optional(),
});

/** Update keys that change nothing the agents compile from: with a heartbeat, written without an event. */
const QUIET = new Set(['heartbeat', AGENT_ENCRYPTION_STATUS]);

/** Heard from within `agent_down_time` (the scheduler of hypervms picks among these too). */
export function isAlive(ctx: Ctx, a: Agent): boolean {
  return ctx.nowMs - Date.parse(a.heartbeat_timestamp) <= ctx.config.agentDownTime * 1000;
}

export const agents: ResourceDef<'agent', typeof createSchema, typeof updateSchema> = {
  kind: 'agent',
  singular: 'agent',
  plural: 'agents',
  path: 'agents',
  taggable: false,
  adminOnly: true,
  attributes: new Set([
    'id',
    'agent_type',
    'binary',
    'host',
    'topic',
    'admin_state_up',
    'alive',
    'availability_zone',
    'created_at',
    'started_at',
    'heartbeat_timestamp',
    'description',
    'configurations',
    AGENT_WG_PUBLIC_KEY,
    AGENT_ENCRYPTION_STATUS,
  ]),
  createSchema,
  updateSchema,
  parentOf: (a) => a.host,

  async create(ctx, tx, body) {
    const now = neutronTime(ctx.nowMs);
    const [existing] = await tx.list('agent', body.host);
    const agent: Agent = {
      id: existing?.id ?? randomUUID(),
      agent_type: body.agent_type ?? 'hypernet agent',
      binary: body.binary ?? 'hypernet-agent',
      host: body.host,
      topic: body.topic ?? 'N/A',
      admin_state_up: body.admin_state_up ?? existing?.admin_state_up ?? true,
      alive: true,
      availability_zone: body.availability_zone ?? null,
      created_at: existing?.created_at ?? now,
      started_at: now,
      heartbeat_timestamp: now,
      description: body.description ?? existing?.description ?? '',
      configurations: body.configurations ?? { tunneling_ip: '', cloud: '' },
      // A registration without a key (the node runs no encrypted overlay) drops an old one.
      ...(body[AGENT_WG_PUBLIC_KEY] ? { [AGENT_WG_PUBLIC_KEY]: body[AGENT_WG_PUBLIC_KEY] } : {}),
    };
    await tx.put('agent', agent, existing ? 'update' : 'create', agent.host);
    return agent;
  },

  quietUpdate: (body) => Object.keys(body).every((k) => QUIET.has(k)),

  async update(ctx, tx, current, body) {
    const next = assignPresent({ ...current }, body, [
      'admin_state_up',
      'description',
      'configurations',
      AGENT_WG_PUBLIC_KEY,
      AGENT_ENCRYPTION_STATUS,
    ]);
    const onlyHeartbeat = Object.keys(body).every((k) => QUIET.has(k));
    const wasAlive = isAlive(ctx, current);
    if (body.heartbeat === true) next.heartbeat_timestamp = neutronTime(ctx.nowMs);
    next.alive = true;
    if (onlyHeartbeat && wasAlive) {
      await tx.putQuiet('agent', next);
      return undefined;
    }
    return next;
  },

  async remove(_ctx, tx, current) {
    await tx.remove('agent', current);
  },

  async visibility() {
    return () => true;
  },

  present(ctx, a) {
    return { ...a, alive: isAlive(ctx, a) };
  },
};
