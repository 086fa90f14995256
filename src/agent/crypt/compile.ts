/**
 * Pure: (this node, the watched model, its own keys) → the desired WireGuard state, and the tunnel
 * destination of every remote host for the datapath's FDB: a plaintext peer's underlay IP, or an
 * encrypted peer's inner address (its VXLAN then goes into the WireGuard interface). An encrypted
 * pair whose other end has no key or is disabled (or this node runs no encryption) gets no destination:
 * the tunnel fails closed, it never falls back to plaintext.
 *
 * The peers are every trusted host that some network's policy could pair with this one encrypted,
 * not only the pairs encrypted now: a pair turns encrypted when a port lands on it, and the peer is
 * then already there (setting it up held a migrated port's traffic back by 300–400 ms under load).
 */
import { deepFreeze } from '../../common/freeze.js';
import {
  agentPublicKey,
  encryptionPlan,
  INNER_PREFIX_LEN,
  innerAddresses,
  isWgIfaceName,
  type EncryptionPlan,
  wgOverhead,
} from '../../model/encryption.js';
import { canonicalIp, ipVersion, isIp } from '../../model/grammar/addresses.js';
import type { ModelView } from '../../model/model-cache.js';
import type { Agent } from '../../model/types.js';
import { VXLAN_DSTPORT } from '../../model/kernel-names.js';
import { vtepsByHost } from '../datapath/compile.js';
import type { NodeInfo } from '../datapath/types.js';
import type { DesiredPeer, DesiredWg } from './types.js';

/** The nftables table this feature owns wholesale. */
export const WG_NFT_TABLE = 'hypernet_wg';
export const DEFAULT_WG_PORT = 51820;
export { defaultWgIface } from '../../model/encryption.js';

/** What the crypt compile needs about this node besides the model. */
export interface CryptNode extends NodeInfo {
  iface: string;
  listenPort: number;
  /** UDP socket buffer for a wireguard-go daemon (bytes); 0 or absent: its default. */
  socketBuffer?: number;
  /** RPS CPU mask for a wireguard-go interface; '' or absent: leave it. */
  rpsCpus?: string;
  /** TX queue length of a wireguard-go interface; 0 or absent: leave it. */
  txQueueLen?: number;
}

/**
 * The TX queue the agent gives its wireguard-go interfaces (the kernel's default is 500): on a
 * loaded 2-core node the overlay's queue dropped ~2 % of the packets of one TCP flow (a locally
 * sent flow, held back by the socket's own queue limits, ~0.2 %); with 2000 the same flow lost far
 * fewer and ran faster (docs/encryption.md, "Tuning wireguard-go").
 */
export const WG_TXQUEUELEN = 2000;

/** One plan and one inner-address map per model (the datapath, DHCP and this feature share them). */
const memo = new WeakMap<object, { key: readonly unknown[]; plan: EncryptionPlan; inner: Map<string, string> }>();
export function planOf(model: ModelView): { plan: EncryptionPlan; inner: Map<string, string> } {
  const key = [model.revision, model.ports, model.networks, model.agents];
  const m = memo.get(model.agents);
  if (m && key.every((k, i) => k === m.key[i])) return m;
  const fresh = { key, plan: encryptionPlan(model), inner: innerAddresses(model.agents.values()) };
  memo.set(model.agents, fresh);
  return fresh;
}

/**
 * Where this node's VXLAN sends to each remote host. `encrypting`: this node runs the encrypted
 * overlay (else every pair that must be encrypted is cut).
 */
export function tunnelDestinations(node: NodeInfo, model: ModelView, encrypting: boolean): Map<string, string> {
  const { plan, inner } = planOf(model);
  const out = vtepsByHost(model);
  const keyed = new Set([...model.agents.values()].filter(trusted).map((a) => a.host));
  const selfReady = encrypting && inner.has(node.host) && keyed.has(node.host);
  for (const host of [...out.keys()]) {
    if (host === node.host || !plan.encrypted(node.host, host)) continue;
    const dst = inner.get(host);
    if (selfReady && dst && keyed.has(host)) out.set(host, dst);
    else out.delete(host);
  }
  return out;
}

