/** Private addresses of a subnet as EC2 hands them out: the first four and the last are reserved. */
import { bigIntToIp, ipToBigInt, parseCidr } from '../../model/grammar/addresses.js';
import { Ec2Fault, faults } from './errors.js';
import type { Ec2State, Subnet } from './state.js';

const used = (s: Ec2State, subnet: Subnet): Set<string> =>
  new Set([...s.interfaces.values()].filter((n) => n.subnetId === subnet.subnetId).map((n) => n.privateIpAddress));

export function allocateIp(s: Ec2State, subnet: Subnet, wanted?: string): string {
  const c = parseCidr(subnet.cidrBlock);
  const first = c.network + 4n;
  const last = c.last - 1n;
  const taken = used(s, subnet);
  if (wanted) {
    let n: bigint;
    try {
      n = ipToBigInt(wanted);
    } catch {
      throw faults.invalidValue('PrivateIpAddress', wanted);
    }
    if (n < first || n > last)
      throw new Ec2Fault('InvalidParameterValue', `Address ${wanted} does not fall within the subnet's address range`);
    if (taken.has(wanted)) throw new Ec2Fault('InvalidIPAddress.InUse', `Address ${wanted} is in use.`);
    return wanted;
  }
  for (let n = first; n <= last; n++) {
    const ip = bigIntToIp(n, 4);
    if (!taken.has(ip)) return ip;
  }
  throw new Ec2Fault(
    'InsufficientFreeAddressesInSubnet',
    `There are not enough free addresses in subnet '${subnet.subnetId}' to satisfy the requested number of instances.`,
  );
}

/** The number of addresses still free (DescribeSubnets' availableIpAddressCount). */
export function freeCount(s: Ec2State, subnet: Subnet): number {
  const c = parseCidr(subnet.cidrBlock);
  return Number(c.last - c.network + 1n - 5n) - used(s, subnet).size;
}
