/**
 * Applies a compiled firewall to the kernel of one node namespace (the Exec may be wrapped with
 * inNetns). Every apply is one `nft -f -` transaction, so a failed apply leaves the previous ruleset
 * in force (fail closed). When only remote-group memberships changed (equal skeletons), the
 * transaction only flushes and refills those sets, rewriting no rule. After each apply the chains
 * are read back (`nft -j list chains bridge`) and compared; the last good compilation is kept.
 */
import type { Exec } from '../../common/exec.js';
import type { Logger } from '../../common/log.js';
import { TABLE, type CompiledFirewall, type FirewallMode } from './model.js';

export type ApplyKind = 'full' | 'sets' | 'unchanged';

const PROBE = `table bridge ${TABLE}_probe {
\tchain probe {
\t\ttype filter hook forward priority 0; policy accept;
\t\tct state established accept
\t}
}
`;

/** The transaction that turns `from`'s set contents into `to`'s (same skeleton), or '' if none. */
export function setUpdateText(from: CompiledFirewall, to: CompiledFirewall): string {
  const lines: string[] = [];
  for (const [name, elems] of to.sets) {
    const old = from.sets.get(name);
    if (old && old.length === elems.length && old.every((e, i) => e === elems[i])) continue;
    lines.push(`flush set bridge ${TABLE} ${name}`);
    if (elems.length) lines.push(`add element bridge ${TABLE} ${name} { ${elems.join(', ')} }`);
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}

export class FirewallDriver {
  private lastGood: CompiledFirewall | null = null;

  constructor(
    private readonly exec: Exec,
    private readonly log: Logger,
  ) {}

  /** 'bridge-ct' when the kernel accepts `ct state` in a bridge table (checked with `nft -c`, no change made). */
  async detectMode(): Promise<FirewallMode> {
    const r = await this.exec('nft', ['-c', '-f', '-'], { input: PROBE, allowFail: true });
    return r.code === 0 ? 'bridge-ct' : 'br-netfilter';
  }

  /** br-netfilter mode: load the module if its sysctls are missing, and hand bridged IP to the inet hooks. */
  async prepare(mode: FirewallMode): Promise<void> {
    if (mode !== 'br-netfilter') return;
    const keys = ['net.bridge.bridge-nf-call-iptables', 'net.bridge.bridge-nf-call-ip6tables'];
    const probe = await this.exec('sysctl', ['-n', keys[0]!], { allowFail: true });
    if (probe.code !== 0) await this.exec('modprobe', ['br_netfilter'], { allowFail: true }).catch(() => undefined);
    await this.exec('sysctl', ['-q', '-w', ...keys.map((k) => `${k}=1`)]);
  }

  /** Applies `c` (one transaction) and checks it; throws with the previous ruleset still in force. */
  async apply(c: CompiledFirewall): Promise<ApplyKind> {
    const prev = this.lastGood;
    let kind: ApplyKind = 'full';
    if (prev && prev.skeleton === c.skeleton) kind = prev.text === c.text ? 'unchanged' : 'sets';
    if (kind !== 'full' && !(await this.matches(c))) kind = 'full'; // someone changed our table: replace it
    if (kind === 'sets') await this.nft(setUpdateText(prev!, c));
    if (kind === 'full') await this.nft(c.text);
    if (kind !== 'unchanged' && !(await this.matches(c))) {
      this.lastGood = null;
      throw new Error('firewall: ruleset read back from the kernel differs from the one applied');
    }
    this.lastGood = c;
    if (kind !== 'unchanged') this.log.debug({ kind, chains: c.chains.length }, 'firewall applied');
    return kind;
  }

  /** Removes the owned tables (empty desired state). */
  async teardown(): Promise<void> {
    await this.nft(`table bridge ${TABLE}\ndelete table bridge ${TABLE}\ntable inet ${TABLE}\ndelete table inet ${TABLE}\n`);
    this.lastGood = null;
  }

  /** Chain names of our bridge table as the kernel reports them, sorted. */
  async readChains(): Promise<string[]> {
    const r = await this.exec('nft', ['-j', 'list', 'chains', 'bridge']);
    const items = (JSON.parse(r.stdout) as { nftables: Array<{ chain?: { table: string; name: string } }> }).nftables;
    return items.flatMap((i) => (i.chain && i.chain.table === TABLE ? [i.chain.name] : [])).sort();
  }

  private async matches(c: CompiledFirewall): Promise<boolean> {
    const got = await this.readChains();
    return got.length === c.chains.length && got.every((n, i) => n === c.chains[i]);
  }

  private async nft(text: string): Promise<void> {
    if (text) await this.exec('nft', ['-f', '-'], { input: text, timeoutMs: 30_000 });
  }
}
