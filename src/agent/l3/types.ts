/**
 * The shapes the L3 diff compares: the desired routers of this node compiled from the model (frozen)
 * and what the driver read back from the kernel (router namespaces, their links, routes and the key
 * of their nftables table; the node ends of the veths, the node's routes to them and proxy ARP).
 */

/** One veth of a router: an interface (node end on the subnet's bridge) or a gateway (node end routed). */
export interface DesiredIface {
  portId: string;
  kind: 'interface' | 'gateway';
  /** Inside the router namespace: holds the router's addresses and the port's MAC. */
  inner: string;
  /** In the node namespace: enslaved to `bridge` (interface) or routed to (gateway). */
  outer: string;
  bridge: string | null;
  mac: string;
  /** `ip/len`, canonical. */
  addrs: string[];
  mtu: number;
}

/** A peer on a router's transit: the gateway node `hop` stands for, its transit MAC and VTEP. */
export interface TransitPeer {
  hop: string;
  mac: string;
  dst: string;
}

/**
 * The router's transit VXLAN in its namespace: how a node whose traffic must leave through another
 * node's gateway (or reach a floating IP served there) gets it there over the overlay.
 */
export interface DesiredTransit {
  dev: string;
  vni: number;
  mac: string;
  mtu: number;
  /** The node's underlay IP, the VXLAN's source. */
  local: string;
  /** `ip/len`: the transit's own address (its connected route holds the next hops). */
  addr: string;
  peers: TransitPeer[];
}

export interface DesiredRouter {
  routerId: string;
  netns: string;
  /** admin_state_up: the inner ends are up, else down (no forwarding). */
  up: boolean;
  ifaces: DesiredIface[];
  /** Route keys in the router namespace (`DST [via GW] dev DEV [table N]`), in the order to add them. */
  routes: string[];
  /** Policy rules (`pref N [from IP] lookup T [suppress_prefixlength 0]`): floating IPs' own egress. */
  rules: string[];
  transit: DesiredTransit | null;
  /** The nftables script of `ip hypernet_l3` in the router namespace, and its key (its table comment). */
  nft: string;
  nftKey: string;
}

/**
 * An address this node announces with a gratuitous ARP: a floating IP it serves (its port lives here
 * and its external network is this cloud's), or a gateway address it answers for (`gateway:<router>`).
 */
export interface ServedFip {
  fipId: string;
  ip: string;
  routerId: string;
}

export interface DesiredL3 {
  readonly routers: readonly DesiredRouter[];
  /** Node routes to the gateway veths (`IP/32 dev hrg…`): gateway and floating addresses. */
  readonly hostRoutes: readonly string[];
  /** Addresses the node answers ARP for on its underlay interface (gateways, floating IPs). */
  readonly proxies: readonly string[];
  readonly fips: readonly ServedFip[];
  /** The node's bridge-family table and its key. */
  readonly bridgeNft: string;
  readonly bridgeNftKey: string;
  /** CIDRs of the external subnets: proxy ARP entries for addresses in them are ours. */
  readonly externalCidrs: readonly string[];
}

export interface ActualLink {
  mac: string;
  mtu: number;
  up: boolean;
  addrs: string[];
}

export interface ActualRouterNs {
  links: Map<string, ActualLink>;
  /** Our routes (proto static, every table), as route keys. */
  routes: Set<string>;
  nftKey: string | null;
  /** The 1:1 NATs (`FLOATING FIXED`) the table holds. */
  dnat: Set<string>;
  /** Our policy rules (priorities of src/agent/l3/names.ts), as rule keys. */
  rules: Set<string>;
  /** Permanent neighbours (`IP MAC`) and forwarding entries (`MAC DST`) of the transit. */
  neigh: Set<string>;
  fdb: Set<string>;
}

export interface ActualL3 {
  namespaces: Map<string, ActualRouterNs>;
  /** Node ends of our veths: their bridge and state. */
  outers: Map<string, { master: string | null; up: boolean }>;
  hostRoutes: Set<string>;
  proxies: Set<string>;
  bridgeNftKey: string | null;
  /** The node's underlay interface (holding the underlay IP), where proxy ARP and announcements go. */
  uplink: { name: string; mac: string } | null;
}

export const emptyActual = (): ActualL3 => ({
  namespaces: new Map(),
  outers: new Map(),
  hostRoutes: new Set(),
  proxies: new Set(),
  bridgeNftKey: null,
  uplink: null,
});
