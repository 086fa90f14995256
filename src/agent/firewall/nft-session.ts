/**
 * A long-lived `nft -i` child that applies firewall deltas, one transaction per input line.
 *
 * Why not `nft -f` per apply: when an nft process exits, the kernel's netlink release waits for
 * nf_tables' deferred destroy work of earlier transactions (NETLINK_URELEASE → flush_work; that
 * work waits for an RCU grace period). On a loaded node that wait alone took 40–120 ms per apply
 * (the process in state D in nft_rcv_nl_event), on the critical path of a new port. A child that
 * stays open never releases its socket between transactions.
 *
 * Protocol: the transaction's commands joined into one line (nft -i runs each line as one atomic
 * batch), then a marker command whose known output ends the answer; stderr is merged into stdout
 * (`2>&1`) so an error message always precedes the marker. An answer with an `Error:` line is a
 * failed transaction. The child is started on first use and again after it dies; requests run one
 * at a time; `close()` ends its input (nft exits on EOF, also when the agent dies).
 *
 * A whole script in nft's block syntax (the full ruleset) goes through the same child as one
 * `include "FILE"` line: nft parses the included file into the same command list and commits it as
 * one transaction, so a full apply no longer pays a process start and exit either. The file lives
 * in a directory of this process's own (mode 0700) and is removed after the answer.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Prints one known line without touching the kernel. */
const MARKER_CMD = 'describe meta mark';
const MARKER_LINE = 'meta expression, datatype mark (packet mark) (basetype integer), 32 bits';

/** The default child: `-a` so listings carry handles (the driver's table identity reads them). */
export const DEFAULT_NFT_ARGV: readonly string[] = ['nft', '-a', '-i'];

/** Pure: a transaction of one command per line as one `nft -i` input line ('' for none). */
export function oneLine(text: string): string {
  const cmds = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const c of cmds)
    if (c.endsWith('{') || c === '}')
      throw new Error('nft session: block syntax needs `nft -f` (one command per line only)');
  return cmds.join('; ');
}

/** Pure: the error lines of one answer (empty when the transaction was applied). An error in an
 * included file is prefixed with where it is (`FILE:LINE:COL: Error: …`). */
export function answerErrors(answer: string): string {
  return /^(?:\S+:\d+:[\d-]+: )?Error:/m.test(answer) ? answer.trim() : '';
}

/** A path nft's `include "…"` takes as written (no quote, space or escape to get wrong). */
const PLAIN_PATH = /^\/[\w./-]+$/;

interface Pending {
  resolve: (answer: string) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class NftSession {
  private child: ChildProcessWithoutNullStreams | null = null;
  private buf = '';
  private answer: string[] = [];
  private pending: Pending | null = null;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  /** The directory of included scripts (made on first use) and how many were written. */
  private dir: string | null = null;
  private scripts = 0;
  /** Children started (for tests and logs). */
  starts = 0;

  constructor(
    private readonly argv: readonly string[] = DEFAULT_NFT_ARGV,
    private readonly timeoutMs = 30_000,
  ) {}

  /** Applies one transaction given as one command per line; rejects with nft's error. */
  async run(text: string): Promise<void> {
    const line = oneLine(text);
    if (line) await this.enqueue(line);
  }

  /**
   * Applies a script in nft's file syntax (blocks allowed) as one transaction through the child;
   * rejects with nft's error, the previous ruleset still in force.
   */
  async runScript(text: string): Promise<void> {
    this.dir ??= mkdtempSync(join(tmpdir(), 'hypernet-nft-'));
    const file = join(this.dir, `script-${++this.scripts}.nft`);
    if (!PLAIN_PATH.test(file)) throw new Error(`nft session: cannot include ${file}`);
    writeFileSync(file, text, { mode: 0o600 });
    try {
      await this.enqueue(`include "${file}"`);
    } finally {
      rmSync(file, { force: true });
    }
  }

  /** Runs one command (e.g. a `list`) and resolves with what nft printed; rejects with its error. */
  query(command: string): Promise<string> {
    return this.enqueue(oneLine(command));
  }

  private enqueue(line: string): Promise<string> {
    const next = this.queue.then(() => this.send(line));
    this.queue = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }

  /** Starts the child now (when the agent starts), off the first pass's path. */
  warm(): void {
    if (!this.closed && !this.child) this.start();
  }

  /** Ends the child's input; it exits. Later runs reject. */
  close(): void {
    this.closed = true;
    this.child?.stdin.end();
    this.child = null;
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  private send(line: string): Promise<string> {
    if (this.closed) return Promise.reject(new Error('nft session closed'));
    const child = this.child ?? this.start();
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => this.fail(child, new Error(`nft session: no answer in ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      this.pending = { resolve, reject, timer };
      this.answer = [];
      child.stdin.write(`${line}\n${MARKER_CMD}\n`);
    });
  }

  private start(): ChildProcessWithoutNullStreams {
    const [cmd, ...args] = this.argv;
    // `exec "$0" "$@" 2>&1`: the program itself, stderr merged so errors come before the marker.
    const child = spawn('sh', ['-c', 'exec "$0" "$@" 2>&1', cmd!, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.starts++;
    this.buf = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => this.onData(d));
    child.stdin.on('error', () => undefined); // a dead child: reported by 'exit'
    child.on('error', (e) => this.fail(child, e));
    child.on('exit', (code, sig) => this.fail(child, new Error(`nft session ended (${code ?? sig})`)));
    return child;
  }

  private onData(d: string): void {
    this.buf += d;
    const lines = this.buf.split('\n');
    this.buf = lines.pop() ?? '';
    for (const l of lines) {
      if (l !== MARKER_LINE) {
        this.answer.push(l);
        continue;
      }
      const p = this.pending;
      this.pending = null;
      if (!p) continue;
      clearTimeout(p.timer);
      const answer = this.answer.join('\n');
      const err = answerErrors(answer);
      if (err) p.reject(new Error(err));
      else p.resolve(answer);
    }
  }

  /** The child is unusable: the waiting request fails; the next one starts a new child. */
  private fail(child: ChildProcessWithoutNullStreams, e: Error): void {
    if (this.child === child) {
      this.child = null;
      child.kill('SIGKILL');
    }
    const p = this.pending;
    this.pending = null;
    if (p) {
      clearTimeout(p.timer);
      p.reject(e);
    }
  }
}
