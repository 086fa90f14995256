/**
 * The encrypted overlay's shared facts (docs/encryption.md): the policy names and how a network's
 * override combines with the server default, the WireGuard public key grammar, which pairs of nodes
 * must be encrypted, each node's inner address on its WireGuard interface, and the resulting MTU.
 * Server (validation, presentation) and agent (compile) both use these, so both sides agree.
 */
import { createHash } from 'node:crypto';
import type { ModelView } from './model-cache.js';
import type { Agent, Network, Port } from './types.js';
import { bigIntToIp, ipToBigInt, ipVersion, isIp } from './grammar/addresses.js';
import { VXLAN_OVERHEAD } from './vxlan.js';

export const ENCRYPTION_POLICIES = ['cross-cloud', 'all', 'none'] as const;
export type EncryptionPolicy = (typeof ENCRYPTION_POLICIES)[number];
export const DEFAULT_ENCRYPTION: EncryptionPolicy = 'cross-cloud';

/** The network's own choice (null: the server default), settable through the API. */
export const NETWORK_ENCRYPTION = 'hypernet:encryption';
/** Read-only, filled in by the server: the override, or the server default when there is none. */
export const NETWORK_ENCRYPTION_EFFECTIVE = 'hypernet:encryption_effective';
/** The agent's WireGuard public key (base64 of 32 bytes), sent with its registration. */
export const AGENT_WG_PUBLIC_KEY = 'hypernet:wireguard_public_key';
/** What the agent reports of its encrypted overlay with its heartbeats (shown by `hypernet status`). */
export const AGENT_ENCRYPTION_STATUS = 'hypernet:encryption_status';

export interface EncryptionStatus {
  /** 'up': the WireGuard interface is there and converged; 'error': see `error`. */
  state: 'up' | 'error';
  /** 'kernel' or 'userspace' (wireguard-go); null before the choice was made. */
  impl: 'kernel' | 'userspace' | null;
  error?: string;
  /** Encrypted peers, with the Unix time of their last handshake (0: none yet). */
  peers: { host: string; latest_handshake: number }[];
}

export const isEncryptionPolicy = (v: unknown): v is EncryptionPolicy =>
  typeof v === 'string' && (ENCRYPTION_POLICIES as readonly string[]).includes(v);

/** A WireGuard key: standard base64 of exactly 32 bytes (44 characters, one `=` of padding). */
export function isWgKey(v: unknown): v is string {
  return typeof v === 'string' && /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/.test(v);
}

/**
 * The interface name when none is given: `hnwg` + 8 hex digits of the host id. wireguard-go's control
 * socket is /var/run/wireguard/NAME.sock, shared by every namespace of a machine: nodes that are
 * namespaces of one machine (the lab, tests) must not share a name.
 */
export const defaultWgIface = (host: string): string =>
  `hnwg${createHash('sha256').update(host).digest('hex').slice(0, 8)}`;

/** The hyperswitch's interface for WireGuard agentless clients: `hnwa` + the same digest, for the same reason. */
export const agentlessWgIface = (host: string): string =>
  `hnwa${createHash('sha256').update(host).digest('hex').slice(0, 8)}`;

/** A WireGuard interface name: it reaches `ip`/`wg` command lines and an nft rule. */
export const isWgIfaceName = (v: unknown): v is string => typeof v === 'string' && /^[a-z][a-z0-9-]{0,14}$/.test(v);

/** The policy a network follows: the server's presented value, else its override, else the default. */
export function networkPolicy(net: Network): EncryptionPolicy {
  const n = net as unknown as Record<string, unknown>;
  const eff = n[NETWORK_ENCRYPTION_EFFECTIVE];
  if (isEncryptionPolicy(eff)) return eff;
  const own = n[NETWORK_ENCRYPTION];
  return isEncryptionPolicy(own) ? own : DEFAULT_ENCRYPTION;
}

/** Whether a network's policy asks to encrypt a tunnel between nodes of these two clouds. An empty
 * cloud label matches nothing (an unknown location is treated as another cloud: fail closed). */
export function policyEncrypts(p: EncryptionPolicy, cloudA: string, cloudB: string): boolean {
  if (p === 'none') return false;
  if (p === 'all') return true;
  return !cloudA || !cloudB || cloudA !== cloudB;
}

/** The agent's public key, when it sent a well-formed one. */
export function agentPublicKey(a: Agent): string | undefined {
  const k = (a as unknown as Record<string, unknown>)[AGENT_WG_PUBLIC_KEY];
  return isWgKey(k) ? k : undefined;
}

/** IPv4 underlay: outer IPv4 20 + UDP 8 + WireGuard header 16 + tag 16. IPv6 underlay: 40 more − 20. */
export const WG_OVERHEAD_V4 = 60;
export const WG_OVERHEAD_V6 = 80;
export const wgOverhead = (underlayIp: string): number =>
  isIp(underlayIp) && ipVersion(underlayIp) === 6 ? WG_OVERHEAD_V6 : WG_OVERHEAD_V4;

