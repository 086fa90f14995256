/**
 * Addresses as numbers: an IP is turned into a bigint for arithmetic and into a fixed-width hex key
 * for the store (8 hex digits for IPv4, 32 for IPv6), so that text order equals numeric order in any
 * SQL dialect.
 */
import { bigIntToIp, ipToBigInt } from '../../model/grammar/addresses.js';

export { bigIntToIp, ipToBigInt };

export function keyWidth(version: 4 | 6): number {
  return version === 4 ? 8 : 32;
}

export function bigIntToKey(n: bigint, version: 4 | 6): string {
  return n.toString(16).padStart(keyWidth(version), '0');
}

export function keyToBigInt(key: string): bigint {
  return BigInt(`0x${key}`);
}
