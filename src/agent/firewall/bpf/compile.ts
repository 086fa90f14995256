/**
 * Security groups as entries of the tc-BPF program's maps (pure). The layout, as native/sg.bpf.c reads it
 * (little-endian fields, addresses 16 bytes in network order, IPv4 as ::ffff:a.b.c.d):
 *  - `hn_ports` value per filtered port and direction (3,728 bytes): u32 generation (a digest of the
 *    rest, so established flows are checked once against changed rules), u32 rule count, u32 source
 *    count, u32 flags (1: stateless), 16 sources {addr, mask, mac[6], u8 family, pad} (the port's
 *    MAC . address pairs of the nft anti-spoofing sets), 64 rules {addr, mask, u32 remote group number,
 *    u16 amin, amax, bmin, bmax (destination port range, or ICMP type and code), u8 protocol (0 any),
 *    u8 family, pad[2]}.
 *  - `hn_members` key per remote group member prefix: u32 prefix length (32 + address bits; IPv4
 *    32 + 96 + bits), u32 group number (one per group and family), addr.
 * Keys that need the kernel (a tap's ifindex) are left to the driver: ports are named by tap here.
 */
import { createHash } from 'node:crypto';
import type { Port, SecurityGroup, SecurityGroupRule } from '../../../model/types.js';
import { ICMP_PROTOCOLS, PORT_PROTOCOLS } from '../../../model/grammar/protocols.js';
import { type Cidr, parseCidr } from '../addresses.js';
import { isStateless, isTrusted, type FirewallInput } from '../model.js';
import { protocolNumber, ruleText } from '../rules.js';
import { sourcesByMac } from '../spoof.js';
import { portProblem } from '../validate.js';

/** Limits compiled into the program (MAX_RULES, MAX_SRC in sg.bpf.c). */
export const BPF_MAX_RULES = 64;
export const BPF_MAX_SRC = 16;
const SRC_BYTES = 40;
const RULE_BYTES = 48;
/** Offsets in a `hn_ports` value: the header, the first source, the first rule. */
export const BPF_SRC0 = 16;
export const BPF_RULE0 = BPF_SRC0 + SRC_BYTES * BPF_MAX_SRC;
const PORT_VALUE_BYTES = BPF_RULE0 + RULE_BYTES * BPF_MAX_RULES;
/** `flags` bit of a port whose groups are all stateless: rules per packet, no flow entries. */
export const BPF_STATELESS = 1;

/** The program's direction numbers: frames from the port (its egress rules), frames to it (ingress). */
export const BPF_DIRS = { egress: 0, ingress: 1 } as const;

export interface BpfCompiled {
  /** `hn_ports` values (plain hex) by `<tap>/<egress|ingress>`. */
  readonly ports: ReadonlyMap<string, string>;
  /** `hn_members` keys (plain hex, prefix length included), sorted. */
  readonly members: readonly string[];
  /** Filtered taps (each gets the programs), sorted. */
  readonly taps: readonly string[];
  /** Ports left closed (no entry: the program drops everything), with the reason, by port id. */
  readonly rejected: ReadonlyMap<string, string>;
}

/**
 * A group's number in the maps for one family's members and rules: 31 bits of its id's SHA-256, the
 * top bit set for IPv6, never 0 (0 means "no remote group"). The families need numbers of their own
 * because IPv4 members are keyed as ::ffff:a.b.c.d: under one number, an IPv6 packet from that mapped
 * address would find an IPv4 member (nft keeps the families' sets apart).
 */
export function groupNumber(id: string, family: 4 | 6): number {
  const n = createHash('sha256').update(id).digest().readUInt32LE(0) & 0x7fffffff;
  return family === 6 ? (n | 0x80000000) >>> 0 : n || 1;
}

/** Bytes as native/bpfmap.c reads them: plain hex, two digits per byte. */
const hex = (b: Buffer) => b.toString('hex');
const zeros = new Map<number, string>();
/** `n` zero bytes in hex (cached: unused slots are most of a value). */
const zeroHex = (n: number): string => {
  let z = zeros.get(n);
  if (z === undefined) {
    z = '00'.repeat(n);
    zeros.set(n, z);
  }
  return z;
};

/** A prefix as the program holds it: 16 address bytes (IPv4 mapped) and the mask, both masked. */
function prefix16(c: Cidr): { addr: Buffer; mask: Buffer; bits: number } {
  const bits = (c.v === 4 ? 96 : 0) + c.bits;
  const addr = Buffer.alloc(16);
  if (c.v === 4) {
    addr.writeUInt16BE(0xffff, 10);
    Buffer.from(c.addr.toByteArray()).copy(addr, 12);
  } else Buffer.from(c.addr.toByteArray()).copy(addr);
  const mask = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) {
    const n = Math.min(8, Math.max(0, bits - 8 * i));
    mask[i] = (0xff00 >> n) & 0xff;
    addr[i]! &= mask[i]!;
  }
  return { addr, mask, bits };
}

