/**
 * Addresses as numbers: an IP is turned into a bigint for arithmetic and into a fixed-width hex key
 * for the store (8 hex digits for IPv4, 32 for IPv6), so that text order equals numeric order in any
 * SQL dialect.
 */
import ipaddr from 'ipaddr.js';

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

export function keyWidth(version: 4 | 6): number {
  return version === 4 ? 8 : 32;
}

export function bigIntToKey(n: bigint, version: 4 | 6): string {
  return n.toString(16).padStart(keyWidth(version), '0');
}

export function keyToBigInt(key: string): bigint {
  return BigInt('0x' + key);
}
