/**
 * Agentless ports: create, list, show, delete and move between clouds. An agentless port is its
 * provider NIC (no store row), tagged with the hyperswitch serving it; the Neutron side is the hyper
 * port, bound (`binding:host_id`) to that hyperswitch's agent host, which wires it like a local port.
 * A move keeps the hyper IP and MAC through Neutron's port bindings: an INACTIVE binding on the
 * target hyperswitch, then activation.
 */
import type { Flavor } from '../../model/agentless-config.js';
import { DEFAULT_VPN_TYPE, type AgentlessPortWire, type VpnType } from '../../model/agentless.js';
import { NIC_TAGS, type ProviderDriver, type ProviderNetworkInterface } from '../../model/provider.js';
import { activateMove, bindHost, prepareBinding } from '../bindings/transitions.js';
import { faults } from '../errors.js';
import type { Ctx } from '../resource.js';
import { type AgentlessDeps, knownCloud, notFound, scopeTenants } from './context.js';
import { checkDevice } from './devices.js';
import { hyperswitchOwner, type Hyperswitches } from './hyperswitches.js';
import { placeNic } from './placement.js';
import { presentPort, vpnTypeOf } from './port-view.js';
import type { VpnConfigs } from './vpn-config.js';

export type PortFilter = Parameters<ProviderDriver['getNetworkInterfaces']>[0];

export class AgentlessPorts {
  /** Work queued to run after an answer (removeLater). */
  private readonly background = new Set<Promise<unknown>>();

  constructor(
    private readonly d: AgentlessDeps,
    private readonly hyperswitches: Hyperswitches,
    private readonly vpn: VpnConfigs,
    /** How long a move waits for the target hyperswitch's agent to serve the port. */
    private readonly prepareTimeoutMs = 20_000,
  ) {}

  async create(
    ctx: Ctx,
    body: { port_id: string; flavor?: Flavor; device_id?: string; index?: number; cloud?: string; vpn_type?: VpnType },
  ): Promise<AgentlessPortWire> {
    return this.d.changes.run(async () => {
      const { provider, config, store } = this.d;
      const cloud = knownCloud(config, body.cloud);
      const port = await store.read((tx) => tx.get('port', body.port_id));
      if (!port || !(ctx.caller.isAdmin || port.project_id === ctx.caller.projectId))
        throw faults.notFound('port', body.port_id);
      if ((await provider.getNetworkInterfaces({ port_ids: [port.id] })).length) {
        throw faults.conflict('AgentlessportExists', `Port ${port.id} already has an agentless port.`);
      }
      const device = body.device_id ?? port.device_id;
      const perVm = body.device_id !== undefined || config.level === 'vm';
      if (perVm && !device) throw faults.invalidInput("level vm needs a device_id (given, or the port's)");
      // The provider acts on the device (in the lab, the VM's namespace) even at tenant level.
      if (device) await checkDevice(ctx, provider, device, port.project_id);
      const { nic, hs } = await placeNic(
        this.d,
        this.hyperswitches,
        {
          port_id: port.id,
          device_id: device,
          tenant_id: port.project_id,
          index: body.index ?? 0,
          vpn_type: body.vpn_type ?? DEFAULT_VPN_TYPE,
        },
        hyperswitchOwner(port.project_id, cloud, perVm ? device : undefined),
        body.flavor ?? config.default_flavor,
      );
      await bindHost(store, ctx, port.id, hs.id);
      this.d.log.info({ port: port.id, nic: nic.id, hyperswitch: hs.id, cloud }, 'agentless port created');
      return presentPort(this.d, nic, [hs]);
    });
  }

