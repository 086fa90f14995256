/**
 * The agentless WireGuard compile (pure): a hyperswitch's VPN configuration from the server and the
 * model → one WireGuard interface for all its WireGuard agentless ports, and how each port's hyper IPs
 * join their network, layer 3 (docs/agentless.md, "WireGuard clients"):
 * - one peer per port, allowed IPs exactly its fixed IPs and allowed address pairs (cryptokey routing
 *   is the anti-spoofing: wireguard-go drops any other source from that client);
 * - a /32 route per address to the interface, a route per subnet to the network's bridge;
 * - proxy ARP for each address on the bridge, its answers rewritten to carry the port's MAC; frames
 *   for that MAC (also from nodes that know it from their permanent neighbour entries) are handed to
 *   the hyperswitch's IP stack by a bridge rule;
 * - the client's packets join the conntrack zone of their network (as the bridge's do);
 * - the port's security groups in the inet family, on the forward path through the interface.
 */
import { wiredOn } from '../../model/bindings.js';
import type { VpnAgentConfig } from '../../model/agentless.js';
import { WG_OVERHEAD_V4, isWgKey } from '../../model/encryption.js';
import { bridgeMac, bridgeName } from '../../model/kernel-names.js';
import type { ModelView } from '../../model/model-cache.js';
import type { Port, SecurityGroup } from '../../model/types.js';
import { groupMembers } from '../firewall/compile.js';
import { zonesFor } from '../firewall/conntrack.js';
import { ruleText } from '../firewall/rules.js';
import { isVni } from '../../model/vxlan.js';
import type { DesiredPeer, DesiredWg } from '../crypt/types.js';

/** Our nftables tables (owned wholesale, replaced in one transaction). */
export const WGA_TABLE = 'hypernet_wga';
/** Routes we own carry this protocol number (`ip route … proto`), so they are found and pruned. */
export const WGA_ROUTE_PROTO = 104;

export interface WgaRoute {
  /** `IP/32` (or /128) to the WireGuard interface, or a subnet CIDR to a bridge. */
  dst: string;
  dev: string;
}

export interface WgaDesired {
  wg: DesiredWg;
  /** The hyperswitch's private key (written to `wg.privateKeyFile` before `wg set` reads it). */
  privateKey: string;
  routes: WgaRoute[];
  /** Proxy ARP entries. */
  proxies: { ip: string; dev: string }[];
  /** Interfaces that must forward IPv4 (the WireGuard interface and the bridges it routes to). */
  forwarding: string[];
  /** Both tables' text (nft -f): the security groups and the port MACs handed to the stack. */
  nft: string;
  /** The ports whose peer this compiles (what the agent reports serving). */
  portIds: string[];
}

export interface WgaNode {
  host: string;
  iface: string;
  keyFile: string;
  /** wireguard-go's UDP socket buffers, RPS and TX queue, as the encrypted overlay tunes its own (../crypt/). */
  socketBuffer?: number;
  rpsCpus?: string;
  txQueueLen?: number;
}

const hostCidr = (ip: string): string => `${ip}/${ip.includes(':') ? 128 : 32}`;
const addrs = (p: Port): string[] => [
  ...p.fixed_ips.map((f) => hostCidr(f.ip_address)),
  ...(p.allowed_address_pairs ?? []).map((a) => (a.ip_address.includes('/') ? a.ip_address : hostCidr(a.ip_address))),
];

