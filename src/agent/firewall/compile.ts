/**
 * compileFirewall (pure): this node's ports, their security groups and every port's addresses →
 * one nft transaction that replaces the agent's tables `bridge hypernet` and `inet hypernet`.
 *
 * Layout (bridge table; docs/security-groups.md has the why):
 *  - prerouting -300: `iifname @spoof_ports jump spoof`: anti-spoofing against sets keyed by
 *    interface (port_macs, port_src_v4/v6), before conntrack sees the frame.
 *  - forward 10 (port_egress): DHCP never into a tunnel (`hnv-*`); established/related, ARP, DHCP
 *    client, ND accept; `iifname vmap @egress_ports` → eg_<port> → jump sg_<group>_eg … → drop.
 *  - forward 20 (port_ingress): established/related, ARP, DHCP replies, ND accept;
 *    `oifname vmap @ingress_ports` → in_<port> → jump sg_<group>_in … → drop.
 *  Per-port chains hold no anonymous sets: with thousands of ports those dominate nft -f time.
 *  - sets sg_<group>_v4/_v6: a remote group's member addresses; rules refer to them, so a
 *    membership change only rewrites set elements.
 * Ports with port security off (and network service ports) are in no map: nothing filters them.
 * "Established" is `ct state` in 'bridge-ct' mode, a mark bit set by the inet table in 'br-netfilter'.
 */
import type { Port, SecurityGroup } from '../../model/types.js';
import { mergeCidrs, ipVersion } from './addresses.js';
import {
  MARK_ESTABLISHED,
  MARK_INVALID,
  TABLE,
  groupChainName,
  groupSetName,
  isTrusted,
  portChainName,
  type CompiledFirewall,
  type FirewallInput,
  type FirewallMode,
} from './model.js';
import { ruleText } from './rules.js';
import { BRIDGE_PREFIX, VXLAN_PREFIX } from '../names.js';
import { SPOOF_CHAIN_RULES, SPOOF_SETS, spoofElements } from './spoof.js';

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
const byId = <T extends { id: string }>(a: T, b: T) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function stateRules(mode: FirewallMode): { established: string; invalid: string } {
  if (mode === 'bridge-ct') return { established: 'ct state established,related accept', invalid: 'ct state invalid drop' };
  return { established: `meta mark & ${hex(MARK_ESTABLISHED)} != 0 accept`, invalid: `meta mark & ${hex(MARK_INVALID)} != 0 drop` };
}

/** Member addresses of every group, by set name (fixed IPs and allowed address pairs). */
export function groupMembers(groupIds: Iterable<string>, allPorts: readonly Port[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const g of [...new Set(groupIds)].sort()) {
    const addrs = allPorts
      .filter((p) => p.security_groups.includes(g))
      .flatMap((p) => [...p.fixed_ips.map((f) => f.ip_address), ...(p.allowed_address_pairs ?? []).map((a) => a.ip_address)]);
    for (const v of [4, 6] as const) out.set(groupSetName(g, v), mergeCidrs(addrs.filter((a) => ipVersion(a) === v)));
  }
  return out;
}

function block(head: string, lines: readonly string[]): string {
  return [`\t${head} {`, ...lines.map((l) => `\t\t${l}`), '\t}'].join('\n');
}

function elements(xs: readonly string[]): string[] {
  return xs.length ? [`elements = { ${xs.join(',\n\t\t\t     ')} }`] : [];
}

function vmap(name: string, entries: [string, string][]): string {
  const lines = ['type ifname : verdict'];
  if (entries.length) lines.push(`elements = { ${entries.map(([k, c]) => `"${k}" : jump ${c}`).join(',\n\t\t\t     ')} }`);
  return block(`map ${name}`, lines);
}

