/**
 * compileFirewall (pure): this node's ports, their security groups and every port's addresses →
 * the structured ruleset of the agent's tables `bridge hypernet` (and `inet hypernet` in
 * br-netfilter mode); render.ts writes it as a full replace, diff.ts as the delta from the last one.
 *
 * Layout (bridge table; docs/security-groups.md has the why):
 *  - port_spoof (prerouting -300): anti-spoofing against sets keyed by interface (port_macs,
 *    port_src_v4/v6 for hosts, port_net_v4/v6 for networks), before conntrack sees the frame: IPv4
 *    from a protected port's host address is accepted after one lookup, the rest of a protected
 *    port's frames `jump spoof` (spoof.ts).
 *  - port_egress (forward 10): established first (MARK_ESTABLISHED, see conntrack.ts; not for ports of
 *    stateless groups); DHCP never into a tunnel (`hnv-*`); ARP, DHCP client, ND accept;
 *    `iifname vmap @egress_ports` → pf_<profile>_eg → jump sg_<group>_eg … → drop.
 *  - port_ingress (forward 20): the same towards ports: `oifname vmap @ingress_ports` → pf_<profile>_in.
 *  - chains pf_<profile>_in/_eg are shared by every port with the same profile (its sorted groups
 *    and statefulness), so wiring a port only adds map and set elements: no chain, and the
 *    table keeps a handful of chains however many ports the node has (nft and the kernel's
 *    transaction check walk every chain on each apply).
 *  - sets sg_<group>_v4/_v6: a remote group's member addresses; a membership change only rewrites
 *    set elements, a rule change only that group's chains.
 *  Per-port chains hold no anonymous sets: with thousands of ports those dominate nft -f time.
 * Ports with port security off (and network service ports) are in no map: nothing filters them.
 * A port the compiler refuses (validate.ts: an address nft would reject, a group with a rule it cannot
 * compile) is closed, not left out: its map elements are `drop` and it is in spoof_ports with no
 * elements, so none of its frames pass even while its tap is still plugged; `rejected` says why.
 *
 * FirewallCompiler memoises per rule and per port object (model objects are replaced, never
 * mutated, on change), so recompiling 1,000 ports after one rule change is cheap.
 */
import type { Port, SecurityGroup, SecurityGroupRule } from '../../model/types.js';
import { mergeCidrs } from './addresses.js';
import {
  MARK_ESTABLISHED,
  MARK_INVALID,
  MARK_OVERLAY,
  MARK_PEER,
  groupChainName,
  groupSetName,
  isStateless,
  isTrusted,
  profileChainName,
  type BaseChain,
  type CompiledFirewall,
  type FirewallInput,
  type LocalPort,
  type NftSet,
  type SourceInput,
} from './model.js';
import { portMacs } from './source.js';
import { renderBase } from './render.js';
import { ruleText } from './rules.js';
import { VXLAN_PREFIX, bridgeName, vxlanName } from '../../model/kernel-names.js';
import { SPOOF_BASE_RULES, SPOOF_CHAIN_RULES, SPOOF_SETS, spoofElements, type SpoofElements } from './spoof.js';
import { hex, stateChains, zoneMap } from './conntrack.js';
import { CompileError, checkRuleText, isPlainAddress, portProblem } from './validate.js';

const byId = <T extends { id: string }>(a: T, b: T) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const DIRS = ['egress', 'ingress'] as const;

/** Addresses a port contributes to its groups' member sets: fixed IPs and allowed address pairs
 * (memoised per port object: ports are replaced, never mutated). */
const memberMemo = new WeakMap<Port, readonly string[]>();
function memberAddresses(p: Port): readonly string[] {
  let a = memberMemo.get(p);
  // Only plain addresses: a port with one nft would reject is refused on its own node (validate.ts),
  // and must not break the member sets of every node it is a remote member on.
  if (!a)
    a = [...p.fixed_ips.map((f) => f.ip_address), ...(p.allowed_address_pairs ?? []).map((x) => x.ip_address)].filter(
      isPlainAddress,
    );
  memberMemo.set(p, a);
  return a;
}

