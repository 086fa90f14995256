/**
 * Pure compile of the stock OpenVPN client config of an agentless port: TAP, UDP to the port's own
 * server on the hyperswitch vms IP, certificates inline, the port's MAC on the TAP (`lladdr`), the
 * hyper network MTU, MSS fixed to the underlay, and the hook script as `up`/`down` (it runs DHCP on
 * the TAP and swaps the routes, see ../userdata.ts). Paths are relative: the client runs with
 * `--cd` its own directory (systemd's openvpn-client@ unit does the same).
 */
import { DATA_CHANNEL_TUNING } from '../../model/agentless.js';
import { assertWord } from '../../model/grammar/words.js';

export interface VpnClientSpec {
  portId: string;
  macAddress: string;
  /** The hyperswitch vms IP and UDP port of this port's server. */
  remoteIp: string;
  remotePort: number;
  mtu: number;
  underlayMtu: number;
  /** CN of the hyperswitch server certificate, pinned when given. */
  serverName?: string;
  caPem: string;
  certPem: string;
  keyPem: string;
  /** Script file name, relative to the config's directory. */
  hookName: string;
}

export function compileClientConfig(s: VpnClientSpec): string {
  const inline = (tag: string, pem: string) => `<${tag}>\n${pem.trim()}\n</${tag}>`;
  const hook = `./${assertWord('hookName', s.hookName)}`;
  return [
    `# hypernet agentless OpenVPN client for port ${assertWord('portId', s.portId)} (generated)`,
    'client',
    'dev tap',
    'proto udp4',
    `remote ${assertWord('remoteIp', s.remoteIp)} ${s.remotePort}`,
    'nobind',
    'resolv-retry infinite',
    'remote-cert-tls server',
    ...(s.serverName ? [`verify-x509-name ${assertWord('serverName', s.serverName)} name`] : []),
    `lladdr ${assertWord('macAddress', s.macAddress)}`,
    `tun-mtu ${s.mtu}`,
    `mssfix ${s.underlayMtu} mtu`,
    ...DATA_CHANNEL_TUNING,
    // Reach a server that is not listening yet (a move's target) within seconds: retransmit the
    // handshake every second, restart after 4 s without an answer, and retry 1 s later (at most 4 s).
    'tls-timeout 1',
    'server-poll-timeout 4',
    'connect-retry 1 4',
    'persist-key',
    'persist-tun',
    'explicit-exit-notify 1',
    'script-security 2',
    `up ${hook}`,
    `down ${hook}`,
    'verb 3',
    inline('ca', s.caPem),
    inline('cert', s.certPem),
    inline('key', s.keyPem),
    '',
  ].join('\n');
}
