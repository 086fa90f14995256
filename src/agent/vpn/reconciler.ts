/**
 * The agentless sub-reconciler of a hyperswitch's agent (`hypernet agent --agentless`). Each run it
 * asks the server for this hyperswitch's VPN configuration (`GET /v2.0/hyperswitches/{host}/vpn`:
 * server certificate, CRL, agentless ports with provider IP, MAC, listen IP/port, MTU) and makes the
 * OpenVPN servers exactly that (`OpenVpnServers.sync`). Level-triggered: a port that left the list is
 * stopped (its client dropped, its TAP deleted), the CRL is rewritten when it changed. A port is served
 * only once the model shows its Neutron port bound to this host, actively or as a move's INACTIVE
 * target (so the new tunnel is up before the binding is activated), and runs before the datapath so the
 * TAP `tap<port id[0:11]>` exists when the datapath enslaves it like any local port (firewall and DHCP
 * then apply as for a VM's veth). When the server says the hyperswitch does not exist (404) every
 * server is removed; when the server is unreachable nothing is touched. After each sync it reports the
 * ports whose server runs (`PUT …/vpn {"vpn": {"serving": […]}}`, when that set changed): a move
 * activates the port on this hyperswitch only once its server listens. WireGuard ports go to
 * `AgentlessWg` (./wg-reconciler.ts): one interface, a peer per port; a port is served once its peer is set.
 */
import { ApiError, type ApiClient } from '../../client/api.js';
import type { Logger } from '../../common/log.js';
import type { OpenVpnServers } from './driver.js';
import { fingerprint, type VpnServerSpec } from './server-config.js';
import { compileVpnSpecs } from './compile.js';
import type { VpnAgentConfig } from '../../model/agentless.js';
import type { ModelView } from '../../model/model-cache.js';
import type { SubReconciler } from '../loop/reconciler.js';
import type { AgentlessWg } from './wg-reconciler.js';

export interface AgentlessReconcilerOptions {
  api: Pick<ApiClient, 'call'>;
  host: string;
  servers: OpenVpnServers;
  /** The WireGuard agentless ports' part; without it WireGuard ports are not served. */
  wg?: AgentlessWg;
  log: Logger;
}

export class AgentlessReconciler implements SubReconciler {
  readonly name = 'agentless';
  private certPrint = '';
  private crlPrint = '';
  /** The serving set last reported to the server. */
  private reported: string | null = null;
  private wgServed: ReadonlySet<string> = new Set();

  constructor(private readonly o: AgentlessReconcilerOptions) {}

  async reconcile(model: ModelView): Promise<void> {
    const { api, host, servers, log } = this.o;
    let cfg: VpnAgentConfig | null;
    try {
      cfg = (await api.call<{ vpn: VpnAgentConfig }>('GET', `/v2.0/hyperswitches/${encodeURIComponent(host)}/vpn`)).vpn;
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 404) throw e;
      cfg = null;
    }
    if (!cfg) {
      await servers.sync([]);
      await this.o.wg?.sync(null, model);
      this.wgServed = new Set();
      return;
    }
    const certPrint = fingerprint(cfg.cert_pem + cfg.ca_pem + cfg.key_pem);
    if (certPrint !== this.certPrint) {
      await servers.setCredentials({
        caPem: cfg.ca_pem,
        certPem: cfg.cert_pem,
        keyPem: cfg.key_pem,
        crlPem: cfg.crl_pem,
      });
      this.certPrint = certPrint;
      this.crlPrint = fingerprint(cfg.crl_pem);
      log.info({ host }, 'vpn credentials written');
    } else if (fingerprint(cfg.crl_pem) !== this.crlPrint) {
      await servers.setCrl(cfg.crl_pem);
      this.crlPrint = fingerprint(cfg.crl_pem);
      log.info({ host }, 'crl updated');
    }
    const specs = compileVpnSpecs(cfg, model, host);
    let wgServed: string[] = [];
    try {
      await servers.sync(specs);
      wgServed = (await this.o.wg?.sync(cfg, model)) ?? [];
    } finally {
      this.wgServed = new Set(wgServed);
      await this.report(specs, wgServed);
    }
  }

  /** The WireGuard agentless ports whose peer is in place: served with no tap (the datapath reports them). */
  servedWithoutTap(): ReadonlySet<string> {
    return this.wgServed;
  }

  /** Tells the server which ports' OpenVPN servers run here (a move activates the port after it). */
  private async report(specs: readonly VpnServerSpec[], wgServed: readonly string[]): Promise<void> {
    const serving: string[] = [...wgServed];
    for (const s of specs) if (await this.o.servers.pidOf(s.portId)) serving.push(s.portId);
    const key = serving.sort().join(',');
    if (key === this.reported) return;
    await this.o.api.call('PUT', `/v2.0/hyperswitches/${encodeURIComponent(this.o.host)}/vpn`, { vpn: { serving } });
    this.reported = key;
  }
}
