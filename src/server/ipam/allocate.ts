/**
 * Allocation against the store: next free IP of a subnet's pools, a requested IP, a VNI from the
 * configured range, a MAC unique on its network. The search is `firstFree` (no full scans in the
 * common case); the claim is a DB-enforced unique insert, so a duplicate can never be written.
 */
import type { Subnet } from '../../model/types.js';
import type { KeySpace, WriteTx } from '../store/store.js';
import { faults } from '../errors.js';
import { cidrContains, parseCidr, poolRanges } from './cidr.js';
import { bigIntToIp } from './keys.js';
import { generateMac } from './mac.js';
import { firstFree, type UsedNumbers } from './range.js';

function used(tx: WriteTx, space: KeySpace): UsedNumbers {
  return {
    max: (from, to) => tx.maxAllocatedKey(space, from, to),
    list: (from, to, limit) => tx.allocatedKeys(space, from, to, limit),
  };
}

/** The next free address of the subnet's pools, claimed for `portId`; undefined when exhausted. */
export async function allocateNextIp(tx: WriteTx, subnet: Subnet, portId: string): Promise<string | undefined> {
  const space: KeySpace = { kind: 'ip', subnetId: subnet.id, version: subnet.ip_version };
  for (const r of poolRanges(subnet.allocation_pools)) {
    const n = await firstFree(r.start, r.end, used(tx, space));
    if (n === undefined) continue;
    const ip = bigIntToIp(n, subnet.ip_version);
    if (await tx.claimIp(subnet.id, subnet.ip_version, ip, portId)) return ip;
  }
  return undefined;
}

/** Claims a specific address (anywhere in the CIDR except network/broadcast/gateway). */
export async function allocateSpecificIp(
  tx: WriteTx,
  subnet: Subnet,
  ip: string,
  portId: string,
  mayUseGateway: boolean,
): Promise<void> {
  const c = parseCidr(subnet.cidr);
  if (!cidrContains(c, ip)) {
    throw faults.invalidInput(`IP address ${ip} is not a valid IP for the specified subnet`);
  }
  const isNetwork = bigIntToIp(c.network, c.version) === ip;
  const isBroadcast = c.version === 4 && bigIntToIp(c.last, c.version) === ip;
  if (isNetwork || isBroadcast)
    throw faults.invalidInput(`IP address ${ip} is not a valid IP for the specified subnet`);
  if ((ip === subnet.gateway_ip && !mayUseGateway) || !(await tx.claimIp(subnet.id, subnet.ip_version, ip, portId))) {
    throw faults.conflict('IpAddressAlreadyAllocated', `IP address ${ip} already allocated in subnet ${subnet.id}`);
  }
}

export interface VniRange {
  min: number;
  max: number;
}

export const DEFAULT_VNI_RANGE: VniRange = { min: 1001, max: 16_000_000 };

export async function allocateVni(tx: WriteTx, range: VniRange, networkId: string): Promise<number> {
  const n = await firstFree(BigInt(range.min), BigInt(range.max), used(tx, { kind: 'vni' }));
  if (n === undefined || !(await tx.claimVni(Number(n), networkId))) {
    throw faults.conflict(
      'NoNetworkAvailable',
      'Unable to create the network. No tenant network is available for allocation.',
    );
  }
  return Number(n);
}

/** Claims a MAC on the network: the requested one (409 when taken) or a generated one. */
export async function allocateMac(
  tx: WriteTx,
  networkId: string,
  portId: string,
  baseMac: string,
  requested?: string,
): Promise<string> {
  if (requested !== undefined) {
    if (!(await tx.claimMac(networkId, requested, portId))) {
      throw faults.conflict(
        'MacAddressInUse',
        `Unable to complete operation for network ${networkId}. The mac address ${requested} is in use.`,
      );
    }
    return requested;
  }
  for (let attempt = 0; attempt < 16; attempt++) {
    const mac = generateMac(baseMac);
    if (await tx.claimMac(networkId, mac, portId)) return mac;
  }
  throw faults.conflict('MacAddressGenerationFailure', `Unable to generate unique mac on network ${networkId}.`);
}
