/**
 * One Neutron security-group rule as one nft rule (pure). Direction picks the side the remote
 * matches (ingress: source, egress: destination); ethertype picks the family; protocol is a name or
 * a number; the port range is the destination port (for ICMP: min = type, max = code);
 * remote_group_id matches the group's member set. Rules that can never match give null.
 */
import type { SecurityGroupRule } from '../../model/types.js';
import { groupSetName } from './model.js';
import { cidrText, parseCidr } from './addresses.js';

const PROTOCOLS: Record<string, number> = {
  icmp: 1,
  igmp: 2,
  tcp: 6,
  egp: 8,
  udp: 17,
  dccp: 33,
  ipv6: 41,
  rsvp: 46,
  gre: 47,
  esp: 50,
  ah: 51,
  'ipv6-icmp': 58,
  icmpv6: 58,
  ospf: 89,
  pgm: 113,
  vrrp: 112,
  sctp: 132,
  udplite: 136,
};
/** Protocols whose port range is a destination port (nft `th dport`). */
const WITH_PORTS = new Set([6, 17, 33, 132, 136]);

/** Protocol number of a rule, null for any; throws on a name nobody knows. */
export function protocolNumber(protocol: string | null, v: 4 | 6): number | null {
  if (protocol === null || protocol === '' || protocol === 'any') return null;
  const p = protocol.toLowerCase();
  let n = /^[0-9]+$/.test(p) ? Number(p) : PROTOCOLS[p];
  if (n === undefined || n > 255) throw new Error(`unknown protocol ${protocol}`);
  if (v === 6 && n === 1) n = 58; // Neutron: 'icmp' in an IPv6 rule means ICMPv6
  return n;
}

/** The nft rule (match + accept) for `rule`, or null when it cannot match anything. */
export function ruleText(rule: SecurityGroupRule): string | null {
  const v: 4 | 6 = rule.ethertype === 'IPv6' ? 6 : 4;
  const fam = v === 4 ? 'ip' : 'ip6';
  const side = rule.direction === 'ingress' ? 'saddr' : 'daddr';
  const parts = [`ether type ${fam}`];
  if (rule.remote_ip_prefix) {
    const c = parseCidr(rule.remote_ip_prefix);
    if (!c || c.v !== v) return null;
    if (c.bits > 0) parts.push(`${fam} ${side} ${cidrText(c)}`);
  }
  if (rule.remote_group_id) parts.push(`${fam} ${side} @${groupSetName(rule.remote_group_id, v)}`);
  const proto = protocolNumber(rule.protocol, v);
  if (proto !== null) {
    parts.push(`meta l4proto ${proto}`);
    const min = rule.port_range_min;
    const max = rule.port_range_max;
    if (WITH_PORTS.has(proto) && min !== null) {
      const hi = max ?? min;
      parts.push(`th dport ${hi === min ? min : `${min}-${hi}`}`);
    } else if ((proto === 1 || proto === 58) && min !== null) {
      const icmp = proto === 1 ? 'icmp' : 'icmpv6';
      parts.push(`${icmp} type ${min}`);
      if (max !== null) parts.push(`${icmp} code ${max}`);
    }
  }
  return `${parts.join(' ')} accept`;
}
