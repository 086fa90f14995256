/**
 * The lab provider's record of its "cloud" (what AWS keeps as instances, ENIs and their tags): the
 * hyperswitch VMs and the network interfaces, in one JSON file written atomically. Also the pure parts
 * every provider needs the same way: the API's list filters (ANDed, each a list of accepted values)
 * and picking a free address of a subnet.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { bigIntToIp, ipToBigInt, parseCidr, usableRange } from '../../model/grammar/addresses.js';
import type { ProviderHyperswitch, ProviderHyperVm, ProviderNetworkInterface } from '../../model/provider.js';

/** A hyperswitch as the lab runs it: the provider entity plus its namespace. */
export interface LabHyperswitch extends ProviderHyperswitch {
  ns: string;
}

/** A HyperVM's provider VM as the lab runs it: the provider entity plus its namespace. */
export interface LabHyperVm extends ProviderHyperVm {
  ns: string;
}

export interface LabCloud {
  hyperswitches: LabHyperswitch[];
  interfaces: ProviderNetworkInterface[];
  /** Absent in the cloud.json of older labs. */
  hypervms?: LabHyperVm[];
}

export function readCloud(file: string): LabCloud {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LabCloud;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { hyperswitches: [], interfaces: [] };
    throw e;
  }
}

export function writeCloud(file: string, cloud: LabCloud): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, `${JSON.stringify(cloud, null, 1)}\n`);
  renameSync(`${file}.tmp`, file);
}

/** True when `value` passes a filter: no filter, or one of its accepted values. */
const pass = <T>(accepted: readonly T[] | undefined, value: T): boolean => !accepted || accepted.includes(value);

export function filterHyperswitchs<T extends ProviderHyperswitch>(
  all: readonly T[],
  f: { names?: string[]; hyperswitch_ids?: string[]; device_ids?: string[]; tenant_ids?: string[] } = {},
): T[] {
  return all.filter(
    (h) =>
      pass(f.names, h.id) &&
      pass(f.hyperswitch_ids, h.id) &&
      pass(f.device_ids, h.device_id ?? '') &&
      pass(f.tenant_ids, h.tenant_id ?? ''),
  );
}

export function filterInterfaces(
  all: readonly ProviderNetworkInterface[],
  f: {
    names?: string[];
    port_ids?: string[];
    device_ids?: string[];
    private_ips?: string[];
    tenant_ids?: string[];
    indexes?: number[];
  } = {},
): ProviderNetworkInterface[] {
  return all.filter(
    (n) =>
      pass(f.names, n.id) &&
      pass(f.port_ids, n.port_id) &&
      pass(f.device_ids, n.device_id) &&
      pass(f.private_ips, n.private_ip) &&
      pass(f.tenant_ids, n.tenant_id) &&
      pass(f.indexes, n.index),
  );
}

/** The lowest usable address of `cidr` not in `used`. */
export function freeAddress(cidr: string, used: Iterable<string | null>): string {
  const c = parseCidr(cidr);
  const taken = new Set([...used].filter((ip): ip is string => !!ip).map((ip) => ipToBigInt(ip)));
  const r = usableRange(c);
  for (let n = r.start; n <= r.end; n++) if (!taken.has(n)) return bigIntToIp(n, c.version);
  throw new Error(`no free address in ${cidr}`);
}

/** The prefix length of a CIDR. */
export const prefixLen = (cidr: string): number => parseCidr(cidr).prefix;
