/**
 * Address space as sets of CIDR blocks, pure (what Neutron's subnet pools do with netaddr's IPSet):
 * merging prefixes, the space left once allocations are taken out, whether one set covers another,
 * and choosing a block of a given length. Sets are sorted, disjoint ranges of one IP version.
 */
import { bigIntToIp, type Cidr, type Range } from '../../model/grammar/addresses.js';

function bits(version: 4 | 6): number {
  return version === 4 ? 32 : 128;
}

/** The CIDR block of `prefix` bits at `network` (host bits must be zero). */
export function block(network: bigint, prefix: number, version: 4 | 6): Cidr {
  const host = (1n << BigInt(bits(version) - prefix)) - 1n;
  return { version, prefix, network, last: network | host, text: `${bigIntToIp(network, version)}/${prefix}` };
}

/** Sorted, merged ranges (overlapping or adjacent ones joined). */
export function union(ranges: readonly Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: Range[] = [];
  for (const r of sorted) {
    const top = out[out.length - 1];
    if (top && r.start <= top.end + 1n) {
      if (r.end > top.end) top.end = r.end;
    } else out.push({ ...r });
  }
  return out;
}

/** `from` without the addresses of `taken`. */
export function subtract(from: readonly Range[], taken: readonly Range[]): Range[] {
  const cut = union(taken);
  const out: Range[] = [];
  for (const r of union(from)) {
    let start = r.start;
    for (const t of cut) {
      if (t.end < start || t.start > r.end) continue;
      if (t.start > start) out.push({ start, end: t.start - 1n });
      start = t.end + 1n;
    }
    if (start <= r.end) out.push({ start, end: r.end });
  }
  return out;
}

/** Whether every address of `inner` is in `outer`. */
export function covers(outer: readonly Range[], inner: readonly Range[]): boolean {
  return subtract(inner, outer).length === 0;
}

/** The fewest CIDR blocks exactly covering the ranges, in address order. */
export function toBlocks(ranges: readonly Range[], version: 4 | 6): Cidr[] {
  const out: Cidr[] = [];
  for (const r of union(ranges)) {
    let start = r.start;
    while (start <= r.end) {
      // The largest block aligned at `start` that ends inside the range.
      let size = bits(version);
      while (size > 0 && (start & ((1n << BigInt(size)) - 1n)) !== 0n) size--;
      while (start + (1n << BigInt(size)) - 1n > r.end) size--;
      out.push(block(start, bits(version) - size, version));
      start += 1n << BigInt(size);
    }
  }
  return out;
}

export function rangeOf(c: Cidr): Range {
  return { start: c.network, end: c.last };
}

/**
 * A free block of `prefix` bits: the first one of the smallest free block that holds it, as Neutron's
 * allocator picks (so large free blocks stay whole); undefined when none fits.
 */
export function pickBlock(free: readonly Cidr[], prefix: number): Cidr | undefined {
  const smallestFirst = [...free].sort((a, b) => b.prefix - a.prefix);
  const host = smallestFirst.find((f) => f.prefix <= prefix);
  return host && block(host.network, prefix, host.version);
}
