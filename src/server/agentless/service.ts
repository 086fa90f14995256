/**
 * The agentless plugin of the server (the seed's HyperswitchPlugin): the create/list/show/delete
 * logic of agentless ports and hyperswitches over a ProviderDriver, the CA and the store.
 *
 * Neither entity is a store row (seed: provider entities only). An agentless port is the provider
 * network interface, tagged with the hyperswitch that serves it and its VPN UDP port; a hyperswitch
 * is the provider VM. What the server does keep is the Neutron side: the hyper port is bound
 * (`binding:host_id`) to the hyperswitch's agent host, so that agent wires it like a local port.
 * Creates and deletes run one at a time (a hyperswitch is created by the first port of its level and
 * removed with the last), reads go to the provider.
 */
import type { Logger } from '../../common/log.js';
import { FLAVORS, type AgentlessConfig, type Flavor } from '../../agentless/config.js';
import type { AgentlessPort, Hyperswitch } from '../../agentless/model.js';
import { allocateVpnPort } from '../../agentless/openvpn/server-config.js';
import type { CertificateAuthority } from '../../agentless/pki/ca.js';
import { NIC_TAGS, type HyperswitchOwner, type ProviderDriver, type ProviderHyperswitch, type ProviderNetworkInterface } from '../../agentless/provider.js';
import { buildHyperswitchUserData, buildUserData } from '../../agentless/userdata.js';
import type { Port } from '../../model/types.js';
import type { Store } from '../../store/store.js';
import { Mutex } from '../../store/mutex.js';
import { faults, NeutronFault } from '../errors.js';
import type { Ctx } from '../resource.js';
import { ports as portsDef } from '../resources/ports.js';
import { storeUpdate } from '../routes.js';

/** An agentless port on the wire: the seed's attributes plus its owner and provider IP. */
export interface AgentlessPortWire extends AgentlessPort {
  project_id: string;
  tenant_id: string;
  private_ip: string;
  hyperswitch_id: string;
}

/** A hyperswitch on the wire: the seed's attributes plus project_id (= tenant_id) and the VM state. */
export interface HyperswitchWire extends Hyperswitch {
  project_id: string | null;
  status: string;
}

/** What the agent of a hyperswitch needs to run its OpenVPN servers. */
export interface VpnAgentConfig {
  hyperswitch_id: string;
  ca_pem: string;
  cert_pem: string;
  key_pem: string;
  crl_pem: string;
  ports: {
    port_id: string;
    provider_ip: string;
    mac_address: string;
    listen_ip: string;
    listen_port: number;
    mtu: number;
    underlay_mtu: number;
  }[];
}

export interface AgentlessServiceOptions {
  config: AgentlessConfig;
  provider: ProviderDriver;
  ca: CertificateAuthority;
  store: Store;
  log: Logger;
}

const notFound = (what: 'Agentlessport' | 'Hyperswitch', id: string) =>
  new NeutronFault(404, `${what}NotFound`, `${what} ${id} could not be found.`);

const vmsIp = (hs: Hyperswitch, index: number): string | null => [hs.vms_ip_0, hs.vms_ip_1, hs.vms_ip_2][index] ?? null;

export class AgentlessService {
  private readonly mutex = new Mutex();
  private crl: string | null = null;

  constructor(private readonly o: AgentlessServiceOptions) {}

  get config(): AgentlessConfig {
    return this.o.config;
  }

  // ---------------------------------------------------------------- agentless ports

