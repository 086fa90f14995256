/**
 * Subnet arithmetic, pure: CIDR parsing and validation, the default gateway (first address), the
 * default allocation pools (the rest of the CIDR minus network, gateway and, for IPv4, broadcast),
 * and validation of user-given pools (inside the CIDR, no overlap, gateway outside every pool).
 * Errors are thrown as the NeutronFaults Neutron answers for the same mistakes.
 */
import ipaddr from 'ipaddr.js';
import type { AllocationPool } from '../model/types.js';
import { faults } from '../server/errors.js';
import { bigIntToIp, ipToBigInt } from './keys.js';

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

/** A pool as numbers, inclusive. */
export interface Range {
  start: bigint;
  end: bigint;
}

export function isIp(ip: unknown, version?: 4 | 6): ip is string {
  if (typeof ip !== 'string') return false;
  if (version === 4) return ipaddr.IPv4.isValidFourPartDecimal(ip);
  if (version === 6) return ipaddr.IPv6.isValid(ip) && ip.includes(':');
  return ipaddr.IPv4.isValidFourPartDecimal(ip) || (ipaddr.IPv6.isValid(ip) && ip.includes(':'));
}

export function ipVersion(ip: string): 4 | 6 {
  return ip.includes(':') ? 6 : 4;
}

/** Canonical text form of an address (IPv6 compressed, lower case). */
export function canonicalIp(ip: string): string {
  return ipaddr.parse(ip).toString();
}

/** Parses a CIDR; host bits must be zero. `strict` false allows host bits (for remote_ip_prefix). */
export function parseCidr(text: string, strict = true): Cidr {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  let prefix: number;
  try {
    if (typeof text !== 'string' || !text.includes('/')) throw new Error('no prefix');
    [addr, prefix] = ipaddr.parseCIDR(text);
    if (addr.kind() === 'ipv4' && !ipaddr.IPv4.isValidFourPartDecimal(text.split('/')[0])) throw new Error('short form');
  } catch {
    throw faults.invalidInput(`'${text}' is not a valid IP subnet`);
  }
  const version = addr.kind() === 'ipv4' ? 4 : 6;
  const bits = version === 4 ? 32 : 128;
  const value = ipToBigInt(addr.toString());
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  const network = value & ~hostMask;
  if (strict && network !== value) {
    throw faults.invalidInput(`'${text}' isn't a recommended CIDR, use ${bigIntToIp(network, version)}/${prefix} instead`);
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

export function defaultGateway(c: Cidr): string {
  return bigIntToIp(c.network + 1n, c.version);
}

/** The usable range minus the gateway, as one or two pools. */
export function defaultPools(c: Cidr, gateway: string | null): AllocationPool[] {
  const r = usableRange(c);
  const pieces: Range[] = [];
  const g = gateway === null ? undefined : ipToBigInt(gateway);
  if (g === undefined || g < r.start || g > r.end) pieces.push(r);
  else {
    if (g > r.start) pieces.push({ start: r.start, end: g - 1n });
    if (g < r.end) pieces.push({ start: g + 1n, end: r.end });
  }
  return pieces.map((p) => ({ start: bigIntToIp(p.start, c.version), end: bigIntToIp(p.end, c.version) }));
}

/** Validates user pools against the CIDR and gateway; returns them canonical, sorted by start. */
export function validatePools(c: Cidr, pools: readonly AllocationPool[], gateway: string | null): AllocationPool[] {
  const usable = usableRange(c);
  const ranges: Range[] = [];
  for (const p of pools) {
    if (!isIp(p.start, c.version) || !isIp(p.end, c.version)) {
      throw faults.badRequest(`The allocation pool ${p.start}-${p.end} is not valid.`, 'InvalidAllocationPool');
    }
    const start = ipToBigInt(p.start);
    const end = ipToBigInt(p.end);
    if (start > end) throw faults.badRequest(`The allocation pool ${p.start}-${p.end} is not valid.`, 'InvalidAllocationPool');
    if (start < usable.start || end > usable.end) {
      throw faults.badRequest(`The allocation pool ${p.start}-${p.end} spans beyond the subnet cidr ${c.text}.`, 'OutOfBoundsAllocationPool');
    }
    ranges.push({ start, end });
  }
  ranges.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i].start <= ranges[i - 1].end) {
      throw faults.conflict('OverlappingAllocationPools', `Found overlapping allocation pools for subnet ${c.text}.`);
    }
  }
  if (gateway !== null) {
    const g = ipToBigInt(gateway);
    const hit = ranges.find((r) => g >= r.start && g <= r.end);
    if (hit) {
      throw faults.conflict(
        'GatewayConflictWithAllocationPools',
        `Gateway ip ${gateway} conflicts with allocation pool ${bigIntToIp(hit.start, c.version)}-${bigIntToIp(hit.end, c.version)}.`,
      );
    }
  }
  return ranges.map((r) => ({ start: bigIntToIp(r.start, c.version), end: bigIntToIp(r.end, c.version) }));
}

/** Pools as numeric ranges. */
export function poolRanges(pools: readonly AllocationPool[]): Range[] {
  return pools.map((p) => ({ start: ipToBigInt(p.start), end: ipToBigInt(p.end) }));
}