interface Rule {
  family: 4 | 6;
  addr: Buffer;
  mask: Buffer;
  gid: number;
  amin: number;
  amax: number;
  bmin: number;
  bmax: number;
  proto: number;
}

const ANY = Buffer.alloc(16);

/**
 * One rule in the program's terms, or null when it can never match (as ruleText decides for the nft
 * path). Throws for a rule the nft path refuses too (a protocol outside the grammar).
 */
const ruleMemo = new WeakMap<SecurityGroupRule, Rule | null>();
function bpfRule(r: SecurityGroupRule): Rule | null {
  let out = ruleMemo.get(r);
  if (out === undefined) {
    out = bpfRuleOf(r);
    ruleMemo.set(r, out);
  }
  return out;
}

function bpfRuleOf(r: SecurityGroupRule): Rule | null {
  if (ruleText(r) === null) return null;
  const family = r.ethertype === 'IPv6' ? 6 : 4;
  const proto = protocolNumber(r.protocol, family) ?? 0;
  const out: Rule = { family, addr: ANY, mask: ANY, gid: 0, amin: 0, amax: 0xffff, bmin: 0, bmax: 0xffff, proto };
  if (r.remote_group_id) out.gid = groupNumber(r.remote_group_id, family);
  const c = r.remote_ip_prefix ? parseCidr(r.remote_ip_prefix) : null;
  if (c && c.bits > 0) ({ addr: out.addr, mask: out.mask } = prefix16(c));
  if (ICMP_PROTOCOLS.has(proto)) {
    if (r.port_range_min !== null) out.amin = out.amax = r.port_range_min;
    if (r.port_range_max !== null) out.bmin = out.bmax = r.port_range_max;
  } else if (PORT_PROTOCOLS.has(proto) && r.port_range_min !== null) {
    out.amin = r.port_range_min;
    out.amax = r.port_range_max ?? r.port_range_min;
  }
  return out;
}

interface Source {
  mac: Buffer;
  family: 4 | 6;
  addr: Buffer;
  mask: Buffer;
}

/** The port's (MAC, source prefix) pairs, as the nft anti-spoofing sets hold them. */
function sources(p: Port): Source[] {
  const out: Source[] = [];
  for (const [mac, ips] of sourcesByMac(p))
    for (const ip of ips) {
      const c = parseCidr(ip);
      if (c) out.push({ mac: Buffer.from(mac.replaceAll(':', ''), 'hex'), family: c.v, ...prefix16(c) });
    }
  return out;
}

function portValue(src: Source[], rules: Rule[], flags: number): string {
  const b = Buffer.alloc(PORT_VALUE_BYTES);
  b.writeUInt32LE(rules.length, 4);
  b.writeUInt32LE(src.length, 8);
  b.writeUInt32LE(flags, 12);
  src.forEach((s, i) => {
    const o = BPF_SRC0 + SRC_BYTES * i;
    s.addr.copy(b, o);
    s.mask.copy(b, o + 16);
    s.mac.copy(b, o + 32);
    b.writeUInt8(s.family, o + 38);
  });
  rules.forEach((r, i) => {
    const o = BPF_RULE0 + RULE_BYTES * i;
    r.addr.copy(b, o);
    r.mask.copy(b, o + 16);
    b.writeUInt32LE(r.gid, o + 32);
    b.writeUInt16LE(r.amin, o + 36);
    b.writeUInt16LE(r.amax, o + 38);
    b.writeUInt16LE(r.bmin, o + 40);
    b.writeUInt16LE(r.bmax, o + 42);
    b.writeUInt8(r.proto, o + 44);
    b.writeUInt8(r.family, o + 45);
  });
  // The generation: a digest of the rest, so it changes exactly when the rules, sources or flags do.
  createHash('sha256').update(b.subarray(4)).digest().copy(b, 0, 0, 4);
  // The used sources and rules in hex, the unused slots from the cache.
  const srcEnd = BPF_SRC0 + SRC_BYTES * src.length;
  const ruleEnd = BPF_RULE0 + RULE_BYTES * rules.length;
  return `${hex(b.subarray(0, srcEnd))}${zeroHex(BPF_RULE0 - srcEnd)}${hex(b.subarray(BPF_RULE0, ruleEnd))}${zeroHex(
    PORT_VALUE_BYTES - ruleEnd,
  )}`;
}

/** The `hn_members` key of one member prefix of group `gid`. */
function memberKey(gid: number, c: Cidr): string {
  const { addr, bits } = prefix16(c);
  const b = Buffer.alloc(24);
  b.writeUInt32LE(32 + bits, 0);
  b.writeUInt32LE(gid, 4);
  addr.copy(b, 8);
  return hex(b);
}