/** Member addresses of every group in `groupIds`, by set name (sorted, merged). */
export function groupMembers(
  groupIds: Iterable<string>,
  allPorts: readonly Port[],
  merge: (xs: string[]) => string[] = mergeCidrs,
): Map<string, string[]> {
  const wanted = new Set(groupIds);
  const addrs = new Map<string, string[]>([...wanted].map((g) => [g, []]));
  for (const p of allPorts)
    for (const g of p.security_groups) if (wanted.has(g)) addrs.get(g)!.push(...memberAddresses(p));
  const out = new Map<string, string[]>();
  for (const g of [...wanted].sort()) {
    const all = addrs.get(g)!;
    for (const v of [4, 6] as const)
      out.set(groupSetName(g, v), merge(all.filter((a) => (a.includes(':') ? 6 : 4) === v)));
  }
  return out;
}

/** A port profile's two chains (rules) and their names. */
interface Profile {
  readonly key: string;
  /** The groups (sorted) whose chains it jumps to. */
  readonly groups: readonly string[];
  readonly names: { readonly egress: string; readonly ingress: string };
  readonly egress: string[];
  readonly ingress: string[];
}

/** What one port contributes beyond its anti-spoofing elements, for one groups map. */
interface PortPart {
  readonly groups: ReadonlyMap<string, SecurityGroup>;
  readonly ifname: string;
  readonly stateless: boolean;
  readonly profile: Profile;
  /** Its `egress_ports` and `ingress_ports` map elements. */
  readonly egress: string;
  readonly ingress: string;
}

const set = (family: NftSet['family'], kind: NftSet['kind'], decl: string[], elements: string[]): NftSet => ({
  family,
  kind,
  decl,
  elements,
});

/** Compiles with memo tables that live as long as the instance (the reconciler keeps one). */
export class FirewallCompiler {
  /** A rule's nft text, null when it cannot match, or the CompileError that refuses it. */
  private readonly rules = new WeakMap<SecurityGroupRule, string | null | CompileError>();
  private readonly spoof = new WeakMap<Port, { ifname: string; el: SpoofElements }>();
  /** Per port object: its profile and map elements, valid while `groups` is the map they were made from. */
  private readonly parts = new WeakMap<Port, PortPart>();
  /** The groups input last compiled (the reconciler hands the same array while no group or rule changed). */
  private groupsInput: readonly SecurityGroup[] | null = null;
  /** By id, rebuilt (a new map) when the groups input changes. */
  private groups = new Map<string, SecurityGroup>();
  /** Each profile's two chains, the same arrays from one compile to the next while the profile is
   * in use (delta and hasRemovals then skip them by identity). */
  private profiles = new Map<string, Profile>();
  private merged = new Map<string, string[]>();

