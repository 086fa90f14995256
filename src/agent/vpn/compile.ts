/**
 * The agentless feature's compile (pure): the hyperswitch's VPN configuration from the server and the
 * model → the spec of each OpenVPN server this host runs (ports bound here, actively or as a move's
 * target) → each server's config text (server-config.ts writes one). diff.ts compares the texts with
 * what is on disk and running; driver.ts applies.
 */
import { wiredOn } from '../../model/bindings.js';
import type { VpnAgentConfig } from '../../model/agentless.js';
import type { ModelView } from '../../model/model-cache.js';
import { compileServerConfig, type VpnServerFiles, type VpnServerSpec } from './server-config.js';

/** The server specs of the OpenVPN ports bound (or being prepared) on `host` (WireGuard ports: ./wg-compile.ts). */
export function compileVpnSpecs(cfg: VpnAgentConfig, model: ModelView, host: string): VpnServerSpec[] {
  return cfg.ports
    .filter((p) => p.vpn_type !== 'wireguard')
    .filter((p) => {
      const port = model.ports.get(p.port_id);
      return !!port && wiredOn(port, host);
    })
    .map((p) => ({
      portId: p.port_id,
      providerIp: p.provider_ip,
      macAddress: p.mac_address,
      listenIp: p.listen_ip,
      listenPort: p.listen_port,
      mtu: p.mtu,
      underlayMtu: p.underlay_mtu,
    }));
}

/** Each server's config text by port id; `filesOf` names the files of a port's server. */
export function compileVpnConfigs(
  specs: readonly VpnServerSpec[],
  filesOf: (portId: string) => VpnServerFiles,
  certFingerprint: string,
): Map<string, string> {
  return new Map(specs.map((s) => [s.portId, compileServerConfig(s, filesOf(s.portId), certFingerprint)]));
}
