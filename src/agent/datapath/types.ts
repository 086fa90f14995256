/**
 * The two shapes the datapath diff compares: the desired state compiled from the model (frozen,
 * pure data) and the actual state read back from the kernel (`ip -json`, `bridge -json`).
 */

/** One overlay network on this node: bridge `hnb-N` with VXLAN `hnv-N` (VNI N) enslaved. */
export interface DesiredNetwork {
  networkId: string;
  vni: number;
  bridge: string;
  /** The bridge's fixed MAC (model/kernel-names.ts bridgeMac). */
  bridgeMac: string;
  vxlan: string;
  /** Overlay MTU (underlay − 50), for bridge, vxlan and taps. */
  mtu: number;
  /** Underlay IP the VXLAN device sends from. */
  local: string;
}

/** A port bound to this host: its tap is enslaved to the network's bridge. */
export interface DesiredPort {
  portId: string;
  networkId: string;
  tap: string;
  bridge: string;
  mtu: number;
  mac: string;
  /** admin_state_up of the port: the tap is set up, or down. */
  up: boolean;
  /** Only a migration target here (INACTIVE binding): wired, but not reported or announced. */
  prepared?: true;
}

/** A forwarding entry on a VXLAN device. `dst` set: the device's own table (MAC → remote VTEP,
 * `self`); `dst` null: the bridge's table (MAC → the vxlan port, `master static`). */
export interface FdbEntry {
  mac: string;
  dev: string;
  dst: string | null;
}

/** A permanent neighbour entry on a bridge (answers ARP/ND locally via neigh_suppress). */
export interface NeighEntry {
  ip: string;
  mac: string;
  dev: string;
}

export interface DesiredState {
  readonly networks: readonly DesiredNetwork[];
  readonly ports: readonly DesiredPort[];
  readonly fdb: readonly FdbEntry[];
  readonly neigh: readonly NeighEntry[];
}

export interface ActualVxlan {
  vni: number;
  local: string | null;
  port: number;
  learning: boolean;
}

export interface ActualLink {
  name: string;
  /** linkinfo.info_kind ('bridge', 'vxlan', 'veth', …) or null. */
  kind: string | null;
  mtu: number;
  /** Lower-case MAC address (`address`), or null. */
  mac: string | null;
  /** Administratively up (flag UP). */
  up: boolean;
  master: string | null;
  vxlan: ActualVxlan | null;
}

export interface ActualBridgePort {
  name: string;
  master: string;
  learning: boolean;
  neighSuppress: boolean;
}

export interface ActualFdb {
  mac: string;
  dev: string;
  dst: string | null;
  /** Entry of the bridge's table (flag `master`, no `self`). */
  master: boolean;
  /** 'permanent', 'static', or '' (learned). */
  state: string;
}

export interface ActualNeigh {
  ip: string;
  dev: string;
  mac: string | null;
  permanent: boolean;
}

export interface ActualState {
  readonly links: ReadonlyMap<string, ActualLink>;
  readonly bridgePorts: ReadonlyMap<string, ActualBridgePort>;
  readonly fdb: readonly ActualFdb[];
  readonly neigh: readonly ActualNeigh[];
}

/** Who this node is: what compile needs besides the model. */
export interface NodeInfo {
  /** The agent's host id (ports with `binding:host_id` == host are local). */
  host: string;
  /** Underlay ("provider") IP: local VXLAN endpoint. */
  underlayIp: string;
  underlayMtu: number;
}