  /**
   * Moves an agentless port to another cloud, keeping its hyper IP and MAC: a provider NIC in the
   * target cloud, the target hyperswitch ensured (same level as the port's current one), the hyper port
   * prepared there (INACTIVE binding: the target agent wires bridge, filters, DHCP entry and starts
   * the port's OpenVPN server), the old client certificate revoked and a new one issued for the new
   * provider IP (in the returned user_data, with the new VPN endpoint), the binding activated (the old
   * one dropped: the old hyperswitch's agent stops the old tunnel), then the old NIC removed, and the
   * old hyperswitch with it when it served no other port.
   */
  async move(ctx: Ctx, id: string, body: { cloud: string; flavor?: Flavor }): Promise<AgentlessPortWire> {
    return this.d.changes.run(async () => {
      const { provider, config, store, log } = this.d;
      const old = await this.visible(ctx, id);
      const cloud = knownCloud(config, body.cloud);
      if (cloud === (old.cloud ?? config.cloud))
        throw faults.conflict('AgentlessportInCloud', `Agentlessport ${id} is already in cloud ${cloud}.`);
      const oldHsId = old.tags[NIC_TAGS.hyperswitch] ?? '';
      const [oldHs] = await provider.getHyperswitchs({ hyperswitch_ids: [oldHsId] });
      const perVm = config.level === 'vm' || !!oldHs?.device_id;
      const flavor = body.flavor ?? (old.tags[NIC_TAGS.flavor] as Flavor | undefined) ?? config.default_flavor;
      const { nic, hs } = await placeNic(
        this.d,
        this.hyperswitches,
        {
          port_id: old.port_id,
          device_id: old.device_id,
          tenant_id: old.tenant_id,
          index: old.index,
          vpn_type: vpnTypeOf(old),
        },
        hyperswitchOwner(old.tenant_id, cloud, perVm ? old.device_id : undefined),
        flavor,
      );
      await prepareBinding(store, ctx, old.port_id, hs.id);
      // Activate only once the target's OpenVPN server runs (bounded): a client started at once then
      // finds it listening instead of sitting in OpenVPN's handshake retransmit backoff.
      if (!(await this.vpn.serving.wait(hs.id, old.port_id, this.prepareTimeoutMs))) {
        log.warn(
          { port: old.port_id, hyperswitch: hs.id },
          'target hyperswitch did not report the port served in time; moving anyway',
        );
      }
      // The old certificate names the old provider IP: revoke it (the CRL reaches every hyperswitch);
      // presentPort issues the new one for the new NIC's IP.
      await this.vpn.revokeClient(old.port_id);
      const moved = await presentPort(this.d, nic, [hs]);
      await activateMove(store, ctx, old.port_id, hs.id);
      await provider.deleteNetworkInterface(old.id);
      // The old hyperswitch, if now unused, goes after the answer: its teardown takes seconds (in the
      // lab ~4 s: agent, OpenVPN servers, namespaces), the VM's client waits for this answer to switch,
      // and nothing of the move depends on it.
      this.removeLater(oldHsId);
      log.info({ port: old.port_id, from: old.id, to: nic.id, hyperswitch: hs.id, cloud }, 'agentless port moved');
      return moved;
    });
  }

  async list(ctx: Ctx, filter: PortFilter = {}): Promise<AgentlessPortWire[]> {
    const nics = await this.d.provider.getNetworkInterfaces(scopeTenants(ctx, filter));
    const hss = await this.d.provider.getHyperswitchs();
    return Promise.all(nics.map((n) => presentPort(this.d, n, hss)));
  }

  async show(ctx: Ctx, id: string): Promise<AgentlessPortWire> {
    const nic = await this.visible(ctx, id);
    return presentPort(this.d, nic, await this.d.provider.getHyperswitchs());
  }

  /** Deletes the interface, revokes the port's certificate, and the hyperswitch with its level's last port. */
  async delete(ctx: Ctx, id: string): Promise<void> {
    return this.d.changes.run(async () => {
      const nic = await this.visible(ctx, id);
      await this.d.provider.deleteNetworkInterface(nic.id);
      await this.vpn.revokeClient(nic.port_id);
      const hsId = nic.tags[NIC_TAGS.hyperswitch] ?? '';
      await bindHost(this.d.store, ctx, nic.port_id, '', hsId);
      await this.hyperswitches.removeIfUnused(hsId);
      this.d.log.info({ id, port: nic.port_id }, 'agentless port deleted');
    });
  }

  /** Resolves when the work started after an answer (removeLater) is done (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.background.size) await Promise.all([...this.background]);
  }

  /** Agentless port `id` when the caller may see it; 404 otherwise. */
  private async visible(ctx: Ctx, id: string): Promise<ProviderNetworkInterface> {
    const [nic] = await this.d.provider.getNetworkInterfaces(scopeTenants(ctx, { names: [id] }));
    if (!nic) throw notFound('Agentlessport', id);
    return nic;
  }

  /**
   * removeIfUnused after the critical section that calls this, queued on the changes lock: a change
   * request that comes next (a move back, a new port for the tenant) waits for it, so it finds the
   * hyperswitch either in use or gone. A failure is logged.
   */
  private removeLater(hsId: string): void {
    const p = this.d.changes
      .run(() => this.hyperswitches.removeIfUnused(hsId))
      .catch((e) =>
        this.d.log.error({ hyperswitch: hsId, err: (e as Error).message }, 'removing the unused hyperswitch failed'),
      )
      .finally(() => this.background.delete(p));
    this.background.add(p);
  }
}
