/**
 * What the firewall compiler refuses (pure): a port whose MAC or addresses are not plain ones, and a
 * compiled rule with characters nft would read as syntax. An older server, or a store written by
 * hand, can hold values the API would now reject (`fe80::1%eth0` in allowed_address_pairs, a protocol
 * the agent does not know); the compiler then leaves that port or group out and says why, instead
 * of failing the node's whole transaction (containment: every other port keeps converging).
 */
import type { Port } from '../../model/types.js';
import { isMac } from '../../model/grammar/mac.js';
import { parseCidr } from './addresses.js';

/** An object the agent cannot compile; `message` is what the port's status reports. */
export class CompileError extends Error {
  override readonly name = 'CompileError';
}

/** Digits, hex, dots, colons and one prefix: no zone id, no space, nothing nft parses as syntax. */
const ADDRESS_TEXT = /^[0-9a-fA-F.:]+(\/[0-9]{1,3})?$/;

/** True when `text` is an IPv4/IPv6 address or CIDR that may go into an nft set as is. */
export function isPlainAddress(text: unknown): text is string {
  return typeof text === 'string' && ADDRESS_TEXT.test(text) && parseCidr(text) !== null;
}

const portProblems = new WeakMap<Port, string | null>();

/** Why the firewall cannot compile `port` (memoised per port object), or null. */
export function portProblem(port: Port): string | null {
  let p = portProblems.get(port);
  if (p === undefined) {
    p = findPortProblem(port);
    portProblems.set(port, p);
  }
  return p;
}

function findPortProblem(port: Port): string | null {
  if (!isMac(port.mac_address)) return `mac_address ${JSON.stringify(port.mac_address)} is not a MAC address`;
  for (const f of port.fixed_ips ?? [])
    if (!isPlainAddress(f.ip_address)) return `fixed_ips: ${JSON.stringify(f.ip_address)} is not a plain IP address`;
  for (const a of port.allowed_address_pairs ?? []) {
    if (!isPlainAddress(a.ip_address))
      return `allowed_address_pairs: ${JSON.stringify(a.ip_address)} is not a plain IP address or CIDR`;
    if (a.mac_address && !isMac(a.mac_address))
      return `allowed_address_pairs: ${JSON.stringify(a.mac_address)} is not a MAC address`;
  }
  return null;
}

/** A rule as compiled: words, addresses, ranges and set references only. */
const RULE_TEXT = /^[A-Za-z0-9_ .:/@-]+$/;

/** Returns `text` when nft would read it as the one rule meant; throws CompileError otherwise. */
export function checkRuleText(text: string): string {
  if (!RULE_TEXT.test(text)) throw new CompileError(`rule compiles to unsafe nft text ${JSON.stringify(text)}`);
  return text;
}
