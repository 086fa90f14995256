/**
 * An evaluator of compiled firewalls (CompiledFirewall, br-netfilter mode) for property tests: it
 * runs a unicast IPv4 frame through one node's hooks as the kernel orders them — bridge prerouting
 * (port_spoof), inet ct_zone, conntrack, bridge forward (port_egress, port_ingress and every chain
 * they jump to), the commit of an accepted new connection — by interpreting the compiled rule texts.
 * Conntrack itself and the ct_state chain are modelled, not interpreted: an entry per zone and tuple,
 * either direction of an entry is ESTABLISHED, anything else is new (REEVAL), and a frame ct_zone
 * untracked (notrack) has no state and commits nothing. The ruleset generation is not modelled.
 * A rule text the evaluator does not know throws: it never guesses a verdict.
 */
import { parseCidr } from '../src/agent/firewall/addresses.js';
import { GENERATION, MARK_ESTABLISHED, MARK_REEVAL, type CompiledFirewall } from '../src/agent/firewall/model.js';

/** A unicast IPv4 frame crossing one node's bridge from `iif` to `oif`. */
export interface Frame {
  iif: string;
  oif: string;
  /** The bridge both ports belong to (inet hooks see it as iifname). */
  bridge: string;
  smac: string;
  dmac: string;
  saddr: string;
  daddr: string;
  /** 6 tcp, 17 udp, 1 icmp. */
  proto: number;
  sport: number;
  /** tcp/udp: destination port; icmp: the type. */
  dport: number;
}

type Verdict = 'accept' | 'drop' | 'return' | null;

/** One node's conntrack table: the tuples of committed connections (original direction). */
export class Conntrack {
  /** Tuple → the tag of the frame that committed it. */
  private readonly entries = new Map<string, number>();
  /** Frames this node passed untracked (source filtering's skip), for tests that it happened. */
  untracked = 0;
  private static key(zone: string, f: Frame, reverse: boolean): string {
    const icmpReply = f.proto === 1 && reverse;
    const a = reverse ? [f.daddr, f.dport, f.saddr, f.sport] : [f.saddr, f.sport, f.daddr, f.dport];
    // An ICMP echo reply (type 0) belongs to the echo request (type 8) it answers.
    if (f.proto === 1) return `${zone}|${a[0]}|${a[2]}|1|${icmpReply ? 8 : f.dport}`;
    return `${zone}|${a.join('|')}|${f.proto}`;
  }
  /** The tag of the entry `f` belongs to (either direction), or undefined when it is new. */
  established(zone: string, f: Frame): number | undefined {
    // An echo request belongs to its own entry only, a reply (type 0) to its request's.
    if (f.proto === 1) return this.entries.get(Conntrack.key(zone, f, f.dport === 0));
    return this.entries.get(Conntrack.key(zone, f, false)) ?? this.entries.get(Conntrack.key(zone, f, true));
  }
  commit(zone: string, f: Frame, tag: number): void {
    this.entries.set(Conntrack.key(zone, f, false), tag);
  }
}

/** What a node did with a frame: passed it, and the tag of the conntrack entry it passed by, if any. */
export interface NodeResult {
  pass: boolean;
  via?: number;
}

/**
 * Runs `f` through a node with ruleset `c` and conntrack `ct`: whether the frame leaves by `oif`;
 * a new connection it opens is committed with `tag`.
 */
