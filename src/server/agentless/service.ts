/**
 * The agentless plugin of the server (HyperswitchPlugin in the original design): the create/list/show/delete
 * logic of agentless ports and hyperswitches over a ProviderDriver, the CA and the store.
 *
 * Neither entity is a store row (provider entities only). An agentless port is the provider
 * network interface, tagged with the hyperswitch that serves it and its VPN UDP port; a hyperswitch
 * is the provider VM. What the server does keep is the Neutron side: the hyper port is bound
 * (`binding:host_id`) to the hyperswitch's agent host, so that agent wires it like a local port.
 * Creates, moves and deletes run one at a time (a hyperswitch is created by the first port of its
 * level and removed with the last), reads go to the provider. Several clouds can be configured
 * (providers/clouds.ts): `movePort` moves a port to another cloud's hyperswitch through Neutron's port
 * bindings (an INACTIVE binding on the target host, then activation), keeping its hyper IP and MAC.
 */
import type { Logger } from '../../common/log.js';
import { FLAVORS, type AgentlessConfig, type Flavor } from '../../model/agentless-config.js';
import type { AgentlessPortWire, Hyperswitch, HyperswitchWire, VpnAgentConfig } from '../../model/agentless.js';
import { allocateVpnPort } from './vpn-ports.js';
import type { CertificateAuthority } from './pki/ca.js';
import { cloudConfigs, cloudNames } from './providers/clouds.js';
import {
  NIC_TAGS,
  type HyperswitchOwner,
  type ProviderDriver,
  type ProviderHyperswitch,
  type ProviderNetworkInterface,
} from '../../model/provider.js';
import { buildHyperswitchUserData, buildUserData } from './userdata.js';
import { activeBinding, inactiveBindings } from '../../model/bindings.js';
import type { Port, PortBinding } from '../../model/types.js';
import type { Store } from '../store/store.js';
import { Mutex } from '../../common/mutex.js';
import { faults, NeutronFault } from '../errors.js';
import { activateBinding, vifTypeFor, withBindings } from '../port-bindings.js';
import type { Ctx } from '../resource.js';
import { ports as portsDef } from '../resources/ports.js';
import { storeUpdate } from '../routes.js';

export interface AgentlessServiceOptions {
  config: AgentlessConfig;
  provider: ProviderDriver;
  ca: CertificateAuthority;
  store: Store;
  log: Logger;
  /** How long a move waits for the target hyperswitch's agent to serve the port (default 20 s). */
  prepareTimeoutMs?: number;
}

const notFound = (what: 'Agentlessport' | 'Hyperswitch', id: string) =>
  new NeutronFault(404, `${what}NotFound`, `${what} ${id} could not be found.`);

const vmsIp = (hs: Hyperswitch, index: number): string | null => [hs.vms_ip_0, hs.vms_ip_1, hs.vms_ip_2][index] ?? null;

export class AgentlessService {
  private readonly mutex = new Mutex();
  private crl: string | null = null;
  /** Per hyperswitch, the ports its agent last reported serving (PUT …/vpn), and who waits for them. */
  private readonly serving = new Map<string, Set<string>>();
  private readonly servingWaiters = new Set<() => void>();
  /** Work queued to run after an answer (removeLater). */
  private readonly background = new Set<Promise<unknown>>();

  constructor(private readonly o: AgentlessServiceOptions) {}

  get config(): AgentlessConfig {
    return this.o.config;
  }

  // ---------------------------------------------------------------- agentless ports

