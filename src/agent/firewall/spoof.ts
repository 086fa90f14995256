/**
 * Port security (pure): the elements each protected port adds to the shared anti-spoofing sets,
 * and the one shared chain that checks them. A port may send only from its MAC and fixed IPs plus
 * its allowed address pairs (IP or CIDR, optional MAC), ARP included; it may not answer DHCP or
 * DHCPv6 as a server nor send router advertisements; frames other than IPv4, IPv6 and ARP are
 * dropped. 0.0.0.0 (DHCP discovery, ARP probes) and IPv6 DAD from :: stay allowed. Keying the sets
 * by interface keeps per-port data out of rules (thousands of anonymous sets make nft -f slow).
 */
import type { Port } from '../../model/types.js';
import { ipVersion, linkLocalOf, mergeCidrs, normMac } from './addresses.js';

/** Set elements `"ifname" . mac [. address]` of one port, for port_macs, port_src_v4, port_src_v6. */
export function spoofElements(port: Port, ifname: string): { macs: string[]; v4: string[]; v6: string[] } {
  const mac = normMac(port.mac_address);
  const byMac = new Map<string, string[]>([[mac, port.fixed_ips.map((f) => f.ip_address)]]);
  for (const p of port.allowed_address_pairs ?? []) {
    const m = p.mac_address ? normMac(p.mac_address) : mac;
    byMac.set(m, [...(byMac.get(m) ?? []), p.ip_address]);
  }
  const macs = [...byMac.keys()].sort();
  const v4: string[] = [];
  const v6: string[] = [];
  for (const m of macs) {
    for (const ip of mergeCidrs([...byMac.get(m)!, '0.0.0.0', linkLocalOf(m)])) (ipVersion(ip) === 4 ? v4 : v6).push(`"${ifname}" . ${m} . ${ip}`);
  }
  return { macs: macs.map((m) => `"${ifname}" . ${m}`), v4, v6 };
}

/** Declarations of the shared anti-spoofing sets (elements given). */
export const SPOOF_SETS: ReadonlyArray<[name: string, type: string, interval: boolean]> = [
  ['spoof_ports', 'ifname', false],
  ['port_macs', 'ifname . ether_addr', false],
  ['port_src_v4', 'ifname . ether_addr . ipv4_addr', true],
  ['port_src_v6', 'ifname . ether_addr . ipv6_addr', true],
];

/**
 * The shared chain every protected port's frames jump to. Ordered for the common case: an IPv4
 * packet from a known interface . MAC . address returns after one lookup (the triple implies the MAC).
 */
export const SPOOF_CHAIN_RULES: readonly string[] = [
  'udp sport { 67, 547 } counter drop',
  'ether type ip iifname . ether saddr . ip saddr @port_src_v4 return',
  'ether type ip counter drop',
  'iifname . ether saddr != @port_macs counter drop',
  'ether type arp iifname . arp saddr ether . arp saddr ip != @port_src_v4 counter drop',
  'ip6 saddr :: icmpv6 type { nd-neighbor-solicit, mld2-listener-report } return',
  'ether type ip6 iifname . ether saddr . ip6 saddr != @port_src_v6 counter drop',
  'icmpv6 type { nd-router-advert, nd-redirect } counter drop',
  'ether type != { ip, ip6, arp } counter drop',
];
