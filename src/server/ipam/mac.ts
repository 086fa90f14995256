/**
 * MAC addresses for the API: the grammar of model/grammar/mac.ts with Neutron's InvalidInput on a
 * bad address.
 */
import { AddressError } from '../../model/grammar/addresses.js';
import { canonicalMac as canonical, DEFAULT_BASE_MAC, generateMac, isMac } from '../../model/grammar/mac.js';
import { faults } from '../errors.js';

export { DEFAULT_BASE_MAC, generateMac, isMac };

/** Lower-case canonical form; throws InvalidInput for anything that is not a unicast MAC. */
export function canonicalMac(mac: string): string {
  try {
    return canonical(mac);
  } catch (e) {
    if (e instanceof AddressError) throw faults.invalidInput(e.message);
    throw e;
  }
}