  async createPort(
    ctx: Ctx,
    body: { port_id: string; flavor?: Flavor; device_id?: string; index?: number; cloud?: string },
  ): Promise<AgentlessPortWire> {
    return this.mutex.run(async () => {
      const { provider, config } = this.o;
      const cloud = this.knownCloud(body.cloud);
      const port = await this.visiblePort(ctx, body.port_id);
      if (!port) throw faults.notFound('port', body.port_id);
      if ((await provider.getNetworkInterfaces({ port_ids: [port.id] })).length) {
        throw faults.conflict('AgentlessportExists', `Port ${port.id} already has an agentless port.`);
      }
      const index = body.index ?? 0;
      const device = body.device_id ?? port.device_id;
      const perVm = body.device_id !== undefined || config.level === 'vm';
      if (perVm && !device) throw faults.invalidInput("level vm needs a device_id (given, or the port's)");
      const owner: HyperswitchOwner = perVm
        ? { hybrid_cloud_device_id: device, hybrid_cloud_tenant_id: port.project_id, cloud }
        : { hybrid_cloud_tenant_id: port.project_id, cloud };
      const { nic, hs } = await this.placeNic(
        { port_id: port.id, device_id: device, tenant_id: port.project_id, index },
        owner,
        body.flavor ?? config.default_flavor,
      );
      await this.bind(ctx, port.id, hs.id);
      this.o.log.info({ port: port.id, nic: nic.id, hyperswitch: hs.id, cloud }, 'agentless port created');
      return this.present(nic, [hs]);
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
  async movePort(ctx: Ctx, id: string, body: { cloud: string; flavor?: Flavor }): Promise<AgentlessPortWire> {
    return this.mutex.run(async () => {
      const { provider, ca, config } = this.o;
      const [old] = await provider.getNetworkInterfaces(
        this.scopeTenants(ctx, { names: [id] } as { names: string[]; tenant_ids?: string[] }),
      );
      if (!old) throw notFound('Agentlessport', id);
      const cloud = this.knownCloud(body.cloud);
      if (cloud === (old.cloud ?? config.cloud))
        throw faults.conflict('AgentlessportInCloud', `Agentlessport ${id} is already in cloud ${cloud}.`);
      const oldHsId = old.tags[NIC_TAGS.hyperswitch] ?? '';
      const [oldHs] = await provider.getHyperswitchs({ hyperswitch_ids: [oldHsId] });
      const perVm = config.level === 'vm' || !!oldHs?.device_id;
      const owner: HyperswitchOwner = perVm
        ? { hybrid_cloud_device_id: old.device_id, hybrid_cloud_tenant_id: old.tenant_id, cloud }
        : { hybrid_cloud_tenant_id: old.tenant_id, cloud };
      const flavor = body.flavor ?? (old.tags[NIC_TAGS.flavor] as Flavor | undefined) ?? config.default_flavor;
      const { nic, hs } = await this.placeNic(
        { port_id: old.port_id, device_id: old.device_id, tenant_id: old.tenant_id, index: old.index },
        owner,
        flavor,
      );
      await this.prepareBinding(ctx, old.port_id, hs.id);
      // Activate only once the target's OpenVPN server runs (bounded): a client started at once then
      // finds it listening instead of sitting in OpenVPN's handshake retransmit backoff.
      if (!(await this.waitServing(hs.id, old.port_id, this.o.prepareTimeoutMs ?? 20_000))) {
        this.o.log.warn(
          { port: old.port_id, hyperswitch: hs.id },
          'target hyperswitch did not report the port served in time; moving anyway',
        );
      }
      // The old certificate names the old provider IP: revoke it (the CRL reaches every hyperswitch);
      // present() issues the new one for the new NIC's IP.
      if ((await ca.revokeClient(old.port_id)).length) this.crl = null;
      const moved = await this.present(nic, [hs]);
      await this.activate(ctx, old.port_id, hs.id);
      await provider.deleteNetworkInterface(old.id);
      // The old hyperswitch, if now unused, goes after the answer: its teardown takes seconds (in the
      // lab ~4 s: agent, OpenVPN servers, namespaces), the VM's client waits for this answer to switch,
      // and nothing of the move depends on it.
      this.removeLater(oldHsId);
      this.o.log.info(
        { port: old.port_id, from: old.id, to: nic.id, hyperswitch: hs.id, cloud },
        'agentless port moved',
      );
      return moved;
    });
  }

  async listPorts(
    ctx: Ctx,
    filter: Parameters<ProviderDriver['getNetworkInterfaces']>[0] = {},
  ): Promise<AgentlessPortWire[]> {
    const nics = await this.o.provider.getNetworkInterfaces(this.scopeTenants(ctx, filter));
    const hss = await this.o.provider.getHyperswitchs();
    return Promise.all(nics.map((n) => this.present(n, hss)));
  }

  async showPort(ctx: Ctx, id: string): Promise<AgentlessPortWire> {
    const [nic] = await this.o.provider.getNetworkInterfaces(
      this.scopeTenants(ctx, { names: [id] } as { names: string[]; tenant_ids?: string[] }),
    );
    if (!nic) throw notFound('Agentlessport', id);
    return this.present(nic, await this.o.provider.getHyperswitchs());
  }

  /** Deletes the interface, revokes the port's certificate, and the hyperswitch with its level's last port. */
  async deletePort(ctx: Ctx, id: string): Promise<void> {
    return this.mutex.run(async () => {
      const { provider, ca } = this.o;
      const [nic] = await provider.getNetworkInterfaces(
        this.scopeTenants(ctx, { names: [id] } as { names: string[]; tenant_ids?: string[] }),
      );
      if (!nic) throw notFound('Agentlessport', id);
      await provider.deleteNetworkInterface(nic.id);
      if ((await ca.revokeClient(nic.port_id)).length) this.crl = null;
      const hsId = nic.tags[NIC_TAGS.hyperswitch] ?? '';
      await this.bind(ctx, nic.port_id, '', hsId);
      await this.removeIfUnused(hsId);
      this.o.log.info({ id, port: nic.port_id }, 'agentless port deleted');
    });
  }

  // ---------------------------------------------------------------- hyperswitches

  async createHyperswitch(
    ctx: Ctx,
    body: { flavor?: Flavor; device_id?: string; tenant_id?: string; project_id?: string; cloud?: string },
  ): Promise<HyperswitchWire> {
    return this.mutex.run(async () => {
      const tenant = body.tenant_id ?? body.project_id ?? ctx.caller.projectId;
      if (!ctx.caller.isAdmin && tenant !== ctx.caller.projectId)
        throw faults.forbidden('(rule:create_hyperswitch:tenant_id) is disallowed by policy');
      const cloud = this.knownCloud(body.cloud);
      const owner: HyperswitchOwner = body.device_id
        ? { hybrid_cloud_device_id: body.device_id, hybrid_cloud_tenant_id: tenant, cloud }
        : { hybrid_cloud_tenant_id: tenant, cloud };
      if (await this.findHyperswitch(owner))
        throw faults.conflict(
          'HyperswitchExists',
          `A hyperswitch for ${body.device_id ? `device ${body.device_id}` : `tenant ${tenant}`} exists.`,
        );
      return presentHs(await this.launch(owner, body.flavor ?? this.o.config.default_flavor));
    });
  }

  async listHyperswitchs(
    ctx: Ctx,
    filter: Parameters<ProviderDriver['getHyperswitchs']>[0] = {},
  ): Promise<HyperswitchWire[]> {
    return (await this.o.provider.getHyperswitchs(this.scopeTenants(ctx, filter))).map(presentHs);
  }

  async showHyperswitch(ctx: Ctx, id: string): Promise<HyperswitchWire> {
    const [hs] = await this.o.provider.getHyperswitchs(
      this.scopeTenants(ctx, { hyperswitch_ids: [id] } as { hyperswitch_ids: string[]; tenant_ids?: string[] }),
    );
    if (!hs) throw notFound('Hyperswitch', id);
    return presentHs(hs);
  }

  async deleteHyperswitch(ctx: Ctx, id: string): Promise<void> {
    return this.mutex.run(async () => {
      const [hs] = await this.o.provider.getHyperswitchs(
        this.scopeTenants(ctx, { hyperswitch_ids: [id] } as { hyperswitch_ids: string[]; tenant_ids?: string[] }),
      );
      if (!hs) throw notFound('Hyperswitch', id);
      const users = (await this.o.provider.getNetworkInterfaces()).filter((n) => n.tags[NIC_TAGS.hyperswitch] === id);
      if (users.length)
        throw faults.conflict(
          'HyperswitchInUse',
          `Hyperswitch ${id} serves agentless ports ${users.map((n) => n.id).join(', ')}.`,
        );
      await this.o.provider.deleteHyperswitch(id);
    });
  }

  // ---------------------------------------------------------------- agent side

  /** The VPN configuration of one hyperswitch's agent: its server certificate, the CRL and its ports. */
  /** A hyperswitch's agent reports the ports whose OpenVPN server runs. */
  reportServing(hyperswitchId: string, portIds: readonly string[]): void {
    this.serving.set(hyperswitchId, new Set(portIds));
    for (const wake of [...this.servingWaiters]) wake();
  }

  /** Resolves true once `hyperswitchId` reports `portId` served, false after `timeoutMs`. */
  private waitServing(hyperswitchId: string, portId: string, timeoutMs: number): Promise<boolean> {
    const served = () => !!this.serving.get(hyperswitchId)?.has(portId);
    if (served()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.servingWaiters.delete(wake);
        resolve(ok);
      };
      const wake = () => served() && done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.servingWaiters.add(wake);
    });
  }

  async vpnConfig(hyperswitchId: string): Promise<VpnAgentConfig> {
    const { provider, ca } = this.o;
    const [hs] = await provider.getHyperswitchs({ hyperswitch_ids: [hyperswitchId] });
    if (!hs) throw notFound('Hyperswitch', hyperswitchId);
    const config = this.cloudConfig(hs.cloud);
    const ips = [hs.vms_ip_0, hs.vms_ip_1, hs.vms_ip_2].filter((x): x is string => !!x);
    const server = await ca.issueServer({ name: hs.id, ips });
    this.crl ??= await ca.crlPem();
    const nics = (await provider.getNetworkInterfaces()).filter((n) => n.tags[NIC_TAGS.hyperswitch] === hs.id);
    const ports: VpnAgentConfig['ports'] = [];
    for (const n of nics) {
      const facts = await this.portFacts(n.port_id);
      const listen = vmsIp(hs, n.index);
      if (!facts || !listen) continue;
      ports.push({
        port_id: n.port_id,
        provider_ip: n.private_ip,
        mac_address: facts.mac,
        listen_ip: listen,
        listen_port: Number(n.tags[NIC_TAGS.vpnPort]),
        mtu: facts.mtu,
        underlay_mtu: config.underlay_mtu,
      });
    }
    return {
      hyperswitch_id: hs.id,
      ca_pem: server.caPem,
      cert_pem: server.certPem,
      key_pem: server.keyPem,
      crl_pem: this.crl,
      ports,
    };
  }

  // ---------------------------------------------------------------- helpers

  /** The cloud named (default: home); 400 when it is not configured. */
  private knownCloud(cloud: string | undefined): string {
    const names = cloudNames(this.o.config);
    if (cloud !== undefined && !names.includes(cloud))
      throw faults.invalidInput(`unknown cloud '${cloud}'; configured: ${names.join(', ')}`);
    return cloud ?? this.o.config.cloud;
  }

  /** The options of one cloud (default: home). */
  private cloudConfig(cloud: string | undefined): AgentlessConfig {
    return cloudConfigs(this.o.config).find((c) => c.cloud === (cloud ?? this.o.config.cloud)) ?? this.o.config;
  }

  /**
   * Places a provider NIC for a hyper port: the owner's hyperswitch in its cloud (launched when there
   * is none), a free VPN UDP port on it, the NIC on the cloud's vms subnet of `index`, tagged with both.
   */
  private async placeNic(
    n: { port_id: string; device_id: string; tenant_id: string; index: number },
    owner: HyperswitchOwner,
    flavor: Flavor,
  ): Promise<{ nic: ProviderNetworkInterface; hs: ProviderHyperswitch }> {
    const { provider } = this.o;
    const config = this.cloudConfig(owner.cloud);
    const hs = (await this.findHyperswitch(owner)) ?? (await this.launch(owner, flavor));
    if (!vmsIp(hs, n.index)) throw faults.invalidInput(`hyperswitch ${hs.id} has no vms NIC for index ${n.index}`);
    const onHs = await provider.getNetworkInterfaces();
    const used = onHs
      .filter((x) => x.tags[NIC_TAGS.hyperswitch] === hs.id)
      .map((x) => Number(x.tags[NIC_TAGS.vpnPort]));
    const vpnPort = allocateVpnPort(used, config.vpn_port_min, config.vpn_port_max);
    const subnet = (await provider.getVmsSubnet(owner.cloud))[n.index];
    if (!subnet) throw faults.invalidInput(`no vms subnet for index ${n.index}`);
    const sgs = await provider.getSgs(owner.cloud);
    const nic = await provider.createNetworkInterface({
      ...n,
      subnet,
      security_group: sgs.vm_sg ?? config.vm_sg_name,
      tags: { [NIC_TAGS.hyperswitch]: hs.id, [NIC_TAGS.vpnPort]: String(vpnPort), [NIC_TAGS.flavor]: hs.flavor },
      cloud: owner.cloud,
    });
    return { nic, hs };
  }

  /**
   * removeIfUnused after the critical section that calls this, queued on the mutex: a change request
   * that comes next (a move back, a new port for the tenant) waits for it, so it finds the hyperswitch
   * either in use or gone. A failure is logged.
   */
  private removeLater(hsId: string): void {
    const p = this.mutex
      .run(() => this.removeIfUnused(hsId))
      .catch((e) =>
        this.o.log.error({ hyperswitch: hsId, err: (e as Error).message }, 'removing the unused hyperswitch failed'),
      )
      .finally(() => this.background.delete(p));
    this.background.add(p);
  }

  /** Resolves when the work started after an answer (removeLater) is done (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.background.size) await Promise.all([...this.background]);
  }

  /** Removes hyperswitch `hsId` when no NIC uses it any more (vm level: the VM's last port; tenant level: the tenant's). */
  private async removeIfUnused(hsId: string): Promise<void> {
    if (!hsId) return;
    const left = (await this.o.provider.getNetworkInterfaces()).filter((n) => n.tags[NIC_TAGS.hyperswitch] === hsId);
    if (left.length) return;
    await this.o.provider.deleteHyperswitch(hsId);
    this.o.log.info({ hyperswitch: hsId }, 'hyperswitch removed with its last agentless port');
  }

  /** Non-admins see only their own tenant's entities. */
  private scopeTenants<F extends { tenant_ids?: string[] }>(ctx: Ctx, f: F): F {
    if (ctx.caller.isAdmin) return f;
    const mine = ctx.caller.projectId;
    return { ...f, tenant_ids: f.tenant_ids ? f.tenant_ids.filter((t) => t === mine) : [mine] };
  }

  private async visiblePort(ctx: Ctx, id: string): Promise<Port | undefined> {
    const port = await this.o.store.read((tx) => tx.get('port', id));
    return port && (ctx.caller.isAdmin || port.project_id === ctx.caller.projectId) ? port : undefined;
  }

  private async portFacts(portId: string): Promise<{ mac: string; mtu: number } | undefined> {
    return this.o.store.read(async (tx) => {
      const port = await tx.get('port', portId);
      const net = port && (await tx.get('network', port.network_id));
      return port && net ? { mac: port.mac_address, mtu: net.mtu } : undefined;
    });
  }

  private async findHyperswitch(owner: HyperswitchOwner): Promise<ProviderHyperswitch | undefined> {
    const { provider } = this.o;
    const clouds = [owner.cloud ?? this.o.config.cloud];
    if (owner.hybrid_cloud_device_id)
      return (await provider.getHyperswitchs({ device_ids: [owner.hybrid_cloud_device_id], clouds }))[0];
    return (await provider.getHyperswitchs({ tenant_ids: [owner.hybrid_cloud_tenant_id!], clouds })).find(
      (h) => !h.device_id,
    );
  }

  private async launch(owner: HyperswitchOwner, flavor: Flavor): Promise<ProviderHyperswitch> {
    const { provider } = this.o;
    const config = this.cloudConfig(owner.cloud);
    if (!FLAVORS.includes(flavor)) throw faults.invalidInput(`flavor must be one of ${FLAVORS.join(', ')}`);
    const host = provider.getHyperswitchHostName(owner);
    const sgs = await provider.getSgs(owner.cloud);
    const vms = await provider.getVmsSubnet(owner.cloud);
    const hs = await provider.launchHyperswitch({
      user_data: buildHyperswitchUserData({ server: config.agent_server_url, host, cloud: config.cloud }),
      flavor,
      net_list: [
        { network: config.mgnt_network, security_group: config.mgnt_security_group },
        { network: config.data_network, security_group: config.data_security_group },
        ...vms.map((network) => ({ network, security_group: sgs.hs_sg ?? config.hs_sg_name })),
      ],
      ...owner,
    });
    this.o.log.info({ hyperswitch: hs.id, owner }, 'hyperswitch launched');
    return hs;
  }

  /** Sets the hyper port's binding:host_id (to `host`; on unbind only when it still is `onlyIf`). */
  private async bind(ctx: Ctx, portId: string, host: string, onlyIf?: string): Promise<void> {
    await this.o.store.write(async (tx) => {
      const port = await tx.get('port', portId);
      if (!port || port['binding:host_id'] === host) return;
      if (onlyIf !== undefined && port['binding:host_id'] !== onlyIf) return;
      await storeUpdate(portsDef, ctx, tx, { ...port, 'binding:host_id': host });
    });
  }

  /** Adds an INACTIVE binding of the hyper port for `host` (a move's target; plain bind when unbound). */
  private async prepareBinding(ctx: Ctx, portId: string, host: string): Promise<void> {
    await this.o.store.write(async (tx) => {
      const port = await tx.get('port', portId);
      if (!port) return;
      const active = activeBinding(port);
      const b: PortBinding = {
        host,
        vif_type: await vifTypeFor(tx, host),
        vif_details: {},
        vnic_type: port['binding:vnic_type'],
        profile: {},
        status: active ? 'INACTIVE' : 'ACTIVE',
      };
      const rest = inactiveBindings(port).filter((x) => x.host !== host);
      await storeUpdate(
        portsDef,
        ctx,
        tx,
        active ? withBindings(port, active, [...rest, b]) : withBindings(port, b, rest),
      );
    });
  }

  /** Activates `host`'s binding and drops the previous active one (what nova does after a move), in one update. */
  private async activate(ctx: Ctx, portId: string, host: string): Promise<void> {
    await this.o.store.write(async (tx) => {
      const port = await tx.get('port', portId);
      if (!port || port['binding:host_id'] === host) return;
      const old = port['binding:host_id'];
      const { port: next } = activateBinding(port, host);
      await storeUpdate(
        portsDef,
        ctx,
        tx,
        withBindings(
          next,
          activeBinding(next),
          inactiveBindings(next).filter((b) => b.host !== old),
        ),
      );
    });
  }

  private async present(
    nic: ProviderNetworkInterface,
    hss: readonly ProviderHyperswitch[],
  ): Promise<AgentlessPortWire> {
    const hsId = nic.tags[NIC_TAGS.hyperswitch] ?? '';
    const hs = hss.find((h) => h.id === hsId);
    const flavor = (nic.tags[NIC_TAGS.flavor] as Flavor | undefined) ?? hs?.flavor ?? this.o.config.default_flavor;
    return {
      id: nic.id,
      port_id: nic.port_id,
      flavor,
      device_id: nic.device_id,
      index: nic.index as 0 | 1 | 2,
      user_data: hs ? await this.userData(nic, hs) : '',
      project_id: nic.tenant_id,
      tenant_id: nic.tenant_id,
      private_ip: nic.private_ip,
      hyperswitch_id: hsId,
      cloud: nic.cloud ?? this.o.config.cloud,
    };
  }

  /** The port's cloud-init document (its certificate is issued once, then reused). */
  private async userData(nic: ProviderNetworkInterface, hs: ProviderHyperswitch): Promise<string> {
    const facts = await this.portFacts(nic.port_id);
    const remote = vmsIp(hs, nic.index);
    if (!facts || !remote) return '';
    const cert = await this.o.ca.issueClient({ portId: nic.port_id, providerIp: nic.private_ip });
    return buildUserData({
      portId: nic.port_id,
      macAddress: facts.mac,
      remoteIp: remote,
      remotePort: Number(nic.tags[NIC_TAGS.vpnPort]),
      mtu: facts.mtu,
      underlayMtu: this.cloudConfig(nic.cloud).underlay_mtu,
      serverName: hs.id,
      caPem: cert.caPem,
      certPem: cert.certPem,
      keyPem: cert.keyPem,
    });
  }
}

function presentHs(h: ProviderHyperswitch): HyperswitchWire {
  const { state, ...rest } = h;
  return { ...rest, project_id: h.tenant_id, status: state, cloud: h.cloud ?? '' };
}