  async createPort(ctx: Ctx, body: { port_id: string; flavor?: Flavor; device_id?: string; index?: number }): Promise<AgentlessPortWire> {
    return this.mutex.run(async () => {
      const { provider, config } = this.o;
      const port = await this.visiblePort(ctx, body.port_id);
      if (!port) throw faults.notFound('port', body.port_id);
      if ((await provider.getNetworkInterfaces({ port_ids: [port.id] })).length) {
        throw faults.conflict('AgentlessportExists', `Port ${port.id} already has an agentless port.`);
      }
      const index = body.index ?? 0;
      const device = body.device_id ?? port.device_id;
      const perVm = body.device_id !== undefined || config.level === 'vm';
      if (perVm && !device) throw faults.invalidInput('level vm needs a device_id (given, or the port\'s)');
      const owner: HyperswitchOwner = perVm
        ? { hybrid_cloud_device_id: device, hybrid_cloud_tenant_id: port.project_id }
        : { hybrid_cloud_tenant_id: port.project_id };
      const flavor = body.flavor ?? config.default_flavor;
      const hs = (await this.findHyperswitch(owner)) ?? (await this.launch(owner, flavor));
      const listenIp = vmsIp(hs, index);
      if (!listenIp) throw faults.invalidInput(`hyperswitch ${hs.id} has no vms NIC for index ${index}`);
      const onHs = await provider.getNetworkInterfaces();
      const used = onHs.filter((n) => n.tags[NIC_TAGS.hyperswitch] === hs.id).map((n) => Number(n.tags[NIC_TAGS.vpnPort]));
      const vpnPort = allocateVpnPort(used, config.vpn_port_min, config.vpn_port_max);
      const subnet = (await provider.getVmsSubnet())[index];
      if (!subnet) throw faults.invalidInput(`no vms subnet for index ${index}`);
      const sgs = await provider.getSgs();
      const nic = await provider.createNetworkInterface({
        port_id: port.id,
        device_id: device,
        tenant_id: port.project_id,
        index,
        subnet,
        security_group: sgs.vm_sg ?? config.vm_sg_name,
        tags: { [NIC_TAGS.hyperswitch]: hs.id, [NIC_TAGS.vpnPort]: String(vpnPort), [NIC_TAGS.flavor]: hs.flavor },
      });
      await this.bind(ctx, port.id, hs.id);
      this.o.log.info({ port: port.id, nic: nic.id, hyperswitch: hs.id }, 'agentless port created');
      return this.present(nic, [hs]);
    });
  }

  async listPorts(ctx: Ctx, filter: Parameters<ProviderDriver['getNetworkInterfaces']>[0] = {}): Promise<AgentlessPortWire[]> {
    const nics = await this.o.provider.getNetworkInterfaces(this.scopeTenants(ctx, filter));
    const hss = await this.o.provider.getHyperswitchs();
    return Promise.all(nics.map((n) => this.present(n, hss)));
  }

  async showPort(ctx: Ctx, id: string): Promise<AgentlessPortWire> {
    const [nic] = await this.o.provider.getNetworkInterfaces(this.scopeTenants(ctx, { names: [id] } as { names: string[]; tenant_ids?: string[] }));
    if (!nic) throw notFound('Agentlessport', id);
    return this.present(nic, await this.o.provider.getHyperswitchs());
  }

  /** Deletes the interface, revokes the port's certificate, and the hyperswitch with its level's last port. */
  async deletePort(ctx: Ctx, id: string): Promise<void> {
    return this.mutex.run(async () => {
      const { provider, ca } = this.o;
      const [nic] = await provider.getNetworkInterfaces(this.scopeTenants(ctx, { names: [id] } as { names: string[]; tenant_ids?: string[] }));
      if (!nic) throw notFound('Agentlessport', id);
      await provider.deleteNetworkInterface(nic.id);
      if ((await ca.revokeClient(nic.port_id)).length) this.crl = null;
      const hsId = nic.tags[NIC_TAGS.hyperswitch] ?? '';
      await this.bind(ctx, nic.port_id, '', hsId);
      const left = (await provider.getNetworkInterfaces()).filter((n) => n.tags[NIC_TAGS.hyperswitch] === hsId);
      // vm level: the VM's last port (its only one, in the usual case) takes its hyperswitch with it;
      // tenant level: only the tenant's last port does.
      if (hsId && left.length === 0) {
        await provider.deleteHyperswitch(hsId);
        this.o.log.info({ hyperswitch: hsId }, 'hyperswitch removed with its last agentless port');
      }
      this.o.log.info({ id, port: nic.port_id }, 'agentless port deleted');
    });
  }

  // ---------------------------------------------------------------- hyperswitches

  async createHyperswitch(ctx: Ctx, body: { flavor?: Flavor; device_id?: string; tenant_id?: string; project_id?: string }): Promise<HyperswitchWire> {
    return this.mutex.run(async () => {
      const tenant = body.tenant_id ?? body.project_id ?? ctx.caller.projectId;
      if (!ctx.caller.isAdmin && tenant !== ctx.caller.projectId) throw faults.forbidden('(rule:create_hyperswitch:tenant_id) is disallowed by policy');
      const owner: HyperswitchOwner = body.device_id
        ? { hybrid_cloud_device_id: body.device_id, hybrid_cloud_tenant_id: tenant }
        : { hybrid_cloud_tenant_id: tenant };
      if (await this.findHyperswitch(owner)) throw faults.conflict('HyperswitchExists', `A hyperswitch for ${body.device_id ? `device ${body.device_id}` : `tenant ${tenant}`} exists.`);
      return presentHs(await this.launch(owner, body.flavor ?? this.o.config.default_flavor));
    });
  }