/** The desired state, or null when this hyperswitch serves no WireGuard port (then everything goes). */
export function compileWga(
  node: WgaNode,
  cfg: VpnAgentConfig | null,
  model: ModelView,
  groups: readonly SecurityGroup[],
): WgaDesired | null {
  if (!cfg?.wireguard) return null;
  const peers: DesiredPeer[] = [];
  const routes: WgaRoute[] = [];
  const proxies: WgaDesired['proxies'] = [];
  const bridges = new Set<string>();
  const macRules: string[] = [];
  const arpRules: string[] = [];
  const zoneRules: string[] = [];
  // The firewall tracks a network's traffic in its own conntrack zone, chosen by the bridge it comes
  // in on; a client's packets come in on our interface and must join that zone, or a reply coming
  // back over the bridge finds no connection (and an ICMP reply is then invalid).
  const zones = zonesFor(
    [...model.ports.values()]
      .filter((p) => wiredOn(p, node.host))
      .map((p) => model.networks.get(p.network_id)?.['provider:segmentation_id'])
      .filter(isVni),
  );
  const fwd: string[] = [];
  const local: Port[] = [];
  let underlayMtu = Infinity;
  for (const c of cfg.ports) {
    if (c.vpn_type !== 'wireguard' || !isWgKey(c.client_public_key)) continue;
    const port = model.ports.get(c.port_id);
    const net = port && model.networks.get(port.network_id);
    const vni = net?.['provider:segmentation_id'];
    if (!port || !net || !isVni(vni) || !wiredOn(port, node.host)) continue;
    const allowed = addrs(port);
    const br = bridgeName(vni);
    underlayMtu = Math.min(underlayMtu, c.underlay_mtu);
    local.push(port);
    peers.push({ host: port.id, publicKey: c.client_public_key, endpoint: null, allowedIps: allowed });
    for (const a of allowed) routes.push({ dst: a, dev: node.iface });
    for (const f of port.fixed_ips) if (!f.ip_address.includes(':')) proxies.push({ ip: f.ip_address, dev: br });
    for (const id of net.subnets) {
      const sn = model.subnets.get(id);
      if (sn) routes.push({ dst: sn.cidr, dev: br });
    }
    bridges.add(br);
    const mac = port.mac_address.toLowerCase();
    macRules.push(`ether daddr ${mac} ether daddr set ${bridgeMac(vni)} meta pkttype set host`);
    // Proxy ARP answers with the bridge's MAC, which every node's bridge of this network shares: the
    // answer must name the port's own MAC, which the other nodes forward to this hyperswitch.
    for (const f of port.fixed_ips)
      if (!f.ip_address.includes(':'))
        arpRules.push(
          `arp operation reply arp saddr ip ${f.ip_address} ether saddr set ${mac} arp saddr ether set ${mac}`,
        );
    fwd.push(...portFilter(node.iface, port, groups));
    const v4 = allowed.filter((a) => !a.includes(':'));
    if (v4.length)
      zoneRules.push(`iifname "${node.iface}" ip saddr { ${v4.join(', ')} } ct zone set ${zones.get(vni)}`);
  }
  const byKey = (a: { dst: string; dev: string }, b: { dst: string; dev: string }) =>
    `${a.dst} ${a.dev}` < `${b.dst} ${b.dev}` ? -1 : 1;
  const uniq = <T>(xs: T[]) => [...new Map(xs.map((x) => [JSON.stringify(x), x])).values()];
  const sets = [...groupMembers(new Set(local.flatMap((p) => p.security_groups)), [...model.ports.values()])].map(
    ([name, el]) =>
      `  set ${name} { type ${name.endsWith('v6') ? 'ipv6_addr' : 'ipv4_addr'}; flags interval;` +
      `${el.length ? ` elements = { ${el.join(', ')} }` : ''} }`,
  );
  const nft = [
    `table inet ${WGA_TABLE} {`,
    ...sets,
    '  chain zone {',
    // After the firewall's own zone chain (priority raw), before conntrack.
    '    type filter hook prerouting priority raw + 1; policy accept;',
    ...zoneRules.map((r) => `    ${r}`),
    '  }',
    '  chain forward {',
    '    type filter hook forward priority 0; policy accept;',
    `    iifname != "${node.iface}" oifname != "${node.iface}" accept`,
    '    ct state established,related accept',
    '    ct state invalid drop',
    ...fwd.map((r) => `    ${r}`),
    `    iifname "${node.iface}" drop`,
    `    oifname "${node.iface}" drop`,
    '  }',
    '}',
    `table bridge ${WGA_TABLE} {`,
    '  chain prerouting {',
    '    type filter hook prerouting priority -300; policy accept;',
    ...macRules.map((r) => `    ${r}`),
    '  }',
    '  chain output {',
    '    type filter hook output priority 0; policy accept;',
    ...arpRules.map((r) => `    ${r}`),
    '  }',
    '}',
    '',
  ].join('\n');
  return {
    wg: {
      iface: node.iface,
      listenPort: cfg.wireguard.listen_port,
      privateKeyFile: node.keyFile,
      publicKey: cfg.wireguard.public_key,
      mtu: (Number.isFinite(underlayMtu) ? underlayMtu : 1500) - WG_OVERHEAD_V4,
      address: null,
      peers,
      plainPeers: [],
      nft: '',
      socketBuffer: node.socketBuffer ?? 0,
      rpsCpus: node.rpsCpus ?? '',
      txQueueLen: node.txQueueLen ?? 0,
    },
    privateKey: cfg.wireguard.private_key,
    routes: uniq(routes).sort(byKey),
    proxies: uniq(proxies).sort((a, b) => (a.ip < b.ip ? -1 : 1)),
    forwarding: [node.iface, ...[...bridges].sort()],
    nft,
    portIds: peers.map((p) => p.host),
  };
}

/**
 * One port's security groups on the forward path: egress from its client (in on the interface, from
 * its addresses) and ingress to it (out on the interface). The SG rule text is the bridge firewall's,
 * without its Ethernet match (an L3 interface has none). A port without port security passes.
 */
function portFilter(iface: string, port: Port, groups: readonly SecurityGroup[]): string[] {
  const mine = addrs(port);
  const v4 = mine.filter((a) => !a.includes(':'));
  const set = v4.length ? `{ ${v4.join(', ')} }` : '';
  if (!set) return [];
  const from = `iifname "${iface}" ip saddr ${set}`;
  const to = `oifname "${iface}" ip daddr ${set}`;
  if (port.port_security_enabled === false) return [`${from} accept`, `${to} accept`];
  const out: string[] = [];
  for (const g of groups.filter((x) => port.security_groups.includes(x.id)))
    for (const r of g.security_group_rules) {
      if (r.ethertype === 'IPv6') continue;
      const text = ruleText(r)?.replace(/^ether type ip6? ?/, '');
      if (text === undefined) continue;
      out.push(`${r.direction === 'egress' ? from : to} ${text}`);
    }
  return out;
}