  compile(input: FirewallInput): CompiledFirewall {
    const mode = input.mode;
    const filtered = [...input.localPorts].filter((lp) => !isTrusted(lp.port)).sort((a, b) => byId(a.port, b.port));
    if (input.securityGroups !== this.groupsInput) {
      this.groupsInput = input.securityGroups;
      this.groups = new Map<string, SecurityGroup>(input.securityGroups.map((g) => [g.id, g]));
    }
    const groups = this.groups;
    const rulesOf = (g: string) => [...groups.get(g)!.security_group_rules].sort(byId);
    const lastMerged = this.merged;
    this.merged = new Map();
    const merge = (xs: string[]) => {
      const key = xs.join(',');
      const got = lastMerged.get(key) ?? this.merged.get(key) ?? mergeCidrs(xs);
      this.merged.set(key, got);
      return got;
    };

    const spoof = new Map<string, string[]>(SPOOF_SETS.map(([n]) => [n, []]));
    const chains = new Map<string, readonly string[]>();
    const stateless: string[] = [];
    const vmaps = { egress: [] as string[], ingress: [] as string[] };
    const lastProfiles = this.profiles;
    this.profiles = new Map();
    const rejected = new Map<string, string>();
    const groupErrors = new Map<string, string | null>();
    for (const { port, ifname } of filtered) {
      const problem = portProblem(port) ?? this.groupProblem(port, groupErrors);
      if (problem) {
        // Closed: every frame from it meets spoof_ports with no elements, and both maps drop.
        rejected.set(port.id, problem);
        spoof.get('spoof_ports')!.push(`"${ifname}"`);
        vmaps.egress.push(`"${ifname}" : drop`);
        vmaps.ingress.push(`"${ifname}" : drop`);
        continue;
      }
      const el = this.spoofOf(port, ifname);
      for (const [name, , , field] of SPOOF_SETS) spoof.get(name)!.push(...(field ? el[field] : [`"${ifname}"`]));
      const part = this.partOf(port, ifname, lastProfiles);
      if (part.stateless) stateless.push(`"${ifname}"`);
      const pf = part.profile;
      if (!this.profiles.has(pf.key)) {
        this.profiles.set(pf.key, pf);
        for (const dir of DIRS) chains.set(pf.names[dir], pf[dir]);
      }
      vmaps.egress.push(part.egress);
      vmaps.ingress.push(part.ingress);
    }
    const source = input.source;
    const sourceSets = source
      ? this.sourceSets(mode, source, filtered, rejected, groupErrors, lastProfiles, chains)
      : null;
    const usedGroups = [...new Set([...this.profiles.values()].flatMap((pf) => pf.groups))].sort();
    const remoteGroups = usedGroups.flatMap((g) =>
      rulesOf(g).flatMap((r) => (r.remote_group_id ? [r.remote_group_id] : [])),
    );

    const sets = new Map<string, NftSet>();
    for (const [name, elems] of groupMembers(remoteGroups, input.allPorts, merge)) {
      sets.set(
        name,
        set('bridge', 'set', [`type ${name.endsWith('_v4') ? 'ipv4_addr' : 'ipv6_addr'}`, 'flags interval'], elems),
      );
    }
    for (const g of usedGroups) {
      for (const dir of DIRS) {
        const rules = rulesOf(g)
          .filter((r) => r.direction === dir)
          .map((r) => this.ruleOf(r));
        chains.set(
          groupChainName(g, dir),
          rules.filter((t): t is string => t !== null),
        );
      }
    }
    for (const [name, type, interval] of SPOOF_SETS)
      sets.set(name, set('bridge', 'set', [`type ${type}`, ...(interval ? ['flags interval'] : [])], spoof.get(name)!));
    if (stateless.length) sets.set('stateless_ports', set('bridge', 'set', ['type ifname'], stateless));
    for (const kind of DIRS) sets.set(`${kind}_ports`, set('bridge', 'map', ['type ifname : verdict'], vmaps[kind]));
    for (const [name, s] of sourceSets ?? []) sets.set(name, s);
    sets.set(
      'port_zones',
      zoneMap(mode, rejected.size ? input.localPorts.filter((lp) => !rejected.has(lp.port.id)) : input.localPorts),
    );

    const base = baseChains(mode, stateless.length > 0, source !== undefined);
    return { mode, base, baseKey: renderBase(base), sets, chains, rejected };
  }

