/**
 * Drives the tc-BPF security groups on one node: loads native/hn-sg.bpf.o once with bpftool (its
 * programs and maps pinned under `pinDir`, which the agent owns by name), attaches the two programs
 * to each filtered tap with tc clsact, and writes map deltas with one `hn-bpfmap` batch per apply. Rule
 * changes update maps, never programs. Fail closed: a tap whose programs cannot be attached gets a
 * drop-everything filter instead, and a tap with programs but no map entry passes nothing.
 *
 * Its batches (`ip -json -d -batch -` for ifindexes, `tc -force -batch -`, `hn-bpfmap -batch`) are
 * the forms common/batch-sessions.ts runs on long-lived children in the agent: a port added costs
 * lines on pipes, not three program starts.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Exec } from '../../../common/exec.js';
import type { Logger } from '../../../common/log.js';
import { BRNF_KEYS } from '../driver.js';
import { BPF_DIRS, type BpfCompiled } from './compile.js';
import { diffBpf, isEmptyDelta } from './diff.js';

/** Where `npm run build` puts the compiled program. */
export const BPF_OBJECT = fileURLToPath(new URL('../../native/hn-sg.bpf.o', import.meta.url));
/** And the map writer (native/bpfmap.c): bpftool's batch parsing took most of a 1,000-port apply. */
export const BPFMAP_PATH = fileURLToPath(new URL('../../native/hn-bpfmap', import.meta.url));

export const bpfBuilt = (): boolean => existsSync(BPF_OBJECT) && existsSync(BPFMAP_PATH);

export interface BpfDriverOptions {
  /** Runs `ip` in the node's network namespace. */
  node: Exec;
  /** Runs `tc` in the node's network namespace with the host's mounts (it opens pinned programs). */
  tc: Exec;
  /** Runs `bpftool` and `mount` on the host. */
  host: Exec;
  /** A directory on a bpf filesystem, for this node only (e.g. /sys/fs/bpf/hypernet/<node>). */
  pinDir: string;
  log: Logger;
  object?: string;
  /** The map writer (default: the built hn-bpfmap). */
  bpfmap?: string;
}

/** Mounts the bpf filesystem at /sys/fs/bpf when nothing is mounted there (as systemd does at boot). */
export async function ensureBpffs(host: Exec): Promise<void> {
  const r = await host('findmnt', ['-n', '-t', 'bpf', '/sys/fs/bpf'], { allowFail: true });
  if (r.code !== 0) await host('mount', ['-t', 'bpf', 'bpf', '/sys/fs/bpf']);
}

/** Classic BPF: `ret #2` (TC_ACT_SHOT). */
const BLOCK = '1,6 0 0 2,';

/** A tap as installed: `<name>#<ifindex>`. */
const tapOf = (installed: string): string => installed.split('#')[0]!;

/** `c` for the taps the kernel has, named `<tap>#<ifindex>` (its map keys need the ifindex). */
function bind(c: BpfCompiled, idx: ReadonlyMap<string, number>): BpfCompiled {
  const at = (tap: string) => (idx.has(tap) ? `${tap}#${idx.get(tap)}` : null);
  const ports = new Map<string, string>();
  for (const [k, v] of c.ports) {
    const [tap, dir] = k.split('/') as [string, string];
    const t = at(tap);
    if (t) ports.set(`${t}/${dir}`, v);
  }
  return { ...c, ports, taps: c.taps.flatMap((t) => at(t) ?? []) };
}

/** The programs by tc hook: frames from the port (its egress rules) and frames to it. */
export const BPF_PROGS = { ingress: 'hn_from_port', egress: 'hn_to_port' } as const;

export class BpfFirewallDriver {
  private last: BpfCompiled | null = null;
  private loaded = false;
  /** Ifindexes by link name, as last listed (see ifindexes). */
  private indexes = new Map<string, number>();

  constructor(private readonly o: BpfDriverOptions) {}

  private get maps(): string {
    return `${this.o.pinDir}/maps`;
  }

