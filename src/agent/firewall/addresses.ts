/**
 * Address helpers for the firewall compiler: IP version of an address or CIDR, canonical text,
 * dropping entries covered by a wider one (nft interval sets refuse overlaps), and the IPv6
 * link-local address a MAC derives (EUI-64), which a port may always send from.
 */
import ipaddr from 'ipaddr.js';
import { isCidr, isIp } from '../../model/grammar/addresses.js';

export interface Cidr {
  v: 4 | 6;
  addr: ipaddr.IPv4 | ipaddr.IPv6;
  bits: number;
}

/**
 * Parses "a.b.c.d", "a.b.c.d/n", IPv6 likewise; null when it is neither in the shared grammar (no zone IDs).
 * Remembered per text, forgotten in bulk past 65,536 texts: a compile parses the same few thousand
 * addresses many times (rule texts, source sets, sort comparators), and parsing dominated a cold
 * 1,000-port compile. Callers treat the result as read-only.
 */
const parsedCidrs = new Map<string, Cidr | null>();
export function parseCidr(text: string): Cidr | null {
  let c = parsedCidrs.get(text);
  if (c === undefined) {
    c = parseCidrOnce(text);
    if (parsedCidrs.size >= 65_536) parsedCidrs.clear();
    parsedCidrs.set(text, c);
  }
  return c;
}

function parseCidrOnce(text: string): Cidr | null {
  if (!isIp(text) && !isCidr(text)) return null;
  try {
    const [addr, bits] = text.includes('/') ? ipaddr.parseCIDR(text) : [ipaddr.parse(text), -1];
    const v = addr.kind() === 'ipv4' ? 4 : 6;
    const max = v === 4 ? 32 : 128;
    return { v, addr, bits: bits < 0 ? max : bits };
  } catch {
    return null;
  }
}

/** nft text of a CIDR: a bare address for a host prefix, else network/bits. */
export function cidrText(c: Cidr): string {
  const max = c.v === 4 ? 32 : 128;
  if (c.bits === max) return c.addr.toString();
  const net =
    c.v === 4
      ? ipaddr.IPv4.networkAddressFromCIDR(`${c.addr}/${c.bits}`)
      : ipaddr.IPv6.networkAddressFromCIDR(`${c.addr}/${c.bits}`);
  return `${net.toString()}/${c.bits}`;
}

/** IP version of an address or CIDR text, or null. */
export function ipVersion(text: string): 4 | 6 | null {
  return parseCidr(text)?.v ?? null;
}

const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const DOTTED = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);

/**
 * The number of a canonical dotted IPv4 host address, or -1: remembered per text (member sets are
 * merged again on every membership change, the same 1,000 addresses each time), forgotten in bulk
 * past 65,536 texts.
 */
const v4Numbers = new Map<string, number>();
function v4Number(t: string): number {
  let n = v4Numbers.get(t);
  if (n === undefined) {
    n = DOTTED.test(t) ? t.split('.').reduce((acc, o) => acc * 256 + Number(o), 0) : -1;
    if (v4Numbers.size >= 65_536) v4Numbers.clear();
    v4Numbers.set(t, n);
  }
  return n;
}

/** Canonical, sorted, without duplicates and without entries inside another entry. */
export function mergeCidrs(texts: Iterable<string>): string[] {
  const unique = [...new Set(texts)];
  // Fast path (the common case: fixed IPs): plain IPv4 host addresses in canonical form need no parsing.
  const nums = unique.map(v4Number);
  if (nums.every((n) => n >= 0)) {
    const order = unique.map((_, i) => i).sort((a, b) => nums[a]! - nums[b]!);
    return order.map((i) => unique[i]!);
  }
  const parsed = unique.map(parseCidr).filter((c): c is Cidr => c !== null);
  parsed.sort((a, b) => a.bits - b.bits);
  const kept: Cidr[] = [];
  const nets: Cidr[] = []; // kept entries wider than one host: only these can cover another entry
  for (const c of parsed) {
    const covered = nets.some((k) => k.v === c.v && (c.addr as ipaddr.IPv4).match(k.addr as ipaddr.IPv4, k.bits));
    if (covered) continue;
    kept.push(c);
    if (c.bits < (c.v === 4 ? 32 : 128)) nets.push(c);
  }
  return [...new Set(kept.map(cidrText))].sort(compareAddr);
}

/** Numeric order of address texts (IPv4 before IPv6), for deterministic output. */
export function compareAddr(a: string, b: string): number {
  const pa = parseCidr(a);
  const pb = parseCidr(b);
  if (!pa || !pb) return a < b ? -1 : a > b ? 1 : 0;
  if (pa.v !== pb.v) return pa.v - pb.v;
  const ba = pa.addr.toByteArray();
  const bb = pb.addr.toByteArray();
  for (let i = 0; i < ba.length; i++) if (ba[i] !== bb[i]) return ba[i]! - bb[i]!;
  return pa.bits - pb.bits;
}

/** Lower-case colon MAC. */
export const normMac = (mac: string): string => mac.trim().toLowerCase();

/** The IPv6 link-local address (fe80::/64 + modified EUI-64) of a MAC. */
export function linkLocalOf(mac: string): string {
  const b = normMac(mac)
    .split(':')
    .map((h) => parseInt(h, 16));
  const eui = [b[0]! ^ 0x02, b[1]!, b[2]!, 0xff, 0xfe, b[3]!, b[4]!, b[5]!];
  const groups: number[] = [];
  for (let i = 0; i < 8; i += 2) groups.push((eui[i]! << 8) | eui[i + 1]!);
  // groups 2 and 3 (xxff, fexx) are never 0, so the only zero run to compress is fe80:0:0:0[:0].
  const tail = groups[0] === 0 ? groups.slice(1) : groups;
  return `fe80::${tail.map((g) => g.toString(16)).join(':')}`;
}