  async listHyperswitchs(ctx: Ctx, filter: Parameters<ProviderDriver['getHyperswitchs']>[0] = {}): Promise<HyperswitchWire[]> {
    return (await this.o.provider.getHyperswitchs(this.scopeTenants(ctx, filter))).map(presentHs);
  }

  async showHyperswitch(ctx: Ctx, id: string): Promise<HyperswitchWire> {
    const [hs] = await this.o.provider.getHyperswitchs(this.scopeTenants(ctx, { hyperswitch_ids: [id] } as { hyperswitch_ids: string[]; tenant_ids?: string[] }));
    if (!hs) throw notFound('Hyperswitch', id);
    return presentHs(hs);
  }

  async deleteHyperswitch(ctx: Ctx, id: string): Promise<void> {
    return this.mutex.run(async () => {
      const [hs] = await this.o.provider.getHyperswitchs(this.scopeTenants(ctx, { hyperswitch_ids: [id] } as { hyperswitch_ids: string[]; tenant_ids?: string[] }));
      if (!hs) throw notFound('Hyperswitch', id);
      const users = (await this.o.provider.getNetworkInterfaces()).filter((n) => n.tags[NIC_TAGS.hyperswitch] === id);
      if (users.length) throw faults.conflict('HyperswitchInUse', `Hyperswitch ${id} serves agentless ports ${users.map((n) => n.id).join(', ')}.`);
      await this.o.provider.deleteHyperswitch(id);
    });
  }

  // ---------------------------------------------------------------- agent side

  /** The VPN configuration of one hyperswitch's agent: its server certificate, the CRL and its ports. */
  async vpnConfig(hyperswitchId: string): Promise<VpnAgentConfig> {
    const { provider, ca, config } = this.o;
    const [hs] = await provider.getHyperswitchs({ hyperswitch_ids: [hyperswitchId] });
    if (!hs) throw notFound('Hyperswitch', hyperswitchId);
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
        port_id: n.port_id, provider_ip: n.private_ip, mac_address: facts.mac, listen_ip: listen,
        listen_port: Number(n.tags[NIC_TAGS.vpnPort]), mtu: facts.mtu, underlay_mtu: config.underlay_mtu,
      });
    }
    return { hyperswitch_id: hs.id, ca_pem: server.caPem, cert_pem: server.certPem, key_pem: server.keyPem, crl_pem: this.crl, ports };
  }

  // ---------------------------------------------------------------- helpers

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
    if (owner.hybrid_cloud_device_id) return (await provider.getHyperswitchs({ device_ids: [owner.hybrid_cloud_device_id] }))[0];
    return (await provider.getHyperswitchs({ tenant_ids: [owner.hybrid_cloud_tenant_id!] })).find((h) => !h.device_id);
  }

  private async launch(owner: HyperswitchOwner, flavor: Flavor): Promise<ProviderHyperswitch> {
    const { provider, config } = this.o;
    if (!FLAVORS.includes(flavor)) throw faults.invalidInput(`flavor must be one of ${FLAVORS.join(', ')}`);
    const host = provider.getHyperswitchHostName(owner);
    const sgs = await provider.getSgs();
    const vms = await provider.getVmsSubnet();
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

  private async present(nic: ProviderNetworkInterface, hss: readonly ProviderHyperswitch[]): Promise<AgentlessPortWire> {
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
    };
  }

  /** The port's cloud-init document (its certificate is issued once, then reused). */
  private async userData(nic: ProviderNetworkInterface, hs: ProviderHyperswitch): Promise<string> {
    const facts = await this.portFacts(nic.port_id);
    const remote = vmsIp(hs, nic.index);
    if (!facts || !remote) return '';
    const cert = await this.o.ca.issueClient({ portId: nic.port_id, providerIp: nic.private_ip });
    return buildUserData({
      portId: nic.port_id, macAddress: facts.mac, remoteIp: remote, remotePort: Number(nic.tags[NIC_TAGS.vpnPort]),
      mtu: facts.mtu, underlayMtu: this.o.config.underlay_mtu, serverName: hs.id,
      caPem: cert.caPem, certPem: cert.certPem, keyPem: cert.keyPem,
    });
  }
}

function presentHs(h: ProviderHyperswitch): HyperswitchWire {
  const { state, ...rest } = h;
  return { ...rest, project_id: h.tenant_id, status: state };
}
