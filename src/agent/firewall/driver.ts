/**
 * Applies a compiled firewall to the kernel of one node namespace (the Exec may be wrapped with
 * inNetns). Every apply is one `nft -f -` transaction, so a failed apply leaves the previous ruleset
 * in force (fail closed); given an NftSession, that transaction goes through it too (an included
 * script). When the hooked chains are unchanged, the transaction is only the delta
 * (diff.ts): a rule change rewrites one group's chains, a membership change one set; given an
 * NftSession, deltas go through its long-lived `nft -i` (no process exit per apply). Otherwise,
 * when a delta fails, when a run with nothing to change finds our tables gone or replaced
 * (identity(): cheap, listing our big table costs ~0.3 s), and every `fullEveryMs` (drift inside
 * our tables), both tables are replaced wholesale.
 * The driver owns the ruleset generation (conntrack.ts): a new one whenever the ruleset loses a rule or
 * element, so established connections are re-checked against the rules.
 */
import { randomInt } from 'node:crypto';
import type { Exec } from '../../common/exec.js';
import type { Logger } from '../../common/log.js';
import { TABLE, type CompiledFirewall, type FirewallMode } from './model.js';
import type { NftSession } from './nft-session.js';
import { deltaText, hasRemovals, setChanges } from './diff.js';
import { fullText } from './render.js';

export type ApplyKind = 'full' | 'delta' | 'unchanged';

/** br_netfilter's per-namespace switches: bridged IPv4/IPv6 through the inet hooks. */
export const BRNF_KEYS = ['net.bridge.bridge-nf-call-iptables', 'net.bridge.bridge-nf-call-ip6tables'];

const PROBE = `table bridge ${TABLE}_probe {
\tchain probe {
\t\ttype filter hook forward priority 0; policy accept;
\t\tct state established accept
\t}
}
`;

interface Applied {
  c: CompiledFirewall;
  gen: number;
  /** When the tables were last replaced wholesale (repairs drift inside them). */
  fullAt: number;
  identity: string;
}

export class FirewallDriver {
  private last: Applied | null = null;

  constructor(
    private readonly exec: Exec,
    private readonly log: Logger,
    /**
     * Applies deltas and lists when given (a long-lived `nft -a -i`, see nft-session.ts: `-a`, the
     * identity check reads handles); else an `nft` process each time.
     */
    private readonly session: NftSession | null = null,
    /** A fresh ruleset generation (31 bits, non-zero); injectable for tests. */
    private readonly newGeneration: () => number = () => randomInt(1, 0x7fffffff),
    private readonly now: () => number = Date.now,
    /** Replace wholesale at least this often, so changes made inside our tables by others go away. */
    private readonly fullEveryMs = 10 * 60_000,
  ) {}

  /** 'bridge-ct' when the kernel accepts `ct state` in a bridge table (checked with `nft -c`, no change made). */
  async detectMode(): Promise<FirewallMode> {
    const r = await this.exec('nft', ['-c', '-f', '-'], { input: PROBE, allowFail: true });
    return r.code === 0 ? 'bridge-ct' : 'br-netfilter';
  }

  /** br-netfilter mode: load the module if its sysctls are missing, and hand bridged IP to the inet hooks. */
  async prepare(mode: FirewallMode): Promise<void> {
    if (mode === 'br-netfilter') await this.bridgeNetfilter(true);
  }

  /**
   * Turns the hand-over of bridged IP to the inet hooks (br_netfilter, this namespace's sysctls) on —
   * loading the module if its sysctls are missing — or off (nothing to do when the module is absent).
   * Off costs nothing on the path: with no port needing conntrack, bridged packets skip netfilter.
   */
  async bridgeNetfilter(on: boolean): Promise<void> {
    const probe = await this.exec('sysctl', ['-n', ...BRNF_KEYS], { allowFail: true });
    if (probe.code !== 0) {
      if (!on) return;
      await this.exec('modprobe', ['br_netfilter'], { allowFail: true }).catch(() => undefined);
    } else if (
      probe.stdout
        .trim()
        .split(/\s+/)
        .every((v) => v === (on ? '1' : '0'))
    )
      return;
    await this.exec('sysctl', ['-q', '-w', ...BRNF_KEYS.map((k) => `${k}=${on ? 1 : 0}`)]);
    this.log.info({ on }, 'br_netfilter sysctls set');
  }

