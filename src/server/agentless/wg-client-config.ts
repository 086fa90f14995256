/**
 * Pure compile of the stock `wg-quick` config of a WireGuard agentless port: the port's hyper IPs as
 * host addresses on the interface, its private key, the MTU, and one peer, the hyperswitch, with its
 * public key and endpoint; the peer's AllowedIPs are the hyper network's subnets, so wg-quick routes
 * them into the tunnel (WireGuard is layer 3: no DHCP, no ARP inside the tunnel). No `DNS=` line:
 * wg-quick would need resolvconf for it. A keepalive makes the client handshake as soon as it is up,
 * so the hyperswitch learns its endpoint and L2 neighbours can reach it before it sends anything.
 */
import { assertWord } from '../../model/grammar/words.js';
import { ipVersion } from '../../model/grammar/addresses.js';
import { isWgKey } from '../../model/encryption.js';

export interface WgClientSpec {
  portId: string;
  privateKey: string;
  /** The port's fixed IPs (hyper IPs). */
  addresses: readonly string[];
  mtu: number;
  serverPublicKey: string;
  endpointIp: string;
  endpointPort: number;
  /** Routed into the tunnel: the CIDRs of the port's network's subnets. */
  routes: readonly string[];
}

const key = (what: string, k: string): string => {
  if (!isWgKey(k)) throw new Error(`${what} is not a WireGuard key`);
  return k;
};

export function compileWgClientConfig(s: WgClientSpec): string {
  const host = (ip: string) => `${assertWord('address', ip)}/${ipVersion(ip) === 6 ? 128 : 32}`;
  const endpoint = ipVersion(s.endpointIp) === 6 ? `[${s.endpointIp}]` : assertWord('endpointIp', s.endpointIp);
  return [
    `# hypernet agentless WireGuard client for port ${assertWord('portId', s.portId)} (generated)`,
    '[Interface]',
    `PrivateKey = ${key('privateKey', s.privateKey)}`,
    `Address = ${s.addresses.map(host).join(', ')}`,
    `MTU = ${s.mtu}`,
    '',
    '[Peer]',
    `PublicKey = ${key('serverPublicKey', s.serverPublicKey)}`,
    `Endpoint = ${endpoint}:${s.endpointPort}`,
    `AllowedIPs = ${s.routes.map((r) => assertWord('route', r)).join(', ')}`,
    'PersistentKeepalive = 25',
    '',
  ].join('\n');
}