export function compileFirewall(input: FirewallInput): CompiledFirewall {
  const state = stateRules(input.mode);
  const filtered = [...input.localPorts].filter((lp) => !isTrusted(lp.port)).sort((a, b) => byId(a.port, b.port));
  const groups = new Map<string, SecurityGroup>(input.securityGroups.map((g) => [g.id, g]));
  const usedGroups = [...new Set(filtered.flatMap((lp) => lp.port.security_groups))].filter((g) => groups.has(g)).sort();
  const rulesOf = (g: string) => [...groups.get(g)!.security_group_rules].sort(byId);
  const remoteGroups = usedGroups.flatMap((g) => rulesOf(g).flatMap((r) => (r.remote_group_id ? [r.remote_group_id] : [])));
  const sets = groupMembers(remoteGroups, input.allPorts);

  const setDecl = (name: string, elems: readonly string[] | null) =>
    block(`set ${name}`, [
      `type ${name.endsWith('_v4') ? 'ipv4_addr' : 'ipv6_addr'}`,
      'flags interval',
      ...(elems && elems.length ? [`elements = { ${elems.join(', ')} }`] : []),
    ]);

  const chains: [string, string[]][] = [];
  const spoof = new Map<string, string[]>(SPOOF_SETS.map(([n]) => [n, []]));
  for (const { port, ifname } of filtered) {
    const sgs = port.security_groups.filter((g) => groups.has(g)).sort();
    const el = spoofElements(port, ifname);
    spoof.get('spoof_ports')!.push(`"${ifname}"`);
    spoof.get('port_macs')!.push(...el.macs);
    spoof.get('port_src_v4')!.push(...el.v4);
    spoof.get('port_src_v6')!.push(...el.v6);
    for (const dir of ['egress', 'ingress'] as const) {
      chains.push([portChainName(port.id, dir), [state.invalid, ...sgs.map((g) => `jump ${groupChainName(g, dir)}`), 'counter drop']]);
    }
  }
  for (const g of usedGroups) {
    for (const dir of ['egress', 'ingress'] as const) {
      const rules = rulesOf(g).filter((r) => r.direction === dir).map(ruleText).filter((t): t is string => t !== null);
      chains.push([groupChainName(g, dir), rules]);
    }
  }

  const entries = (kind: 'egress' | 'ingress'): [string, string][] =>
    filtered.map((lp) => [lp.ifname, portChainName(lp.port.id, kind)]);
  const bridgeBody = (withElements: boolean) =>
    [
      ...[...sets].map(([name, elems]) => setDecl(name, withElements ? elems : null)),
      ...SPOOF_SETS.map(([name, type, interval]) =>
        block(`set ${name}`, [`type ${type}`, ...(interval ? ['flags interval'] : []), ...elements(spoof.get(name)!)]),
      ),
      vmap('egress_ports', entries('egress')),
      vmap('ingress_ports', entries('ingress')),
      block('chain port_spoof', ['type filter hook prerouting priority -300; policy accept;', 'iifname @spoof_ports jump spoof']),
      block('chain spoof', SPOOF_CHAIN_RULES),
      block('chain port_egress', [
        'type filter hook forward priority 10; policy accept;',
        `oifname "${VXLAN_PREFIX}*" udp dport { 67, 68, 546, 547 } counter drop`,
        state.established,
        'udp sport 68 udp dport 67 accept',
        'udp sport 546 udp dport 547 accept',
        'ether type arp accept',
        'icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert, mld2-listener-report } accept',
        'iifname vmap @egress_ports',
      ]),
      block('chain port_ingress', [
        'type filter hook forward priority 20; policy accept;',
        state.established,
        'udp sport 67 udp dport 68 accept',
        'udp sport 547 udp dport 546 accept',
        'ether type arp accept',
        'icmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, mld-listener-query } accept',
        'oifname vmap @ingress_ports',
      ]),
      ...chains.map(([name, rules]) => block(`chain ${name}`, rules)),
    ].join('\n');

  const inet =
    input.mode === 'br-netfilter'
      ? [
          `table inet ${TABLE} {`,
          block('chain bridged_state', [
            'type filter hook forward priority 0; policy accept;',
            `iifname "${BRIDGE_PREFIX}*" meta mark set meta mark & ${hex(~(MARK_ESTABLISHED | MARK_INVALID) >>> 0)}`,
            `iifname "${BRIDGE_PREFIX}*" ct state established,related meta mark set meta mark | ${hex(MARK_ESTABLISHED)}`,
            `iifname "${BRIDGE_PREFIX}*" ct state invalid meta mark set meta mark | ${hex(MARK_INVALID)}`,
          ]),
          '}',
        ]
      : [];
  const doc = (withElements: boolean) =>
    [
      `# hypernet security groups (${input.mode}); generated, replaced wholesale on every apply`,
      `table bridge ${TABLE}`,
      `delete table bridge ${TABLE}`,
      `table bridge ${TABLE} {`,
      bridgeBody(withElements),
      '}',
      `table inet ${TABLE}`,
      `delete table inet ${TABLE}`,
      ...inet,
      '',
    ].join('\n');

  return {
    text: doc(true),
    skeleton: doc(false),
    sets,
    chains: ['port_egress', 'port_ingress', 'port_spoof', 'spoof', ...chains.map(([n]) => n)].sort(),
  };
}
