/**
 * IP protocols of security-group rules, one table for the API and the agent's firewall compiler:
 * Neutron's names (neutron-lib IP_PROTOCOL_MAP) and any number 0..255. A rule the API accepts is a
 * rule the agent can render, and the agent refuses the same values again when it compiles.
 */

/** Neutron's protocol names and their numbers. */
export const IP_PROTOCOLS: ReadonlyMap<string, number> = new Map([
  ['ah', 51],
  ['dccp', 33],
  ['egp', 8],
  ['esp', 50],
  ['gre', 47],
  ['hopopt', 0],
  ['icmp', 1],
  ['icmpv6', 58],
  ['igmp', 2],
  ['ip', 0],
  ['ipip', 4],
  ['ipv6-encap', 41],
  ['ipv6-frag', 44],
  ['ipv6-icmp', 58],
  ['ipv6-nonxt', 59],
  ['ipv6-opts', 60],
  ['ipv6-route', 43],
  ['ospf', 89],
  ['pgm', 113],
  ['rsvp', 46],
  ['sctp', 132],
  ['tcp', 6],
  ['udp', 17],
  ['udplite', 136],
  ['vrrp', 112],
]);

/** Protocols whose port range is a destination port range. */
export const PORT_PROTOCOLS: ReadonlySet<number> = new Set([6, 17, 33, 132, 136]);
/** Protocols whose port range is an ICMP type (min) and code (max). */
export const ICMP_PROTOCOLS: ReadonlySet<number> = new Set([1, 58]);
/** IPv6-only protocols (extension headers, ICMPv6): Neutron refuses them in an IPv4 rule. */
export const IPV6_ONLY_PROTOCOLS: ReadonlySet<number> = new Set([41, 43, 44, 58, 59, 60]);

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  /** True when the protocol is known but not allowed for the rule's ethertype. */
  constructor(
    message: string,
    readonly familyConflict = false,
  ) {
    super(message);
  }
}

/** A rule's protocol: `text` as stored (lower-case name, or the number without leading zeros; null = any). */
export interface Protocol {
  text: string | null;
  num: number | null;
}

/** Parses a protocol as given to the API or stored in a rule; throws ProtocolError on anything else. */
export function parseProtocol(p: unknown): Protocol {
  if (p === null || p === undefined || p === '' || p === 'any') return { text: null, num: null };
  const s = typeof p === 'number' ? String(p) : typeof p === 'string' ? p.toLowerCase() : undefined;
  const named = s === undefined ? undefined : IP_PROTOCOLS.get(s);
  if (s !== undefined && named !== undefined) return { text: s, num: named };
  if (s !== undefined && /^[0-9]{1,3}$/.test(s) && Number(s) <= 255) return { text: String(Number(s)), num: Number(s) };
  throw new ProtocolError(
    `Security group rule protocol ${String(p)} not supported. Only protocol values ` +
      `${[...IP_PROTOCOLS.keys()].join(', ')} and integer representations [0 to 255] are supported.`,
  );
}

/** Throws ProtocolError when the protocol cannot appear in a rule of this ethertype (as Neutron). */
export function checkProtocolFamily(p: Protocol, version: 4 | 6): void {
  if (version === 4 && p.num !== null && IPV6_ONLY_PROTOCOLS.has(p.num)) {
    throw new ProtocolError(`Invalid ethertype IPv4 for protocol ${p.text}.`, true);
  }
}