/**
 * An agent whose key is trusted: it has one and is not disabled. Disabling an agent (admin_state_up
 * false) revokes it: every peer drops its key, and its encrypted tunnels are cut.
 */
const trusted = (a: Agent): boolean => a.admin_state_up !== false && agentPublicKey(a) !== undefined;

const byHost = (a: DesiredPeer, b: DesiredPeer): number => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0);

/** The guard of UDP 4789: VXLAN is taken from the WireGuard interface, or from a plaintext peer. */
export function renderGuard(iface: string, plainPeers: readonly string[]): string {
  const v4 = plainPeers.filter((ip) => ipVersion(ip) === 4);
  const v6 = plainPeers.filter((ip) => ipVersion(ip) === 6);
  const set = (name: string, type: string, ips: string[]) =>
    `  set ${name} {\n    type ${type}\n${ips.length ? `    elements = { ${ips.join(', ')} }\n` : ''}  }\n`;
  return (
    `table inet ${WG_NFT_TABLE} {\n` +
    set('plain4', 'ipv4_addr', v4) +
    set('plain6', 'ipv6_addr', v6) +
    '  chain input {\n' +
    '    type filter hook input priority -10; policy accept;\n' +
    `    udp dport ${VXLAN_DSTPORT} iifname "${iface}" accept\n` +
    `    udp dport ${VXLAN_DSTPORT} ip saddr @plain4 accept\n` +
    `    udp dport ${VXLAN_DSTPORT} ip6 saddr @plain6 accept\n` +
    `    udp dport ${VXLAN_DSTPORT} counter drop\n` +
    '  }\n}\n'
  );
}

export function compileWg(
  node: CryptNode,
  model: ModelView,
  keys: { privateKeyFile: string; publicKey: string },
): DesiredWg {
  if (!isWgIfaceName(node.iface)) throw new Error(`bad WireGuard interface name ${JSON.stringify(node.iface)}`);
  const { plan, inner } = planOf(model);
  const vteps = vtepsByHost(model);
  const peers: DesiredPeer[] = [];
  const plain: string[] = [];
  const me = inner.get(node.host);
  for (const a of model.agents.values()) {
    const ip = vteps.get(a.host);
    if (a.host === node.host || !ip || ip === node.underlayIp) continue;
    if (!plan.encrypted(node.host, a.host) && !plain.includes(ip)) plain.push(ip);
    if (!plan.mayEncrypt(node.host, a.host)) continue;
    const publicKey = agentPublicKey(a);
    const addr = inner.get(a.host);
    if (
      !publicKey ||
      !trusted(a) ||
      !addr ||
      publicKey === keys.publicKey ||
      peers.some((p) => p.publicKey === publicKey)
    )
      continue;
    const endpoint = ipVersion(ip) === 6 ? `[${ip}]:${node.listenPort}` : `${ip}:${node.listenPort}`;
    const host = ipVersion(ip) === 6 ? `${ip}/128` : `${ip}/32`;
    peers.push({ host: a.host, publicKey, endpoint, allowedIps: [`${addr}/32`, host] });
  }
  peers.sort(byHost);
  plain.sort();
  const underlay = isIp(node.underlayIp) ? canonicalIp(node.underlayIp) : node.underlayIp;
  return deepFreeze({
    iface: node.iface,
    listenPort: node.listenPort,
    privateKeyFile: keys.privateKeyFile,
    publicKey: keys.publicKey,
    mtu: node.underlayMtu - wgOverhead(underlay),
    address: me ? `${me}/${INNER_PREFIX_LEN}` : null,
    peers,
    plainPeers: plain,
    nft: renderGuard(node.iface, plain),
    socketBuffer: node.socketBuffer ?? 0,
    rpsCpus: node.rpsCpus ?? '',
    txQueueLen: node.txQueueLen ?? 0,
  });
}
