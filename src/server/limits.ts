/**
 * Size limits on what one request may ask for, with Neutron's errors: allowed address pairs and
 * fixed IPs per port (configurable as in neutron.conf), tags per object (Neutron's fixed 50), and
 * the number of objects in one bulk create (hypernet's own bound: a bulk runs in one store
 * transaction, and no request may hold the write lock long enough to stall other tenants).
 */
import type { ServerConfig } from './config.js';
import { NeutronFault, faults } from './errors.js';
import type { Body } from './resource.js';

/** Neutron's per-object tag limit (neutron/extensions/tagging.py). */
export const MAX_TAGS = 50;

/** Array attributes of a port create or update: address pairs and fixed IPs within their limits. */
export function checkPortArrays(config: ServerConfig, body: Body): void {
  const pairs = body.allowed_address_pairs;
  if (Array.isArray(pairs) && pairs.length > config.maxAllowedAddressPairs) {
    throw new NeutronFault(
      400,
      'AllowedAddressPairExhausted',
      `The number of allowed address pair exceeds the maximum ${config.maxAllowedAddressPairs}.`,
    );
  }
  const fixed = body.fixed_ips;
  if (Array.isArray(fixed) && fixed.length > config.maxFixedIpsPerPort) {
    throw faults.invalidInput('Exceeded maximum amount of fixed ips per port');
  }
}

/** The tags an object would end up with (body or /tags sub-resource) within the limit. */
export function checkTagCount(tags: readonly string[]): void {
  if (tags.length > MAX_TAGS) {
    throw faults.badRequest(`The number of tags exceeds the per-resource limit of ${MAX_TAGS}.`);
  }
}

/** The number of objects in one bulk create within `max_bulk_items`. */
export function checkBulkSize(config: ServerConfig, count: number): void {
  if (count > config.maxBulkItems) {
    throw faults.badRequest(
      `Bulk request of ${count} objects exceeds the limit of ${config.maxBulkItems} (max_bulk_items).`,
      'HTTPBadRequest',
    );
  }
}
