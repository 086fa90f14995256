/** The shapes of the encrypted overlay feature: its desired state, what the kernel reports, and its ops. */

/** Kernel module (`ip link add type wireguard`) or the userspace daemon wireguard-go. */
export type WgImpl = 'kernel' | 'userspace';

export interface DesiredPeer {
  /** The peer's host id (for status and logs). */
  host: string;
  publicKey: string;
  /**
   * `underlay-ip:port`: WireGuard's own UDP runs on the underlay. null: the peer's own (an agentless
   * client roams; WireGuard learns its endpoint from its handshake).
   */
  endpoint: string | null;
  /** The peer's inner address /32 (where our VXLAN sends) and its underlay /32 (its VXLAN's source). */
  allowedIps: readonly string[];
}

export interface DesiredWg {
  iface: string;
  listenPort: number;
  privateKeyFile: string;
  publicKey: string;
  /** Underlay MTU − WireGuard overhead. */
  mtu: number;
  /** This node's inner address with the range's prefix (`100.127.x.y/16`), or null while it has none. */
  address: string | null;
  peers: readonly DesiredPeer[];
  /** Underlay IPs of peers whose tunnels stay plaintext: the only sources of VXLAN off the underlay. */
  plainPeers: readonly string[];
  /** The nftables table guarding UDP 4789 (rendered text; applied when it changes). */
  nft: string;
  /**
   * UDP socket buffer (bytes) wanted for a wireguard-go daemon's sockets, 0 to leave its default
   * (kernel module, or the helper that sets it is not built).
   */
  socketBuffer: number;
  /**
   * CPUs (sysfs mask) that take a wireguard-go interface's received packets off the daemon's write
   * (RPS), '' to leave it: without it the whole overlay (VXLAN, bridge, the VM's TCP) runs inside the
   * daemon's write to its TUN, one packet at a time, while the next packets wait to be decrypted.
   */
  rpsCpus: string;
  /**
   * TX queue length (packets) of a wireguard-go interface, 0 to leave it: forwarded VXLAN waits there
   * for the daemon, and every packet the default 500 drops is a loss the VM's TCP must recover from.
   */
  txQueueLen: number;
}

export interface ActualPeer {
  publicKey: string;
  endpoint: string | null;
  allowedIps: readonly string[];
  /** Unix seconds of the last handshake, 0 for never. */
  latestHandshake: number;
  rxBytes: number;
  txBytes: number;
}

export interface ActualWg {
  /** The interface exists. */
  exists: boolean;
  mtu: number;
  up: boolean;
  /** The interface's TX queue length (`txqlen`). */
  txQueueLen: number;
  addresses: readonly string[];
  /** From `wg show IF dump`: null when wg could not read it (no daemon behind the interface). */
  publicKey: string | null;
  listenPort: number | null;
  peers: readonly ActualPeer[];
  /** The smallest receive buffer of the UDP sockets on the listen port (`ss`), null when none is seen. */
  socketBuffer: number | null;
}

export type WgOp =
  | { op: 'create'; iface: string; impl: WgImpl }
  | { op: 'set-key'; iface: string; privateKeyFile: string; listenPort: number }
  | { op: 'link'; iface: string; mtu: number; txQueueLen?: number }
  | { op: 'sockbuf'; iface: string; bytes: number }
  | { op: 'rps'; iface: string; cpus: string }
  | { op: 'addr-add'; iface: string; cidr: string }
  | { op: 'addr-del'; iface: string; cidr: string }
  | { op: 'peer-set'; iface: string; peer: DesiredPeer }
  | { op: 'peer-del'; iface: string; publicKey: string }
  /** Starts a handshake with each peer now (after a key changed on either side), not at its next packet. */
  | { op: 'handshake'; iface: string; publicKeys: readonly string[] }
  | { op: 'nft'; text: string };
