/**
 * Shapes of the DHCP part: the desired state compileDhcp produces, what the driver finds in the
 * kernel and on disk, the plan that diffDhcp makes of the two, and what apply reports.
 */

/** One network's DHCP server on this node, fully resolved. */
export interface DhcpNetworkDesired {
  readonly networkId: string;
  /** The DHCP port (this host's, on this network) whose MAC and addresses dnsmasq answers from. */
  readonly portId: string;
  readonly vni: number;
  /** Bridge the DHCP veth is plugged into (node namespace). */
  readonly bridge: string;
  readonly netns: string;
  /** veth end in the node namespace (bridge member) and the end inside `netns`. */
  readonly vethNode: string;
  readonly vethNs: string;
  /** MAC and addresses ("ip/prefix", sorted) of the DHCP port, set on `vethNs`. */
  readonly mac: string;
  readonly addresses: readonly string[];
  /** Overlay MTU (underlay − 50): the veth MTU and DHCP option 26. */
  readonly mtu: number;
  /** dnsmasq config file text (options, ranges). A change means restart. */
  readonly confText: string;
  /** dnsmasq --dhcp-hostsfile text (local ports only). A change alone means SIGHUP. */
  readonly hostsText: string;
}

export interface DhcpDesired {
  readonly netnsPrefix: string;
  /** Sorted by VNI. Networks absent here are torn down by apply. */
  readonly networks: readonly DhcpNetworkDesired[];
  /** Network ids with local ports to serve but no DHCP port for this host yet: create one with
   * dhcpPortRequest(networkId, host), then recompile. */
  readonly needsDhcpPort: readonly string[];
  /** Human-readable reasons something could not be served (e.g. DHCP port lacks an IP in a subnet). */
  readonly problems: readonly string[];
}

/** What exists for one VNI (any trace of it counts: namespace, veth, files, process). */
export interface DhcpNetworkActual {
  readonly vni: number;
  readonly netnsExists: boolean;
  /** Node-side veth, if present. */
  readonly vethNode: { readonly master: string | null; readonly up: boolean; readonly mtu: number } | null;
  /** Namespace-side veth, if present. */
  readonly vethNs: {
    readonly mac: string;
    readonly up: boolean;
    readonly mtu: number;
    readonly addresses: readonly string[];
  } | null;
  readonly confText: string | null;
  readonly hostsText: string | null;
  /** dnsmasq's lease file, null when absent. */
  readonly leasesText: string | null;
  /** PID of our running dnsmasq for this VNI (verified by /proc/PID/cmdline), or null. */
  readonly pid: number | null;
  /** True when that dnsmasq runs with exactly the command line the driver would use. */
  readonly cmdlineMatches: boolean;
}

export interface DhcpActual {
  /** Bridges named hnb-* present in the node namespace. */
  readonly bridges: readonly string[];
  readonly networks: readonly DhcpNetworkActual[];
}

export type DhcpProcessAction = 'none' | 'start' | 'restart' | 'reload';

export interface DhcpNetworkPlan {
  readonly vni: number;
  readonly networkId: string;
  /** Bridge absent: nothing can be done for this network now. */
  readonly bridgeMissing: boolean;
  readonly createNetns: boolean;
  /** (Re)create the veth pair (one end missing). */
  readonly createVeth: boolean;
  /** Set MAC/MTU/master/up on the veth ends. */
  readonly configureVeth: boolean;
  readonly addAddresses: readonly string[];
  readonly delAddresses: readonly string[];
  readonly writeConf: boolean;
  readonly writeHosts: boolean;
  readonly process: DhcpProcessAction;
  /** Leases held by MAC/IP pairs no longer in the hosts file: released with dhcp_release. */
  readonly releaseLeases: readonly { mac: string; ip: string }[];
}

export interface DhcpPlan {
  readonly networks: readonly DhcpNetworkPlan[];
  /** VNIs with traces but no longer desired: kill dnsmasq, delete veth, namespace and files. */
  readonly remove: readonly number[];
}

export interface DhcpNetworkResult {
  readonly vni: number;
  readonly networkId: string;
  readonly status: 'ok' | 'bridge-missing' | 'error';
  readonly process: DhcpProcessAction;
  readonly pid: number | null;
  readonly error?: string;
}

export interface DhcpApplyResult {
  readonly networks: readonly DhcpNetworkResult[];
  readonly removed: readonly number[];
  /** VNIs whose removal failed (retried on the next apply). */
  readonly removeErrors: readonly { readonly vni: number; readonly error: string }[];
}
