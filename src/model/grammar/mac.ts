/**
 * MAC addresses, Neutron style: lower-case colon form, unicast only. Ports get the first three
 * octets of a base MAC (and the fourth when it is not 00) with the rest random; uniqueness per
 * network is the store's job. `random` is injected so tests can make it deterministic.
 */
import { randomBytes } from 'node:crypto';
import { AddressError } from './addresses.js';

export const DEFAULT_BASE_MAC = 'fa:16:3e:00:00:00';

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

export function isMac(mac: unknown): mac is string {
  return typeof mac === 'string' && MAC_RE.test(mac.toLowerCase());
}

/** Lower-case canonical form; throws AddressError for anything that is not a unicast MAC. */
export function canonicalMac(mac: string): string {
  const m = mac.toLowerCase();
  if (!isMac(m) || (parseInt(m.slice(0, 2), 16) & 1) === 1 || m === '00:00:00:00:00:00') {
    throw new AddressError(`'${mac}' is not a valid MAC address`);
  }
  return m;
}

export function generateMac(
  baseMac: string = DEFAULT_BASE_MAC,
  random: (n: number) => Uint8Array = randomBytes,
): string {
  const base = canonicalMac(baseMac).split(':');
  const rnd = random(3);
  const out = base.slice(0, 3);
  out.push(base[3] !== '00' ? base[3] : hex(rnd[0]));
  out.push(hex(rnd[1]), hex(rnd[2]));
  return out.join(':');
}

function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}
