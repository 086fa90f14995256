/**
 * Conntrack glue (pure): per-network conntrack zones and the chains that turn conntrack state into
 * packet-mark bits the bridge filters read (docs/security-groups.md, "Conntrack").
 *
 *  - ct_zone (prerouting -300, before conntrack): `ct zone set iifname map @port_zones`, so two
 *    tenants with the same addresses on one node never share an entry. With br_netfilter the inet
 *    prerouting hook sees the bridge (`hnb-<vni>`) as iifname (measured), so the map holds the
 *    node's bridges; in the bridge family iifname is the bridge port, so there it holds every port
 *    of the network (taps, `hnv-<vni>`, `hnd-<vni>`); this kernel lacks `meta ibrname`.
 *  - ct_state (forward 0): MARK_ESTABLISHED for related packets, replies, and original-direction
 *    packets of connections whose ct mark is the current GENERATION; MARK_INVALID; else
 *    MARK_REEVAL: the packet goes through the rules. Every bridged packet passes this chain, so
 *    its common case (an established connection of this generation, either direction) is the
 *    first rule and each verdict is one bitwise that clears our bits and sets its own. That rule
 *    comes before the bridged-only guard: only ct_allow writes the generation into a ct mark, and
 *    only for bridged packets.
 *  - ct_allow (postrouting 0): a MARK_REEVAL packet that got this far was accepted by the rules,
 *    so its connection's ct mark becomes the GENERATION (fast path from the next packet on).
 *  When a rule or member is removed, the driver changes the generation in the same transaction:
 *  every connection's next original-direction packet is checked against the rules again and a
 *  connection they no longer allow is cut (Neutron deletes its conntrack entries instead).
 * In 'br-netfilter' mode these chains live in `inet hypernet` (guarded to bridged packets); in
 * 'bridge-ct' mode in the bridge table.
 *
 * In 'br-netfilter' mode the inet ct expressions switch conntrack on for the whole node
 * namespace, underlay included: every encapsulated VXLAN packet would be tracked too (and carry
 * the inner packet's mark into a ct entry). The node's own VXLAN traffic (UDP to VXLAN_DSTPORT,
 * not bridged) is exempt: in ct_zone on the way in, in tunnel_notrack (output -300) on the way out.
 */
import { vethNodeName } from '../dhcp/names.js';
import { BRIDGE_PREFIX, VXLAN_DSTPORT, bridgeName, vxlanName } from '../../model/kernel-names.js';
import {
  GENERATION,
  MARK_ESTABLISHED,
  MARK_INVALID,
  MARK_OVERLAY,
  MARK_PEER,
  MARK_REEVAL,
  type BaseChain,
  type FirewallMode,
  type LocalPort,
  type NftSet,
} from './model.js';

/** ct_zone's source-filtering rules: inbound from a peer's node, outbound to one (see stateChains). */
function peerSkip(): string[] {
  const peer = `meta mark set meta mark | ${hex(MARK_PEER)} notrack accept`;
  return [
    `meta mark & ${hex(MARK_OVERLAY)} != 0 iifname . ether saddr @peer_macs iifname . ether daddr @local_macs ${peer}`,
    `iifname . ether saddr @local_macs iifname . ether daddr @peer_macs ${peer}`,
  ];
}

export const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

/**
 * Conntrack zone of each VNI on this node: the VNI's low 16 bits, or (when that is 0 or taken by a
 * smaller VNI) the next free number. Stable while the node's networks stay the same.
 */
export function zonesFor(vnis: Iterable<number>): Map<number, number> {
  const out = new Map<number, number>();
  const used = new Set<number>();
  for (const vni of [...new Set(vnis)].sort((a, b) => a - b)) {
    let z = vni & 0xffff;
    while (z === 0 || used.has(z)) z = (z + 1) & 0xffff;
    used.add(z);
    out.set(vni, z);
  }
  return out;
}

/** The `port_zones` map: br-netfilter: each bridge → zone; bridge-ct: each bridge port → zone. */
export function zoneMap(mode: FirewallMode, ports: readonly LocalPort[]): NftSet {
  const zones = zonesFor(ports.flatMap((p) => (p.vni ? [p.vni] : [])));
  const elems: string[] = [];
  if (mode === 'br-netfilter') {
    for (const [vni, z] of zones) elems.push(`"${bridgeName(vni)}" : ${z}`);
  } else {
    for (const p of ports) if (p.vni) elems.push(`"${p.ifname}" : ${zones.get(p.vni)}`);
    for (const [vni, z] of zones) elems.push(`"${vxlanName(vni)}" : ${z}`, `"${vethNodeName(vni)}" : ${z}`);
  }
  return {
    family: mode === 'br-netfilter' ? 'inet' : 'bridge',
    kind: 'map',
    decl: ['typeof iifname : ct zone'],
    elements: [...new Set(elems)].sort(),
  };
}

/**
 * The zone, state and allow chains (rules hold GENERATION). With `source` (source filtering,
 * br-netfilter only), ct_zone first lets a frame between a local port that takes part and a peer
 * whose node owns the flow skip conntrack (MARK_PEER): inbound only when it came out of a VXLAN
 * device (MARK_OVERLAY, set by the bridge prerouting chain) to a local port, outbound only from one.
 */
export function stateChains(mode: FirewallMode, source = false): BaseChain[] {
  const family: BaseChain['family'] = mode === 'br-netfilter' ? 'inet' : 'bridge';
  const keep = hex(~(MARK_ESTABLISHED | MARK_INVALID | MARK_REEVAL));
  // One bitwise per verdict: our bits cleared and the state's bit set (not a separate clearing rule).
  const mark = (bit: number): string => `meta mark set meta mark & ${keep} | ${hex(bit)}`;
  const est = `${mark(MARK_ESTABLISHED)} return`;
  const inet = family === 'inet';
  return [
    {
      family,
      name: 'ct_zone',
      hook: 'type filter hook prerouting priority -300; policy accept;',
      rules: [
        ...(inet ? [`udp dport ${VXLAN_DSTPORT} iifname != "${BRIDGE_PREFIX}*" notrack accept`] : []),
        ...(inet && source ? peerSkip() : []),
        'ct zone set iifname map @port_zones',
      ],
    },
    ...(inet
      ? [
          {
            family,
            name: 'tunnel_notrack',
            hook: 'type filter hook output priority -300; policy accept;',
            rules: [`udp dport ${VXLAN_DSTPORT} notrack`],
          },
        ]
      : []),
    {
      family,
      name: 'ct_state',
      hook: 'type filter hook forward priority 0; policy accept;',
      rules: [
        `ct mark ${GENERATION} ct state established ${est}`,
        ...(inet && source ? [`meta mark & ${hex(MARK_PEER)} != 0 return`] : []),
        ...(inet ? [`iifname != "${BRIDGE_PREFIX}*" return`] : []),
        `ct state established ct direction reply ${est}`,
        `ct state related ${est}`,
        `ct state invalid ${mark(MARK_INVALID)} return`,
        mark(MARK_REEVAL),
      ],
    },
    {
      family,
      name: 'ct_allow',
      hook: 'type filter hook postrouting priority 0; policy accept;',
      rules: [`meta mark & ${hex(MARK_REEVAL)} != 0 ct mark set ${GENERATION}`],
    },
  ];
}
