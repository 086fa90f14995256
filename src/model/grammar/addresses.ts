/**
 * IP addresses and CIDRs as the whole system reads them (server, agent, lab): strict dotted-quad
 * IPv4, IPv6 without zone IDs, prefixes with zero host bits unless asked otherwise. Addresses as
 * bigints for arithmetic. Errors are plain `AddressError`s; the server turns them into Neutron's
 * InvalidInput (server/ipam/cidr.ts).
 */
import ipaddr from 'ipaddr.js';

export class AddressError extends Error {
  override readonly name = 'AddressError';
}

export interface Cidr {
  version: 4 | 6;
  prefix: number;
  /** Network address. */
  network: bigint;
  /** Last address of the CIDR (the broadcast address for IPv4). */
  last: bigint;
  /** Canonical text, e.g. 10.0.0.0/24. */
  text: string;
}

/** A range of addresses as numbers, inclusive. */
export interface Range {
  start: bigint;
  end: bigint;
}

export function ipToBigInt(ip: string): bigint {
  const bytes = ipaddr.parse(ip).toByteArray();
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

export function bigIntToIp(n: bigint, version: 4 | 6): string {
  const len = version === 4 ? 4 : 16;
  const bytes: number[] = new Array(len);
  for (let i = len - 1; i >= 0; i--) {
    bytes[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return ipaddr.fromByteArray(bytes).toString();
}

/** A plain address of the given (or either) version; IPv6 zone IDs (`fe80::1%eth0`) are refused. */
export function isIp(ip: unknown, version?: 4 | 6): ip is string {
  if (typeof ip !== 'string') return false;
  const v4 = ipaddr.IPv4.isValidFourPartDecimal(ip);
  const v6 = !v4 && ip.includes(':') && !ip.includes('%') && ipaddr.IPv6.isValid(ip);
  return version === 4 ? v4 : version === 6 ? v6 : v4 || v6;
}

export function ipVersion(ip: string): 4 | 6 {
  return ip.includes(':') ? 6 : 4;
}

/** Canonical text form of an address (IPv6 compressed, lower case). */
export function canonicalIp(ip: string): string {
  return ipaddr.parse(ip).toString();
}

/** Parses a CIDR; host bits must be zero unless `strict` is false (remote_ip_prefix). */
export function parseCidr(text: string, strict = true): Cidr {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  let prefix: number;
  try {
    if (typeof text !== 'string') throw new Error('not text');
    const [ip, len, ...rest] = text.split('/');
    // The prefix as plain decimal (no '024', '+24' or '0x18'); the address as isIp reads it.
    if (rest.length > 0 || len === undefined || !/^(0|[1-9][0-9]{0,2})$/.test(len) || !isIp(ip))
      throw new Error('bad form');
    [addr, prefix] = ipaddr.parseCIDR(text);
  } catch {
    throw new AddressError(`'${text}' is not a valid IP subnet`);
  }
  const version = addr.kind() === 'ipv4' ? 4 : 6;
  const bits = version === 4 ? 32 : 128;
  const value = ipToBigInt(addr.toString());
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  const network = value & ~hostMask;
  if (strict && network !== value) {
    throw new AddressError(`'${text}' isn't a recommended CIDR, use ${bigIntToIp(network, version)}/${prefix} instead`);
  }
  return { version, prefix, network, last: network | hostMask, text: `${bigIntToIp(network, version)}/${prefix}` };
}

/** Addresses a port may hold: all but the network address and, for IPv4, the broadcast address. */
export function usableRange(c: Cidr): Range {
  return { start: c.network + 1n, end: c.version === 4 ? c.last - 1n : c.last };
}

export function cidrContains(c: Cidr, ip: string): boolean {
  if (!isIp(ip, c.version)) return false;
  const n = ipToBigInt(ip);
  return n >= c.network && n <= c.last;
}

/** An address or CIDR (host bits allowed, as in an allowed address pair) in canonical text. */
export function canonicalIpOrCidr(text: string): string {
  if (isIp(text)) return canonicalIp(text);
  return parseCidr(text, false).text;
}

const SPECIAL: readonly { what: string; cidr: string }[] = [
  { what: 'Multicast', cidr: '224.0.0.0/4' },
  { what: 'Loopback', cidr: '127.0.0.0/8' },
  { what: 'Multicast', cidr: 'ff00::/8' },
  { what: 'Loopback', cidr: '::1/128' },
];

/** Why a subnet may not use this CIDR (default route, multicast, loopback), or undefined when it may. */
export function unusableSubnet(c: Cidr): string | undefined {
  if (c.prefix === 0) return `Default route CIDR ${c.text} is not supported as a subnet`;
  for (const s of SPECIAL) {
    const r = parseCidr(s.cidr);
    if (r.version === c.version && r.network <= c.last && c.network <= r.last) {
      return `${s.what} IP subnet ${c.text} is not supported`;
    }
  }
  return undefined;
}

/** Whether `text` is a CIDR in the strict grammar (host bits allowed unless `strict`). */
export function isCidr(text: unknown, strict = false): text is string {
  if (typeof text !== 'string') return false;
  try {
    parseCidr(text, strict);
    return true;
  } catch {
    return false;
  }
}
