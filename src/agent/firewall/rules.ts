/**
 * One Neutron security-group rule as one nft rule (pure). Direction picks the side the remote
 * matches (ingress: source, egress: destination); ethertype picks the family; protocol is a name or
 * a number; the port range is the destination port (for ICMP: min = type, max = code);
 * remote_group_id matches the group's member set. Rules that can never match give null; a protocol
 * the shared grammar refuses throws (the compiler refuses that group alone, see validate.ts).
 */
import type { SecurityGroupRule } from '../../model/types.js';
import { groupSetName } from './model.js';
import { cidrText, parseCidr } from './addresses.js';
import {
  checkProtocolFamily,
  ICMP_PROTOCOLS,
  parseProtocol,
  PORT_PROTOCOLS,
  ProtocolError,
} from '../../model/grammar/protocols.js';

/**
 * Protocol number of a rule, null for any, in the grammar the API uses (model/grammar/protocols.ts);
 * throws ProtocolError for a value the API would refuse (a rule stored by an older server).
 */
export function protocolNumber(protocol: string | null, v: 4 | 6): number | null {
  const p = parseProtocol(protocol);
  checkProtocolFamily(p, v);
  // 0 (`ip`, `hopopt`) means any protocol, as in Neutron's iptables driver.
  if (p.num === null || p.num === 0) return null;
  return v === 6 && p.num === 1 ? 58 : p.num; // Neutron: 'icmp' in an IPv6 rule means ICMPv6
}

/**
 * The rule's protocol number. A protocol the shared grammar refuses (a rule from an older server)
 * throws: the firewall compiler then refuses the group and closes the ports that use it, and says
 * why, instead of quietly filtering with one rule less.
 */
function ruleProtocol(rule: SecurityGroupRule, v: 4 | 6): number | null {
  try {
    return protocolNumber(rule.protocol, v);
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    const what = e.familyConflict
      ? `protocol ${rule.protocol} in an IPv${v} rule`
      : `unknown protocol ${rule.protocol}`;
    throw new Error(what);
  }
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
  const proto = ruleProtocol(rule, v);
  if (proto !== null) {
    parts.push(`meta l4proto ${proto}`);
    const min = rule.port_range_min;
    const max = rule.port_range_max;
    if (PORT_PROTOCOLS.has(proto) && min !== null) {
      const hi = max ?? min;
      parts.push(`th dport ${hi === min ? min : `${min}-${hi}`}`);
    } else if (ICMP_PROTOCOLS.has(proto) && min !== null) {
      const icmp = proto === 1 ? 'icmp' : 'icmpv6';
      parts.push(`${icmp} type ${min}`);
      if (max !== null) parts.push(`${icmp} code ${max}`);
    }
  }
  return `${parts.join(' ')} accept`;
}