  /** Whether bridged IP goes to the inet hooks here (false also when the module is not loaded). */
  async bridgeNetfilterOn(): Promise<boolean> {
    const probe = await this.exec('sysctl', ['-n', ...BRNF_KEYS], { allowFail: true });
    return (
      probe.code === 0 &&
      probe.stdout
        .trim()
        .split(/\s+/)
        .every((v) => v === '1')
    );
  }

  /** The generation in force (0 before the first apply). */
  get generation(): number {
    return this.last?.gen ?? 0;
  }

  /** Applies `c` (one transaction); throws with the previous ruleset still in force. `verify` false:
   * with nothing to change, trust that our tables are still there (a pass that is not full). */
  async apply(c: CompiledFirewall, verify = true): Promise<ApplyKind> {
    const prev = this.last;
    const changes = prev && setChanges(prev.c, c);
    const gen = !prev || hasRemovals(prev.c, c, changes!) ? this.newGeneration() : prev.gen;
    const fresh = !prev || this.now() - prev.fullAt > this.fullEveryMs;
    let kind: ApplyKind = 'full';
    if (!fresh && prev.c.baseKey === c.baseKey) {
      const text = deltaText(prev.c, c, prev.gen, gen, changes!);
      // Nothing to change: make sure our tables are still there. A delta that fails (a table gone
      // or changed under us) is retried as a full replace; one that applies needs no extra check.
      if (!text) kind = !verify || (await this.identity(c.mode)) === prev.identity ? 'unchanged' : 'full';
      else
        kind = await (this.session ? this.session.run(text) : this.nft(text)).then(
          () => 'delta' as const,
          () => 'full' as const,
        );
    }
    if (kind === 'full') await this.nft(fullText(c, gen));
    const fullAt = kind === 'full' ? this.now() : prev!.fullAt;
    this.last = { c, gen, fullAt, identity: kind === 'full' ? await this.identity(c.mode) : prev!.identity };
    if (kind !== 'unchanged') this.log.debug({ kind, chains: c.chains.size, gen }, 'firewall applied');
    return kind;
  }

  /** Removes the owned tables (empty desired state). */
  async teardown(): Promise<void> {
    this.last = null;
    await this.nft(
      `table bridge ${TABLE}\ndelete table bridge ${TABLE}\ntable inet ${TABLE}\ndelete table inet ${TABLE}\n`,
    );
  }

  /** Chain names of our bridge table as the kernel reports them, sorted. */
  async readChains(): Promise<string[]> {
    const r = await this.exec('nft', ['-j', 'list', 'chains', 'bridge']);
    const items = (JSON.parse(r.stdout) as { nftables: Array<{ chain?: { table: string; name: string } }> }).nftables;
    return items.flatMap((i) => (i.chain && i.chain.table === TABLE ? [i.chain.name] : [])).sort();
  }

  /**
   * Identity of the tables we wrote, cheaply (listing the big bridge table costs ~0.3 s at 1,000
   * ports): the kernel handle of the small `inet hypernet` table (br-netfilter mode; a replaced or
   * deleted table shows here) and whether the bridge table still has its spoof_ports set.
   */
  private async identity(mode: FirewallMode): Promise<string> {
    // One listing at a time: nft 1.0.6 fails the second of two list commands in one input.
    if ((await this.list(['list', 'set', 'bridge', TABLE, 'spoof_ports'])) === null) return 'missing';
    if (mode !== 'br-netfilter') return 'present';
    return /# handle (\d+)/.exec((await this.list(['-a', 'list', 'table', 'inet', TABLE])) ?? '')?.[1] ?? 'missing';
  }

  /** What `nft ARGS` prints, or null when it fails. Through the session when there is one (it runs
   * with -a already): no nft process exits (see nft-session.ts). */
  private async list(args: readonly string[]): Promise<string | null> {
    if (this.session) return this.session.query(args.filter((a) => a !== '-a').join(' ')).catch(() => null);
    const r = await this.exec('nft', args, { allowFail: true });
    return r.code === 0 ? r.stdout : null;
  }

  /** A whole transaction: through the session when there is one (no nft process exits, see
   * nft-session.ts), else `nft -f`. */
  private async nft(text: string): Promise<void> {
    if (!text) return;
    if (this.session) await this.session.runScript(text);
    else await this.exec('nft', ['-f', '-'], { input: text, timeoutMs: 30_000 });
  }
}