  /**
   * Source filtering's sets (source.ts): the peers whose flows this node owns get their profile's
   * chains in `peer_egress`/`peer_ingress` (keyed by the VXLAN device and their MACs; a peer the
   * compiler refuses is closed there too); the others, in `peer_macs`, and the local ports that take
   * part, in `local_macs` (keyed by bridge and MAC), let a flow between them skip conntrack here.
   * That skip is written for br_netfilter's inet hooks only: in bridge-ct mode this node owns its
   * pairs as usual but skips nothing (it filters its own ports' side too: safe, not faster).
   */
  private sourceSets(
    mode: FirewallInput['mode'],
    source: SourceInput,
    filtered: readonly LocalPort[],
    rejected: ReadonlyMap<string, string>,
    groupErrors: Map<string, string | null>,
    lastProfiles: Map<string, Profile>,
    chains: Map<string, readonly string[]>,
  ): Map<string, NftSet> {
    const local: string[] = [];
    for (const { port, vni } of filtered)
      if (vni && source.local.has(port.id) && !rejected.has(port.id))
        for (const m of portMacs(port)) local.push(`"${bridgeName(vni)}" . ${m}`);
    const trusted: string[] = [];
    const vmaps = { egress: [] as string[], ingress: [] as string[] };
    for (const { port, vni, owned } of source.peers) {
      const macs = portMacs(port);
      if (!owned) {
        for (const m of macs) trusted.push(`"${bridgeName(vni)}" . ${m}`);
        continue;
      }
      const closed = portProblem(port) ?? this.groupProblem(port, groupErrors);
      const sgs = closed ? [] : port.security_groups.filter((g) => this.groups.has(g)).sort();
      const pf = closed ? null : this.profileOf(lastProfiles, sgs, false);
      if (pf && !this.profiles.has(pf.key)) {
        this.profiles.set(pf.key, pf);
        for (const dir of DIRS) chains.set(pf.names[dir], pf[dir]);
      }
      for (const m of macs)
        for (const dir of DIRS)
          vmaps[dir].push(`"${vxlanName(vni)}" . ${m} : ${pf ? `jump ${pf.names[dir]}` : 'drop'}`);
    }
    const sorted = (xs: string[]) => [...new Set(xs)].sort();
    const out = new Map<string, NftSet>([
      ['peer_egress', set('bridge', 'map', ['type ifname . ether_addr : verdict'], sorted(vmaps.egress))],
      ['peer_ingress', set('bridge', 'map', ['type ifname . ether_addr : verdict'], sorted(vmaps.ingress))],
    ]);
    if (mode === 'br-netfilter') {
      out.set('peer_macs', set('inet', 'set', ['type ifname . ether_addr'], sorted(trusted)));
      out.set('local_macs', set('inet', 'set', ['type ifname . ether_addr'], sorted(local)));
    }
    return out;
  }

  /** Why one of the port's groups cannot be compiled (the first such rule), or null; memoised per compile. */
  private groupProblem(port: Port, known: Map<string, string | null>): string | null {
    for (const g of port.security_groups) {
      const group = this.groups.get(g);
      if (!group) continue;
      let problem = known.get(g);
      if (problem === undefined) {
        problem = null;
        for (const r of group.security_group_rules) {
          const t = this.compiledRule(r);
          if (t instanceof CompileError) {
            problem = `security group ${g} rule ${r.id}: ${t.message}`;
            break;
          }
        }
        known.set(g, problem);
      }
      if (problem) return problem;
    }
    return null;
  }

  /** A port's profile and map elements: memoised per port object while the groups are unchanged. */
  private partOf(port: Port, ifname: string, lastProfiles: Map<string, Profile>): PortPart {
    const hit = this.parts.get(port);
    if (hit && hit.groups === this.groups && hit.ifname === ifname) return hit;
    const sgs = port.security_groups.filter((g) => this.groups.has(g)).sort();
    const sl = isStateless(port, this.groups);
    const profile = this.profileOf(lastProfiles, sgs, sl);
    const part: PortPart = {
      groups: this.groups,
      ifname,
      stateless: sl,
      profile,
      egress: `"${ifname}" : jump ${profile.names.egress}`,
      ingress: `"${ifname}" : jump ${profile.names.ingress}`,
    };
    this.parts.set(port, part);
    return part;
  }

  /** The profile of a port with groups `sgs` (sorted): reused from this or the last compile. */
  private profileOf(last: Map<string, Profile>, sgs: readonly string[], stateless: boolean): Profile {
    const key = `${sgs.join(',')}|${stateless}`;
    const known = this.profiles.get(key) ?? last.get(key);
    if (known) return known;
    const invalid = stateless ? [] : [`meta mark & ${hex(MARK_INVALID)} != 0 drop`];
    const chain = (dir: (typeof DIRS)[number]) => [
      ...invalid,
      ...sgs.map((g) => `jump ${groupChainName(g, dir)}`),
      'counter drop',
    ];
    return {
      key,
      groups: sgs,
      names: { egress: profileChainName(key, 'egress'), ingress: profileChainName(key, 'ingress') },
      egress: chain('egress'),
      ingress: chain('ingress'),
    };
  }