  /**
   * Loads and pins the programs and maps unless this node's are already pinned. First it turns off
   * br_netfilter's hand-over in the node's namespace: a new namespace has it on whenever the module is
   * loaded (any nftables agent or container runtime on the machine loads it), and then every bridged
   * frame would take the inet hooks this mode exists to avoid. Without the module the sysctls fail: nothing to do.
   */
  async load(): Promise<void> {
    if (this.loaded) return;
    await this.o.node('sysctl', ['-q', '-w', ...BRNF_KEYS.map((k) => `${k}=0`)], { allowFail: true });
    const progs = `${this.o.pinDir}/prog`;
    const r = await this.o.host('ls', [progs, this.maps], { allowFail: true });
    if (r.code !== 0 || !r.stdout.includes(BPF_PROGS.egress)) {
      await ensureBpffs(this.o.host);
      await this.o.host('rm', ['-rf', this.o.pinDir]);
      await this.o.host('mkdir', ['-p', this.o.pinDir]);
      const obj = this.o.object ?? BPF_OBJECT;
      await this.o.host('bpftool', ['prog', 'loadall', obj, progs, 'pinmaps', this.maps, 'type', 'classifier']);
    }
    this.loaded = true;
  }

  /**
   * Writes `next` (the delta from the last apply) and attaches or detaches taps; returns the taps
   * now filtered. A tap not in the kernel yet is left out (not returned); one re-created since the
   * last apply (a new ifindex) is attached and written again. Throws when it fails. `full`: every
   * link's ifindex is listed afresh (else see ifindexes).
   */
  async apply(next: BpfCompiled, full = true): Promise<ReadonlySet<string>> {
    const installed = bind(next, await this.ifindexes(next.taps, full));
    const present = new Set(installed.taps.map(tapOf));
    const d = diffBpf(this.last, installed);
    if (isEmptyDelta(d)) return present;
    try {
      await this.load();
    } catch (e) {
      // Fail closed: nothing loads, so every filtered tap drops everything.
      this.o.log.error({ err: String(e) }, 'tc-BPF programs did not load: taps blocked');
      for (const t of d.attach) await this.block(tapOf(t));
      throw e;
    }
    const key = (k: string) => {
      const [tap, dir] = k.split('/') as [string, 'egress' | 'ingress'];
      const b = Buffer.alloc(8);
      b.writeUInt32LE(Number(tap.split('#')[1]), 0);
      b.writeUInt32LE(BPF_DIRS[dir], 4);
      return b.toString('hex');
    };
    // hn-bpfmap's map numbers: the order of its arguments.
    const PORTS = 0;
    const MEMBERS = 1;
    const lines = [
      ...d.portDel.map((k) => `d ${PORTS} ${key(k)}`),
      ...d.memberDel.map((m) => `d ${MEMBERS} ${m}`),
      ...d.memberAdd.map((m) => `u ${MEMBERS} ${m} 01000000`),
      ...d.portSet.map(([k, v]) => `u ${PORTS} ${key(k)} ${v}`),
    ];
    this.last = null; // unknown until this apply is through
    if (lines.length)
      await this.o.host(this.o.bpfmap ?? BPFMAP_PATH, ['-batch', `${this.maps}/hn_ports`, `${this.maps}/hn_members`], {
        input: `${lines.join('\n')}\n`,
      });
    await this.attachAll(d.attach.map(tapOf));
    await this.detach(d.detach.map(tapOf).filter((t) => !present.has(t)));
    this.last = installed;
    return present;
  }

