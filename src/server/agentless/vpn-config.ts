/**
 * The VPN side of the agentless plugin: what a hyperswitch's agent is told to serve (its server
 * certificate, the CA, the CRL and one OpenVPN server per agentless port it hosts), the revocation
 * of a port's client certificate (the cached CRL is rebuilt on the next poll), and the tracker of
 * what each agent reports serving. WireGuard ports come with their client's public key, and the
 * hyperswitch then gets its own WireGuard key pair for them. The HTTP layer lets only admins (the
 * agents) reach it.
 */
import { AGENTLESS_WG_PORT, type VpnAgentConfig } from '../../model/agentless.js';
import { NIC_TAGS } from '../../model/provider.js';
import { type AgentlessDeps, cloudConfig, nicsOn, notFound, portFacts, vmsIp } from './context.js';
import { vpnTypeOf } from './port-view.js';
import { ServingTracker } from './serving.js';

export class VpnConfigs {
  readonly serving = new ServingTracker();
  private crl: string | null = null;

  constructor(private readonly d: AgentlessDeps) {}

  /** Revokes the port's client certificate (a deleted or moved port); the CRL is rebuilt when it changed. */
  async revokeClient(portId: string): Promise<void> {
    if ((await this.d.ca.revokeClient(portId)).length) this.crl = null;
  }

  /** The VPN configuration of one hyperswitch's agent. */
  async forHyperswitch(hyperswitchId: string): Promise<VpnAgentConfig> {
    const { provider, ca, store } = this.d;
    const [hs] = await provider.getHyperswitchs({ hyperswitch_ids: [hyperswitchId] });
    if (!hs) throw notFound('Hyperswitch', hyperswitchId);
    const config = cloudConfig(this.d.config, hs.cloud);
    const ips = [hs.vms_ip_0, hs.vms_ip_1, hs.vms_ip_2].filter((x): x is string => !!x);
    const server = await ca.issueServer({ name: hs.id, ips });
    this.crl ??= await ca.crlPem();
    const ports: VpnAgentConfig['ports'] = [];
    for (const n of await nicsOn(provider, hs.id)) {
      const facts = await portFacts(store, n.port_id);
      const listen = vmsIp(hs, n.index);
      if (!facts || !listen) continue;
      const wg = vpnTypeOf(n) === 'wireguard';
      ports.push({
        port_id: n.port_id,
        provider_ip: n.private_ip,
        mac_address: facts.mac,
        listen_ip: listen,
        listen_port: wg ? AGENTLESS_WG_PORT : Number(n.tags[NIC_TAGS.vpnPort]),
        mtu: facts.mtu,
        underlay_mtu: config.underlay_mtu,
        vpn_type: vpnTypeOf(n),
        ...(wg ? { client_public_key: (await ca.wgKey('client', n.port_id)).publicKey } : {}),
      });
    }
    const wgKeys = ports.some((p) => p.vpn_type === 'wireguard') ? await ca.wgKey('server', hs.id) : null;
    return {
      hyperswitch_id: hs.id,
      ca_pem: server.caPem,
      cert_pem: server.certPem,
      key_pem: server.keyPem,
      crl_pem: this.crl,
      ports,
      ...(wgKeys
        ? {
            wireguard: {
              private_key: wgKeys.privateKey,
              public_key: wgKeys.publicKey,
              listen_port: AGENTLESS_WG_PORT,
            },
          }
        : {}),
    };
  }
}
