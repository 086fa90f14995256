/**
 * Security groups as entries of the tc-BPF program's maps (pure; native/sg.bpf.c holds the layout).
 * Per filtered port and direction one `hn_ports` value (its IPv4 sources and rules, and a generation
 * that changes with the rules so established flows are checked once against the new ones); per remote
 * group member prefix one `hn_members` key. Keys that need the kernel (a tap's ifindex) are left to
 * the driver: ports are named by tap here. IPv6 rules are not compiled (the program passes no IPv6).
 */
import { createHash } from 'node:crypto';
import type { Port, SecurityGroup, SecurityGroupRule } from '../../../model/types.js';
import { parseCidr } from '../addresses.js';
import { isTrusted, type FirewallInput } from '../model.js';
import { protocolNumber } from '../rules.js';
import { portProblem } from '../validate.js';

/** Limits compiled into the program (MAX_RULES, MAX_SRC in sg.bpf.c). */
export const BPF_MAX_RULES = 64;
export const BPF_MAX_SRC = 8;
const RULE_BYTES = 24;
const PORT_VALUE_BYTES = 12 + 4 * BPF_MAX_SRC + RULE_BYTES * BPF_MAX_RULES;

/** The program's direction numbers: frames from the port (its egress rules), frames to it (ingress). */
export const BPF_DIRS = { egress: 0, ingress: 1 } as const;

export interface BpfCompiled {
  /** `hn_ports` values (hex bytes) by `<tap>/<egress|ingress>`. */
  readonly ports: ReadonlyMap<string, string>;
  /** `hn_members` keys (hex bytes, prefix length 64 included), sorted. */
  readonly members: readonly string[];
  /** Filtered taps (each gets the programs), sorted. */
  readonly taps: readonly string[];
  /** Ports left closed (no entry: the program drops everything), with the reason, by port id. */
  readonly rejected: ReadonlyMap<string, string>;
}

/** A group's number in the maps: 32 bits of its id's SHA-256, never 0 (0 means "no remote group"). */
export function groupNumber(id: string): number {
  return createHash('sha256').update(id).digest().readUInt32LE(0) || 1;
}

const hex = (b: Buffer) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');

/** Network-order bytes of an IPv4 address as the little-endian u32 the program compares. */
function v4(addr: number[]): number {
  return Buffer.from(addr).readUInt32LE(0);
}

function maskOf(bits: number): number {
  const m = Buffer.alloc(4);
  m.writeUInt32BE(bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0);
  return m.readUInt32LE(0);
}

interface Rule {
  addr: number;
  mask: number;
  gid: number;
  amin: number;
  amax: number;
  bmin: number;
  bmax: number;
  proto: number;
}

/** One IPv4 rule in the program's terms, or null when it is not an IPv4 rule. Throws for a bad protocol. */
function bpfRule(r: SecurityGroupRule): Rule | null {
  if (r.ethertype !== 'IPv4') return null;
  const proto = protocolNumber(r.protocol, 4) ?? 0;
  const out: Rule = { addr: 0, mask: 0, gid: 0, amin: 0, amax: 0xffff, bmin: 0, bmax: 0xffff, proto };
  if (r.remote_group_id) out.gid = groupNumber(r.remote_group_id);
  else if (r.remote_ip_prefix) {
    const c = parseCidr(r.remote_ip_prefix);
    if (!c || c.v !== 4) return null;
    out.mask = maskOf(c.bits);
    out.addr = v4(c.addr.toByteArray()) & out.mask;
  }
  if (proto === 1) {
    if (r.port_range_min !== null) out.amin = out.amax = r.port_range_min;
    if (r.port_range_max !== null) out.bmin = out.bmax = r.port_range_max;
  } else if ((proto === 6 || proto === 17 || proto === 132) && r.port_range_min !== null) {
    out.amin = r.port_range_min;
    out.amax = r.port_range_max ?? r.port_range_min;
  }
  return out;
}

/** IPv4 host addresses a port may send from (fixed IPs, address pairs that are hosts). */
function sources(p: Port): number[] {
  const out: number[] = [];
  for (const a of [
    ...p.fixed_ips.map((f) => f.ip_address),
    ...(p.allowed_address_pairs ?? []).map((x) => x.ip_address),
  ]) {
    const c = parseCidr(a);
    if (c?.v === 4 && c.bits === 32) out.push(v4(c.addr.toByteArray()));
  }
  return out;
}

function portValue(src: number[], rules: Rule[]): string {
  const b = Buffer.alloc(PORT_VALUE_BYTES);
  b.writeUInt32LE(rules.length, 4);
  b.writeUInt32LE(src.length, 8);
  for (const [i, s] of src.entries()) b.writeUInt32LE(s, 12 + 4 * i);
  rules.forEach((r, i) => {
    const o = 12 + 4 * BPF_MAX_SRC + RULE_BYTES * i;
    b.writeUInt32LE(r.addr, o);
    b.writeUInt32LE(r.mask, o + 4);
    b.writeUInt32LE(r.gid, o + 8);
    b.writeUInt16LE(r.amin, o + 12);
    b.writeUInt16LE(r.amax, o + 14);
    b.writeUInt16LE(r.bmin, o + 16);
    b.writeUInt16LE(r.bmax, o + 18);
    b.writeUInt8(r.proto, o + 20);
  });
  // The generation: a digest of the rest, so it changes exactly when the rules or sources do.
  createHash('sha256').update(b.subarray(4)).digest().copy(b, 0, 0, 4);
  return hex(b);
}

/** The `hn_members` key of one member prefix of group `gid`. */
function memberKey(gid: number, addr: number[], bits: number): string {
  const b = Buffer.alloc(12);
  b.writeUInt32LE(32 + bits, 0);
  b.writeUInt32LE(gid, 4);
  Buffer.from(addr).copy(b, 8);
  return hex(b);
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
    try {
      const problem = portProblem(port);
      if (problem) throw new Error(problem);
      const rules: Record<'egress' | 'ingress', Rule[]> = { egress: [], ingress: [] };
      for (const g of port.security_groups) {
        const group = groups.get(g);
        if (!group) throw new Error(`security group ${g} is unknown`);
        if (group.stateful === false) throw new Error(`stateless group ${g}: not supported by the tc-BPF mode`);
        for (const r of group.security_group_rules) {
          const br = bpfRule(r);
          if (!br) continue;
          rules[r.direction].push(br);
          if (r.remote_group_id) remote.add(r.remote_group_id);
        }
      }
      for (const d of ['egress', 'ingress'] as const)
        if (rules[d].length > BPF_MAX_RULES)
          throw new Error(`${rules[d].length} ${d} rules (at most ${BPF_MAX_RULES})`);
      const src = sources(port);
      if (src.length > BPF_MAX_SRC) throw new Error(`${src.length} IPv4 source addresses (at most ${BPF_MAX_SRC})`);
      ports.set(`${ifname}/egress`, portValue(src, rules.egress));
      ports.set(`${ifname}/ingress`, portValue(src, rules.ingress));
    } catch (e) {
      rejected.set(port.id, (e as Error).message);
    }
  }
  const members = new Set<string>();
  for (const p of input.allPorts)
    for (const g of p.security_groups) {
      if (!remote.has(g)) continue;
      for (const a of [
        ...p.fixed_ips.map((f) => f.ip_address),
        ...(p.allowed_address_pairs ?? []).map((x) => x.ip_address),
      ]) {
        const c = parseCidr(a);
        if (c?.v === 4) members.add(memberKey(groupNumber(g), c.addr.toByteArray(), c.bits));
      }
    }
  return { ports, members: [...members].sort(), taps: taps.sort(), rejected };
}