type PortOut = { egress: string; ingress: string; remote: string[] } | { error: string };

/** The two values of one port, computed from the port object and its groups' objects. */
function portOut(port: Port, groups: ReadonlyMap<string, SecurityGroup>): PortOut {
  try {
    const problem = portProblem(port);
    if (problem) throw new Error(problem);
    const rules: Record<'egress' | 'ingress', Rule[]> = { egress: [], ingress: [] };
    const remote: string[] = [];
    for (const g of port.security_groups) {
      const group = groups.get(g);
      if (!group) throw new Error(`security group ${g} is unknown`);
      for (const r of group.security_group_rules) {
        const br = bpfRule(r);
        if (!br) continue;
        rules[r.direction].push(br);
        if (r.remote_group_id) remote.push(r.remote_group_id);
      }
    }
    for (const d of ['egress', 'ingress'] as const)
      if (rules[d].length > BPF_MAX_RULES) throw new Error(`${rules[d].length} ${d} rules (at most ${BPF_MAX_RULES})`);
    const src = sources(port);
    if (src.length > BPF_MAX_SRC) throw new Error(`${src.length} source addresses (at most ${BPF_MAX_SRC})`);
    const flags = isStateless(port, groups) ? BPF_STATELESS : 0;
    return { egress: portValue(src, rules.egress, flags), ingress: portValue(src, rules.ingress, flags), remote };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/**
 * Per port object (replaced, never mutated, on change): its values and the group objects they were
 * made from, so a recompile after one rule change rebuilds only the ports of that group (a value is
 * 3.7 KB of hex text: building 2,000 of them dominated a 1,000-port compile).
 */
const portMemo = new WeakMap<Port, { groups: readonly (SecurityGroup | undefined)[]; out: PortOut }>();
function portOutMemo(port: Port, groups: ReadonlyMap<string, SecurityGroup>): PortOut {
  const gs = port.security_groups.map((g) => groups.get(g));
  const hit = portMemo.get(port);
  if (hit && hit.groups.length === gs.length && hit.groups.every((g, i) => g === gs[i])) return hit.out;
  const out = portOut(port, groups);
  portMemo.set(port, { groups: gs, out });
  return out;
}

/** A port's member prefixes (the `hn_members` key without the group number), memoised per port object. */
const memberMemo = new WeakMap<Port, Cidr[]>();
function memberPrefixes(p: Port): Cidr[] {
  let out = memberMemo.get(p);
  if (!out) {
    out = [...p.fixed_ips.map((f) => f.ip_address), ...(p.allowed_address_pairs ?? []).map((x) => x.ip_address)]
      .map(parseCidr)
      .filter((c): c is Cidr => c !== null);
    memberMemo.set(p, out);
  }
  return out;
}

/**
 * A port's `hn_members` keys as a member of group `g`, memoised per port object: every pass lists
 * the members of every remote group, at 1,000 ports each key cost a digest and buffers.
 */
const memberKeyMemo = new WeakMap<Port, Map<string, readonly string[]>>();
function memberKeys(p: Port, g: string): readonly string[] {
  let byGroup = memberKeyMemo.get(p);
  if (!byGroup) {
    byGroup = new Map();
    memberKeyMemo.set(p, byGroup);
  }
  let keys = byGroup.get(g);
  if (!keys) {
    keys = memberPrefixes(p).map((c) => memberKey(groupNumber(g, c.v), c));
    byGroup.set(g, keys);
  }
  return keys;
}

/** Compiles the node's filtered ports (as `compileFirewall` would, without source filtering). */
export function compileBpf(input: FirewallInput): BpfCompiled {
  const groups = new Map<string, SecurityGroup>(input.securityGroups.map((g) => [g.id, g]));
  const ports = new Map<string, string>();
  const rejected = new Map<string, string>();
  const taps: string[] = [];
  const remote = new Set<string>();
  for (const { port, ifname } of input.localPorts) {
    if (isTrusted(port)) continue;
    taps.push(ifname);
    const out = portOutMemo(port, groups);
    if ('error' in out) {
      rejected.set(port.id, out.error);
      continue;
    }
    ports.set(`${ifname}/egress`, out.egress);
    ports.set(`${ifname}/ingress`, out.ingress);
    for (const g of out.remote) remote.add(g);
  }
  const members = new Set<string>();
  for (const p of input.allPorts)
    for (const g of p.security_groups) {
      if (!remote.has(g)) continue;
      for (const k of memberKeys(p, g)) members.add(k);
    }
  return { ports, members: [...members].sort(), taps: taps.sort(), rejected };
}