export function nodePasses(c: CompiledFirewall, ct: Conntrack, f: Frame, tag = 0): NodeResult {
  if (c.mode !== 'br-netfilter') throw new Error('nft-eval: br-netfilter mode only');
  const pkt = { mark: 0, untracked: false };
  const base = (name: string) => {
    const b = c.base.find((x) => x.name === name);
    if (!b) throw new Error(`nft-eval: no base chain ${name}`);
    return b;
  };
  const ev = new Evaluator(c, f, pkt, false);
  // Bridge prerouting: anti-spoofing is not what this evaluator compares (frames are authentic);
  // only its first rule, which marks frames from VXLAN devices, is run.
  ev.rules([base('port_spoof').rules[0]!]);
  // inet prerouting -300: the zone chain may untrack the frame (its zone map is a statement here).
  new Evaluator(c, f, pkt, true).rules(base('ct_zone').rules.filter((r) => !r.startsWith('ct zone set')));
  const zone = f.bridge;
  if (pkt.untracked) ct.untracked++;
  let fresh = false;
  const via = pkt.untracked ? undefined : ct.established(zone, f);
  if (via !== undefined) pkt.mark |= MARK_ESTABLISHED;
  else if (!pkt.untracked) {
    pkt.mark |= MARK_REEVAL;
    fresh = true;
  }
  for (const name of ['port_egress', 'port_ingress'])
    if (ev.rules(base(name).rules) === 'drop') return { pass: false, via };
  if (fresh) ct.commit(zone, f, tag);
  return { pass: true, via };
}

/** Interprets rule texts against one frame (see the file comment for what it knows). */
class Evaluator {
  constructor(
    private readonly c: CompiledFirewall,
    private readonly f: Frame,
    private readonly pkt: { mark: number; untracked: boolean },
    /** An inet hook: br_netfilter shows the bridge as iifname. */
    private readonly inet: boolean,
  ) {}

  /** Runs rules in order: the first verdict ends them (`return` ends only this chain). */
  rules(rules: readonly string[]): Verdict {
    for (const r of rules) {
      const v = this.rule(r);
      if (v) return v;
    }
    return null;
  }

  private chain(name: string): Verdict {
    const rules = this.c.chains.get(name);
    if (!rules) throw new Error(`nft-eval: no chain ${name}`);
    const v = this.rules(rules);
    return v === 'return' ? null : v;
  }

  /** A verdict statement: jump returns the called chain's verdict (null: go on after the rule). */
  private verdict(t: string[], i: number): Verdict {
    if (t[i] === 'jump') return this.chain(t[i + 1]!);
    if (t[i] === 'accept' || t[i] === 'drop' || t[i] === 'return') return t[i] as Verdict;
    throw new Error(`nft-eval: unknown verdict ${t[i]}`);
  }

  private field(name: string): string {
    const f = this.f;
    const v: Record<string, string> = {
      iifname: this.inet ? f.bridge : f.iif,
      oifname: f.oif,
      'ether saddr': f.smac,
      'ether daddr': f.dmac,
      'ip saddr': f.saddr,
      'ip daddr': f.daddr,
    };
    if (!(name in v)) throw new Error(`nft-eval: unknown field ${name}`);
    return v[name]!;
  }

  /** Element of a set or map key as the compiler writes it, for this frame's fields. */
  private key(fields: string[]): string {
    return fields.map((n) => (n.endsWith('name') ? `"${this.field(n)}"` : this.field(n))).join(' . ');
  }

  private lookup(name: string, fields: string[]): string | null {
    const s = this.c.sets.get(name);
    if (!s) throw new Error(`nft-eval: no set ${name}`);
    const key = this.key(fields);
    for (const e of s.elements) {
      const k = s.kind === 'map' ? e.split(' : ')[0]! : e;
      if (k === key || (fields.length === 1 && fields[0]!.startsWith('ip ') && inCidr(key, k)))
        return s.kind === 'map' ? e.split(' : ')[1]! : 'member';
    }
    return null;
  }

