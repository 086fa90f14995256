/**
 * Subnet arithmetic, pure: CIDR parsing and validation, the default gateway (first address), the
 * default allocation pools (the rest of the CIDR minus network, gateway and, for IPv4, broadcast),
 * and validation of user-given pools (inside the CIDR, no overlap, gateway outside every pool).
 * Errors are thrown as the NeutronFaults Neutron answers for the same mistakes.
 */
import type { AllocationPool } from '../../model/types.js';
import { faults } from '../errors.js';
import {
  AddressError,
  bigIntToIp,
  canonicalIp,
  cidrContains,
  ipToBigInt,
  ipVersion,
  isIp,
  parseCidr as parseAddressCidr,
  usableRange,
  type Cidr,
  type Range,
} from '../../model/grammar/addresses.js';

export { canonicalIp, cidrContains, ipVersion, isIp, usableRange, type Cidr, type Range };

/** parseCidr (model/grammar/addresses.ts) with Neutron's InvalidInput on bad input. */
export function parseCidr(text: string, strict = true): Cidr {
  try {
    return parseAddressCidr(text, strict);
  } catch (e) {
    if (e instanceof AddressError) throw faults.invalidInput(e.message);
    throw e;
  }
}

export function defaultGateway(c: Cidr): string {
  return bigIntToIp(c.network + 1n, c.version);
}

/** The usable range minus the gateway, as one or two pools. */
export function defaultPools(c: Cidr, gateway: string | null): AllocationPool[] {
  const r = usableRange(c);
  const pieces: Range[] = [];
  const g = gateway === null ? undefined : ipToBigInt(gateway);
  if (r.start > r.end) return [];
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
    if (start > end)
      throw faults.badRequest(`The allocation pool ${p.start}-${p.end} is not valid.`, 'InvalidAllocationPool');
    if (start < usable.start || end > usable.end) {
      throw faults.badRequest(
        `The allocation pool ${p.start}-${p.end} spans beyond the subnet cidr ${c.text}.`,
        'OutOfBoundsAllocationPool',
      );
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
        `Gateway ip ${gateway} conflicts with allocation pool ` +
          `${bigIntToIp(hit.start, c.version)}-${bigIntToIp(hit.end, c.version)}.`,
      );
    }
  }
  return ranges.map((r) => ({ start: bigIntToIp(r.start, c.version), end: bigIntToIp(r.end, c.version) }));
}

/** Pools as numeric ranges. */
export function poolRanges(pools: readonly AllocationPool[]): Range[] {
  return pools.map((p) => ({ start: ipToBigInt(p.start), end: ipToBigInt(p.end) }));
}
