/**
 * Port security for one port (pure): the body of its anti-spoofing chain. A port may send only
 * from its MAC and fixed IPs plus its allowed address pairs (IP or CIDR, optional MAC), ARP included;
 * it may not answer DHCP or DHCPv6 as a server nor send router advertisements; frames that are not
 * IPv4, IPv6 or ARP are dropped. DHCP discovery from 0.0.0.0 and IPv6 DAD from :: stay allowed.
 */
import type { Port } from '../../model/types.js';
import { ipVersion, linkLocalOf, mergeCidrs, normMac } from './addresses.js';

/** (MAC, address-or-CIDR) pairs a port may send from, by IP version, sorted. */
export function sourcePairs(port: Port): { macs: string[]; v4: string[]; v6: string[] } {
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
    const ips = mergeCidrs([...byMac.get(m)!, linkLocalOf(m)]);
    for (const ip of ips) (ipVersion(ip) === 4 ? v4 : v6).push(`${m} . ${ip}`);
  }
  return { macs, v4, v6 };
}

/** Rules of the port's anti-spoofing chain (entered for frames the port sends). */
export function spoofChainRules(port: Port): string[] {
  const { macs, v4, v6 } = sourcePairs(port);
  const set = (xs: string[]) => `{ ${xs.join(', ')} }`;
  const arpPairs = [...v4, ...macs.map((m) => `${m} . 0.0.0.0`)];
  return [
    `ether saddr != ${set(macs)} counter drop`,
    `ether type arp arp saddr ether . arp saddr ip != ${set(arpPairs)} counter drop`,
    'ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 return',
    v4.length ? `ether type ip ether saddr . ip saddr != ${set(v4)} counter drop` : 'ether type ip counter drop',
    'ip6 saddr :: icmpv6 type { nd-neighbor-solicit, mld2-listener-report } return',
    `ether type ip6 ether saddr . ip6 saddr != ${set(v6)} counter drop`,
    'udp sport { 67, 547 } counter drop',
    'icmpv6 type { nd-router-advert, nd-redirect } counter drop',
    'ether type != { ip, ip6, arp } counter drop',
  ];
}