/** The inner addresses of the WireGuard legs: a /16 of 100.64.0.0/10 (shared address space) kept for hypernet. */
export const INNER_RANGE = '100.127.0.0/16';
const INNER_BASE = ipToBigInt('100.127.0.0');
const INNER_SLOTS = 65534; // .0.1 … .255.254
export const INNER_PREFIX_LEN = 16;

const isDhcpPort = (p: Port): boolean => p.device_owner === 'network:dhcp';

const byAge = (a: Agent, b: Agent): number =>
  a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

/**
 * Every agent's inner address, the same on every node: a hash of the agent id picks a slot, and a
 * slot taken by an older agent sends the newer one to the next free slot (so a newcomer never moves
 * an existing node). Only agents with a public key take part: the others have no WireGuard leg.
 */
export function innerAddresses(agents: Iterable<Agent>): Map<string, string> {
  const out = new Map<string, string>();
  const taken = new Set<number>();
  for (const a of [...agents].filter((x) => agentPublicKey(x)).sort(byAge)) {
    if (out.has(a.host)) continue;
    let h = 0;
    for (const c of a.id) h = (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0;
    let slot = h % INNER_SLOTS;
    while (taken.has(slot)) slot = (slot + 1) % INNER_SLOTS;
    taken.add(slot);
    out.set(a.host, bigIntToIp(INNER_BASE + BigInt(slot + 1), 4));
  }
  return out;
}

/** Hosts that are tunnel endpoints of each network: hosts of its ports' bindings (active or inactive). */
export function networkHosts(model: ModelView): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const p of model.ports.values()) {
    if (isDhcpPort(p)) continue;
    const hosts = [p['binding:host_id'], ...(p['binding:inactive'] ?? []).map((b) => b.host)].filter(Boolean);
    if (hosts.length === 0) continue;
    const s = out.get(p.network_id) ?? new Set<string>();
    out.set(p.network_id, s);
    for (const h of hosts) s.add(h);
  }
  return out;
}

const pairKey = (a: string, b: string): string => (a < b ? `${a}\n${b}` : `${b}\n${a}`);

/** The decision for the tunnels of a whole model: which pairs of hosts are encrypted, and each network's MTU. */
export interface EncryptionPlan {
  /** Whether the tunnel between hosts a and b is encrypted (a pair is, if any network they share asks). */
  encrypted(a: string, b: string): boolean;
  /** Whether some pair of this network's hosts is encrypted (its workloads get the reduced MTU). */
  crossesEncryption(networkId: string): boolean;
  /**
   * Whether some network's policy would encrypt a tunnel between these hosts' clouds, wherever the
   * ports are: their WireGuard peering. It does not follow the ports, so a workload moving onto a
   * host never waits for a peer to be set up (only for its FDB entry).
   */
  mayEncrypt(a: string, b: string): boolean;
}

export function encryptionPlan(model: ModelView): EncryptionPlan {
  const cloudOf = new Map<string, string>();
  for (const a of model.agents.values()) if (!cloudOf.has(a.host)) cloudOf.set(a.host, a.configurations?.cloud ?? '');
  const hostsOf = networkHosts(model);
  const pairs = new Set<string>();
  for (const [netId, hosts] of hostsOf) {
    const net = model.networks.get(netId);
    if (!net) continue;
    const policy = networkPolicy(net);
    if (policy === 'none') continue;
    const hs = [...hosts].filter((h) => cloudOf.has(h));
    for (let i = 0; i < hs.length; i++)
      for (let j = i + 1; j < hs.length; j++)
        if (policyEncrypts(policy, cloudOf.get(hs[i])!, cloudOf.get(hs[j])!)) pairs.add(pairKey(hs[i], hs[j]));
  }
  const crosses = new Map<string, boolean>();
  const policies = new Set([...model.networks.values()].map(networkPolicy));
  return {
    encrypted: (a, b) => pairs.has(pairKey(a, b)),
    mayEncrypt: (a, b) =>
      cloudOf.has(a) &&
      cloudOf.has(b) &&
      [...policies].some((p) => policyEncrypts(p, cloudOf.get(a)!, cloudOf.get(b)!)),
    crossesEncryption(netId) {
      let c = crosses.get(netId);
      if (c === undefined) {
        const hs = [...(hostsOf.get(netId) ?? [])];
        c = hs.some((a, i) => hs.slice(i + 1).some((b) => pairs.has(pairKey(a, b))));
        crosses.set(netId, c);
      }
      return c;
    },
  };
}

/**
 * The MTU a network's workloads get: underlay − VXLAN, and − WireGuard too when the network crosses
 * an encrypted tunnel, so that an encrypted leg never fragments a full-sized frame.
 */
export function overlayMtu(underlayMtu: number, underlayIp: string, encrypted: boolean): number {
  return underlayMtu - VXLAN_OVERHEAD - (encrypted ? wgOverhead(underlayIp) : 0);
}