  private rule(text: string): Verdict {
    const t = tokens(text);
    let i = 0;
    const f = this.f;
    while (i < t.length) {
      const w = t[i]!;
      if (w === 'counter') i++;
      else if (w === 'accept' || w === 'drop' || w === 'return' || w === 'jump') return this.verdict(t, i);
      else if (w === 'notrack') {
        this.pkt.untracked = true;
        i++;
      } else if (w === 'meta' && t[i + 1] === 'mark' && t[i + 2] === '&') {
        const bits = Number(t[i + 3]);
        const neg = t[i + 4] === '!=';
        if (!neg && t[i + 4] !== '==') throw new Error(`nft-eval: ${text}`);
        if (((this.pkt.mark & bits) !== 0) !== (neg ? Number(t[i + 5]) === 0 : Number(t[i + 5]) !== 0)) return null;
        i += 6;
      } else if (w === 'meta' && t[i + 1] === 'mark' && t[i + 2] === 'set') {
        if (t[i + 3] !== 'meta' || t[i + 4] !== 'mark' || t[i + 5] !== '|') throw new Error(`nft-eval: ${text}`);
        this.pkt.mark |= Number(t[i + 6]);
        i += 7;
      } else if (w === 'meta' && t[i + 1] === 'l4proto') {
        if (f.proto !== Number(t[i + 2])) return null;
        i += 3;
      } else if (w === 'ether' && t[i + 1] === 'type') {
        if (t[i + 2] !== 'ip') return null; // frames here are IPv4
        i += 3;
      } else if (w === 'th' && t[i + 1] === 'dport') {
        if (f.proto !== 6 && f.proto !== 17) return null;
        const [lo, hi] = t[i + 2]!.split('-').map(Number);
        if (f.dport < lo! || f.dport > (hi ?? lo)!) return null;
        i += 3;
      } else if (w === 'icmp' && (t[i + 1] === 'type' || t[i + 1] === 'code')) {
        // Generated frames are echo requests (type 8) and replies (type 0), code 0.
        const have = t[i + 1] === 'type' ? f.dport : 0;
        if (f.proto !== 1 || have !== Number(t[i + 2])) return null;
        i += 3;
      } else if (w === 'icmpv6') {
        return null; // frames here are IPv4
      } else if (w === 'udp' && (t[i + 1] === 'sport' || t[i + 1] === 'dport')) {
        const want = t[i + 2]!.replace(/[{}]/g, '').split(',').map(Number);
        if (f.proto !== 17 || !want.includes(t[i + 1] === 'sport' ? f.sport : f.dport)) return null;
        i += 3;
      } else {
        // A match on fields: `a [. b]… [!=] (value | @set | vmap @map)`.
        const fields: string[] = [];
        let j = i;
        for (;;) {
          const name = t[j] === 'ether' || t[j] === 'ip' ? `${t[j]} ${t[j + 1]}` : t[j]!;
          fields.push(name);
          j += name.includes(' ') ? 2 : 1;
          if (t[j] !== '.') break;
          j++;
        }
        const neg = t[j] === '!=';
        if (neg) j++;
        const arg = t[j]!;
        if (arg === 'vmap') {
          const v = this.lookup(t[j + 1]!.slice(1), fields);
          if (v === null) return null;
          return this.verdict(tokens(v), 0);
        }
        let hit: boolean;
        if (arg.startsWith('@')) hit = this.lookup(arg.slice(1), fields) !== null;
        else if (fields.length === 1 && fields[0]!.startsWith('ip ')) hit = inCidr(this.field(fields[0]!), arg);
        else if (fields.length === 1 && arg.startsWith('"')) hit = globMatch(this.field(fields[0]!), arg.slice(1, -1));
        else throw new Error(`nft-eval: ${text}`);
        if (hit === neg) return null;
        i = j + (arg === 'vmap' ? 2 : 1);
      }
    }
    return null;
  }
}

/** Splits a rule into words, keeping quoted names and `{ … }` together. */
function tokens(text: string): string[] {
  if (text.includes(GENERATION)) throw new Error(`nft-eval: generation rules are modelled, not run: ${text}`);
  return text.match(/"[^"]*"|\{[^}]*\}|\S+/g) ?? [];
}

const globMatch = (name: string, pat: string): boolean =>
  pat.endsWith('*') ? name.startsWith(pat.slice(0, -1)) : name === pat;

function inCidr(addr: string, cidr: string): boolean {
  const a = parseCidr(addr);
  const c = parseCidr(cidr);
  if (!a || !c || a.v !== c.v) return false;
  return (a.addr as import('ipaddr.js').IPv4).match(c.addr as import('ipaddr.js').IPv4, c.bits);
}
