/**
 * Shapes of the metadata part: the desired state compileMetadata produces (a proxy per served
 * network, and who is behind each source address), what the driver finds, and the plan diffMetadata
 * makes of the two.
 */
import type { MetadataIdentity } from '../../model/metadata-signature.js';

/** The well-known metadata address, put on `lo` of the network's DHCP namespace. */
export const METADATA_IP = '169.254.169.254';
export const METADATA_PORT = 80;

/** One network's proxy on this node: it listens in the network's DHCP namespace. */
export interface MetadataNetworkDesired {
  readonly networkId: string;
  readonly vni: number;
  readonly netns: string;
}

export interface MetadataDesired {
  /** Sorted by VNI. Proxies of other VNIs are stopped. */
  readonly networks: readonly MetadataNetworkDesired[];
  /** network id → source IPv4 of a local port → who that is (the port, its device and project). */
  readonly identities: ReadonlyMap<string, ReadonlyMap<string, MetadataIdentity>>;
}

export interface MetadataNetworkActual {
  readonly vni: number;
  readonly netnsExists: boolean;
  /** 169.254.169.254/32 is on `lo` of the namespace and `lo` is up. */
  readonly addressed: boolean;
  /** Our proxy for this VNI (pid file, verified by /proc), or null. */
  readonly pid: number | null;
  /** That proxy runs with the command line the driver would use, in the namespace as it is now. */
  readonly proxyMatches: boolean;
}

export interface MetadataActual {
  readonly networks: readonly MetadataNetworkActual[];
}

export interface MetadataNetworkPlan {
  readonly vni: number;
  readonly netns: string;
  readonly networkId: string;
  /** The DHCP namespace is not there (yet): nothing can be done now. */
  readonly netnsMissing: boolean;
  readonly addAddress: boolean;
  readonly proxy: 'none' | 'start' | 'restart';
}

export interface MetadataPlan {
  readonly networks: readonly MetadataNetworkPlan[];
  /** VNIs whose proxy runs but is no longer desired: stopped. */
  readonly stop: readonly number[];
}
