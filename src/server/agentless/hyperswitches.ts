/**
 * Hyperswitch CRUD over the provider (a hyperswitch is the provider VM, no store row), and what the
 * agentless ports need of them: the owner's hyperswitch found or launched, and removed with its last
 * port. An owner is a device (level vm: one hyperswitch per VM) or a tenant (level tenant), in a cloud.
 */
import { FLAVORS, type Flavor } from '../../model/agentless-config.js';
import type { HyperswitchWire } from '../../model/agentless.js';
import type { HyperswitchOwner, ProviderDriver, ProviderHyperswitch } from '../../model/provider.js';
import { faults } from '../errors.js';
import type { Ctx } from '../resource.js';
import { type AgentlessDeps, cloudConfig, knownCloud, nicsOn, notFound, scopeTenants } from './context.js';
import { checkDevice } from './devices.js';
import { buildHyperswitchUserData } from './userdata.js';

export type HyperswitchFilter = Parameters<ProviderDriver['getHyperswitchs']>[0];

/** The owner of the hyperswitch serving `device` (when given: level vm) or else the tenant, in `cloud`. */
export function hyperswitchOwner(tenant: string, cloud: string, device?: string | null): HyperswitchOwner {
  return device
    ? { hybrid_cloud_device_id: device, hybrid_cloud_tenant_id: tenant, cloud }
    : { hybrid_cloud_tenant_id: tenant, cloud };
}

export function presentHyperswitch(h: ProviderHyperswitch): HyperswitchWire {
  const { state, ...rest } = h;
  return { ...rest, project_id: h.tenant_id, status: state, cloud: h.cloud ?? '' };
}

export class Hyperswitches {
  constructor(private readonly d: AgentlessDeps) {}

  async create(
    ctx: Ctx,
    body: { flavor?: Flavor; device_id?: string; tenant_id?: string; project_id?: string; cloud?: string },
  ): Promise<HyperswitchWire> {
    return this.d.changes.run(async () => {
      const tenant = body.tenant_id ?? body.project_id ?? ctx.caller.projectId;
      if (!ctx.caller.isAdmin && tenant !== ctx.caller.projectId)
        throw faults.forbidden('(rule:create_hyperswitch:tenant_id) is disallowed by policy');
      const owner = hyperswitchOwner(tenant, knownCloud(this.d.config, body.cloud), body.device_id);
      if (body.device_id) await checkDevice(ctx, this.d.provider, body.device_id, tenant);
      if (await this.find(owner))
        throw faults.conflict(
          'HyperswitchExists',
          `A hyperswitch for ${body.device_id ? `device ${body.device_id}` : `tenant ${tenant}`} exists.`,
        );
      return presentHyperswitch(await this.launch(owner, body.flavor ?? this.d.config.default_flavor));
    });
  }

  async list(ctx: Ctx, filter: HyperswitchFilter = {}): Promise<HyperswitchWire[]> {
    return (await this.d.provider.getHyperswitchs(scopeTenants(ctx, filter))).map(presentHyperswitch);
  }

  async show(ctx: Ctx, id: string): Promise<HyperswitchWire> {
    return presentHyperswitch(await this.visible(ctx, id));
  }

  async delete(ctx: Ctx, id: string): Promise<void> {
    return this.d.changes.run(async () => {
      await this.visible(ctx, id);
      const users = await nicsOn(this.d.provider, id);
      if (users.length)
        throw faults.conflict(
          'HyperswitchInUse',
          `Hyperswitch ${id} serves agentless ports ${users.map((n) => n.id).join(', ')}.`,
        );
      await this.d.provider.deleteHyperswitch(id);
    });
  }

  /** The owner's hyperswitch, launched when there is none (the caller holds the changes lock). */
  async ensure(owner: HyperswitchOwner, flavor: Flavor): Promise<ProviderHyperswitch> {
    return (await this.find(owner)) ?? (await this.launch(owner, flavor));
  }

  /**
   * Removes hyperswitch `hsId` when no NIC uses it any more (vm level: the VM's last port; tenant
   * level: the tenant's).
   */
  async removeIfUnused(hsId: string): Promise<void> {
    if (!hsId || (await nicsOn(this.d.provider, hsId)).length) return;
    await this.d.provider.deleteHyperswitch(hsId);
    this.d.log.info({ hyperswitch: hsId }, 'hyperswitch removed with its last agentless port');
  }

  /** Hyperswitch `id` when the caller may see it; 404 otherwise. */
  private async visible(ctx: Ctx, id: string): Promise<ProviderHyperswitch> {
    const [hs] = await this.d.provider.getHyperswitchs(scopeTenants(ctx, { hyperswitch_ids: [id] }));
    if (!hs) throw notFound('Hyperswitch', id);
    return hs;
  }

  private async find(owner: HyperswitchOwner): Promise<ProviderHyperswitch | undefined> {
    const { provider } = this.d;
    const clouds = [owner.cloud ?? this.d.config.cloud];
    const tenant_ids = [owner.hybrid_cloud_tenant_id ?? ''];
    if (owner.hybrid_cloud_device_id)
      return (await provider.getHyperswitchs({ device_ids: [owner.hybrid_cloud_device_id], tenant_ids, clouds }))[0];
    return (await provider.getHyperswitchs({ tenant_ids, clouds })).find((h) => !h.device_id);
  }

  private async launch(owner: HyperswitchOwner, flavor: Flavor): Promise<ProviderHyperswitch> {
    const { provider } = this.d;
    const config = cloudConfig(this.d.config, owner.cloud);
    if (!FLAVORS.includes(flavor)) throw faults.invalidInput(`flavor must be one of ${FLAVORS.join(', ')}`);
    const host = provider.getHyperswitchHostName(owner);
    const sgs = await provider.getSgs(owner.cloud);
    const vms = await provider.getVmsSubnet(owner.cloud);
    const hs = await provider.launchHyperswitch({
      user_data: buildHyperswitchUserData({
        server: config.agent_server_url,
        host,
        cloud: config.cloud,
        token: config.agent_token,
      }),
      flavor,
      net_list: [
        { network: config.mgnt_network, security_group: config.mgnt_security_group },
        { network: config.data_network, security_group: config.data_security_group },
        ...vms.map((network) => ({ network, security_group: sgs.hs_sg ?? config.hs_sg_name })),
      ],
      ...owner,
    });
    this.d.log.info({ hyperswitch: hs.id, owner }, 'hyperswitch launched');
    return hs;
  }
}