  /** A rule of a group no accepted port uses with an error never gets here (groupProblem refused them). */
  private ruleOf(r: SecurityGroupRule): string | null {
    const t = this.compiledRule(r);
    if (t instanceof CompileError) throw t;
    return t;
  }

  private compiledRule(r: SecurityGroupRule): string | null | CompileError {
    let t = this.rules.get(r);
    if (t === undefined) {
      try {
        const text = ruleText(r);
        t = text === null ? null : checkRuleText(text);
      } catch (e) {
        t = e instanceof CompileError ? e : new CompileError((e as Error).message);
      }
      this.rules.set(r, t);
    }
    return t;
  }

  private spoofOf(port: Port, ifname: string): SpoofElements {
    const hit = this.spoof.get(port);
    if (hit && hit.ifname === ifname) return hit.el;
    const el = spoofElements(port, ifname);
    this.spoof.set(port, { ifname, el });
    return el;
  }
}

/**
 * The hooked chains; `withStateless` adds the stateless-port exemption to the fast path, `source`
 * source filtering: a frame from a VXLAN device is marked MARK_OVERLAY, the fast path also passes
 * MARK_PEER (a flow the peer's node filters: never a stateless port's, see source.ts), and a frame
 * no local port's map took goes to the peer port's chains when this node owns its flows.
 */
function baseChains(mode: FirewallInput['mode'], withStateless: boolean, source: boolean): BaseChain[] {
  const bits = source ? MARK_ESTABLISHED | MARK_PEER : MARK_ESTABLISHED;
  const fast = (dir: 'iifname' | 'oifname') =>
    `meta mark & ${hex(bits)} != 0 ${withStateless ? `${dir} != @stateless_ports ` : ''}accept`;
  const spoofRules = source
    ? [`iifname "${VXLAN_PREFIX}*" meta mark set meta mark | ${hex(MARK_OVERLAY)} accept`, ...SPOOF_BASE_RULES.slice(1)]
    : SPOOF_BASE_RULES;
  return [
    {
      family: 'bridge',
      name: 'port_spoof',
      hook: 'type filter hook prerouting priority -300; policy accept;',
      rules: spoofRules,
    },
    { family: 'bridge', name: 'spoof', hook: '', rules: SPOOF_CHAIN_RULES },
    {
      family: 'bridge',
      name: 'port_egress',
      hook: 'type filter hook forward priority 10; policy accept;',
      rules: [
        fast('iifname'),
        `oifname "${VXLAN_PREFIX}*" udp dport { 67, 68, 546, 547 } counter drop`,
        'udp sport 68 udp dport 67 accept',
        'udp sport 546 udp dport 547 accept',
        'ether type arp accept',
        'icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert, mld2-listener-report } accept',
        'iifname vmap @egress_ports',
        ...(source ? ['iifname . ether saddr vmap @peer_egress'] : []),
      ],
    },
    {
      family: 'bridge',
      name: 'port_ingress',
      hook: 'type filter hook forward priority 20; policy accept;',
      rules: [
        fast('oifname'),
        'udp sport 67 udp dport 68 accept',
        'udp sport 547 udp dport 546 accept',
        'ether type arp accept',
        'icmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, mld-listener-query } accept',
        'oifname vmap @ingress_ports',
        ...(source ? ['oifname . ether daddr vmap @peer_ingress'] : []),
      ],
    },
    ...stateChains(mode, source),
  ];
}

/** One-shot compile (tests, benchmark); the reconciler keeps a FirewallCompiler for its memo. */
export function compileFirewall(input: FirewallInput): CompiledFirewall {
  return new FirewallCompiler().compile(input);
}