  /**
   * The node's ifindexes by name, for the taps `wanted`. A full pass lists every link; a pass that
   * is not lists, over what it knew, the links in no bridge (a new or re-created tap is in none until
   * the datapath enslaves it, after this step, so its new ifindex is seen first) and any wanted tap
   * it does not know or was told of (forgetTap: the link monitor saw it come or go). At 1,000 taps
   * the whole listing took 50–90 ms of every pass.
   */
  private async ifindexes(wanted: readonly string[], full: boolean): Promise<ReadonlyMap<string, number>> {
    const everything = full || this.indexes.size === 0;
    const lines = everything
      ? ['link show']
      : ['link show nomaster', ...wanted.filter((t) => !this.indexes.has(t)).map((t) => `link show dev ${t}`)];
    // A tap not there yet fails its line and yields no document: it stays unknown.
    const r = await this.o.node('ip', ['-json', '-d', '-batch', '-'], {
      input: `${lines.join('\n')}\n`,
      allowFail: !everything,
    });
    if (everything) this.indexes = new Map();
    for (const doc of r.stdout.split('\n'))
      if (doc.startsWith('['))
        for (const l of JSON.parse(doc) as Array<{ ifname: string; ifindex: number }>)
          this.indexes.set(l.ifname, l.ifindex);
    return this.indexes;
  }

  /** `tap` came, changed or went (the link monitor): its ifindex is listed again before it is used. */
  forgetTap(tap: string): void {
    this.indexes.delete(tap);
  }

  /** tc commands that put one cls_bpf filter (`spec`: by direction) on both hooks of the tap's clsact qdisc. */
  private filterCommands(tap: string, spec: (dir: 'ingress' | 'egress') => string[]): string[][] {
    return [
      ['qdisc', 'replace', 'dev', tap, 'clsact'],
      ...(['ingress', 'egress'] as const).map((dir) => [
        'filter',
        'replace',
        'dev',
        tap,
        dir,
        'pref',
        '1',
        'handle',
        '1',
        'bpf',
        'da',
        ...spec(dir),
      ]),
    ];
  }

  private async filter(tap: string, spec: (dir: 'ingress' | 'egress') => string[]): Promise<void> {
    for (const c of this.filterCommands(tap, spec)) await this.o.tc('tc', c);
  }

  private attachCommands(tap: string): string[][] {
    return this.filterCommands(tap, (dir) => ['object-pinned', `${this.o.pinDir}/prog/${BPF_PROGS[dir]}`]);
  }

  /**
   * Runs tc commands in one `tc -force -batch -` (every line, failing ones too): a full apply
   * attaches 1,000 taps. Throws when a line failed, unless `allowFail`.
   */
  private async tcBatch(cmds: string[][], allowFail = false): Promise<void> {
    const input = `${cmds.map((c) => c.join(' ')).join('\n')}\n`;
    await this.o.tc('tc', ['-force', '-batch', '-'], { input, allowFail });
  }

  /**
   * Attaches the programs to `taps` in one batch; when it fails, tap by tap, so the tap that fails
   * is blocked (fail closed) and the error thrown.
   */
  private async attachAll(taps: readonly string[]): Promise<void> {
    if (!taps.length) return;
    try {
      return await this.tcBatch(taps.flatMap((t) => this.attachCommands(t)));
    } catch {
      // Which tap failed is known only tap by tap (tc numbers the lines, not the taps).
    }
    for (const t of taps) {
      try {
        for (const c of this.attachCommands(t)) await this.o.tc('tc', c);
      } catch (e) {
        this.o.log.error({ tap: t, err: String(e) }, 'tc-BPF attach failed: tap blocked');
        await this.block(t);
        throw e;
      }
    }
  }

  /**
   * Drops everything at the tap, the closed state of a tap without its programs: a one-instruction
   * classic BPF filter returning TC_ACT_SHOT in direct-action mode (it needs no object, no bpf
   * filesystem, and no matchall or gact module, which this kernel lacks).
   */
  private block(tap: string): Promise<void> {
    return this.filter(tap, () => ['bytecode', BLOCK]);
  }

  /** Takes the programs off `taps` (those still there; one batch). */
  private async detach(taps: readonly string[]): Promise<void> {
    if (taps.length)
      await this.tcBatch(
        taps.map((t) => ['qdisc', 'del', 'dev', t, 'clsact']),
        true,
      );
  }

  /** Detaches every tap it attached and unpins this node's programs and maps. */
  async teardown(): Promise<void> {
    await this.detach((this.last?.taps ?? []).map(tapOf));
    await this.o.host('rm', ['-rf', this.o.pinDir], { allowFail: true });
    this.last = null;
    this.loaded = false;
  }
}
