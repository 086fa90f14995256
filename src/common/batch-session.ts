/**
 * One long-lived `ip -force -batch -` (or `bridge …`) child that runs batches of command lines, so a
 * kernel change costs a line on a pipe instead of a program start (on a busy 2-core node a start
 * took 5–70 ms, with the calling loop blocked meanwhile).
 *
 * Protocol: the request's lines, then a marker line naming an object iproute2 does not know. With
 * `-force`, iproute2 prints `Command failed -:N` (N: the line's number since the child started) for
 * every failing line, after that line's messages, and goes on; the marker's own failure ends the
 * answer. stderr is merged into stdout (`2>&1`) so that `-json` listings, which iproute2 flushes
 * after each command, come before the marker in one ordered stream. A failing line's messages are
 * the non-JSON lines since the previous failure. Lines the child never answered (it exits on some
 * errors, e.g. a failing `neigh replace`) are reported as failed, never dropped.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

/** Not an iproute2 object (nor a prefix of one): every batch ends with its failure. */
export const MARKER = 'hypernet-batch-end';

export interface BatchAnswer {
  /** The JSON documents printed (one per listing command), in order. */
  output: string[];
  /** Failed lines (1-based within the request) with their messages. */
  errors: Map<number, string>;
}

const FAILED = /^Command failed -:(\d+)\s*$/;

/** Pure: folds merged output lines into an answer; returns true once `marker` (absolute) is seen. */
export function foldAnswer(
  lines: readonly string[],
  base: number,
  marker: number,
  acc: { answer: BatchAnswer; msgs: string[] },
): boolean {
  for (const line of lines) {
    const m = FAILED.exec(line);
    if (!m) {
      if (/^[[{]/.test(line)) acc.answer.output.push(line);
      else if (line.trim()) acc.msgs.push(line.trim());
      continue;
    }
    const n = Number(m[1]);
    if (n === marker) return true;
    if (n > base && n < marker) acc.answer.errors.set(n - base, acc.msgs.join('; ') || 'failed');
    acc.msgs = [];
  }
  return false;
}

interface Pending {
  child: ChildProcessWithoutNullStreams;
  retireIf: ((error: string) => boolean) | undefined;
  base: number;
  marker: number;
  count: number;
  acc: { answer: BatchAnswer; msgs: string[] };
  resolve: (a: BatchAnswer) => void;
  timer: NodeJS.Timeout;
}

export class BatchSession {
  private child: ChildProcessWithoutNullStreams | null = null;
  /** Lines written to the current child (iproute2 numbers them from 1). */
  private lineNo = 0;
  private buf = '';
  private pending: Pending | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Children started (for tests and logs). */
  starts = 0;

  /** `argv`: the program and its flags up to and including `-batch -` (e.g. ip -force -batch -). */
  constructor(
    private readonly argv: readonly string[],
    private readonly timeoutMs = 30_000,
  ) {}

  /**
   * Runs `lines` in order; never rejects for a failing line (see BatchAnswer), only when closed.
   * `retireIf`: after a line failing with an error it accepts, the child is ended before anything
   * else is sent to it (the next run starts a fresh one).
   */
  run(lines: readonly string[], retireIf?: (error: string) => boolean): Promise<BatchAnswer> {
    for (const l of lines) if (/[\n\r]/.test(l)) throw new Error('batch session: a line holds a line break');
    const next = this.queue.then(() => this.send(lines, retireIf));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Ends the current child (it exits on EOF); the next run starts a fresh one. */
  retire(): void {
    const child = this.child;
    this.child = null;
    child?.stdin.end();
  }

  /** Starts a child now when there is none, so the next run does not wait for a program start. */
  warm(): void {
    if (!this.closed && !this.child) this.start();
  }

  /** Ends the child; later runs reject. */
  close(): void {
    this.closed = true;
    this.retire();
  }

  private send(lines: readonly string[], retireIf: ((error: string) => boolean) | undefined): Promise<BatchAnswer> {
    if (this.closed) return Promise.reject(new Error('batch session closed'));
    if (lines.length === 0) return Promise.resolve({ output: [], errors: new Map() });
    const child = this.child ?? this.start();
    return new Promise<BatchAnswer>((resolve) => {
      const base = this.lineNo;
      const marker = base + lines.length + 1;
      this.lineNo = marker;
      const timer = setTimeout(() => this.fail(child, `no answer in ${this.timeoutMs} ms`), this.timeoutMs);
      const acc = { answer: { output: [], errors: new Map<number, string>() }, msgs: [] };
      this.pending = { child, retireIf, base, marker, count: lines.length, acc, resolve, timer };
      child.stdin.write(`${lines.join('\n')}\n${MARKER}\n`);
    });
  }

  private start(): ChildProcessWithoutNullStreams {
    const [cmd, ...args] = this.argv;
    // `exec "$0" "$@" 2>&1`: the program itself, stderr merged so messages keep their order.
    const child = spawn('sh', ['-c', 'exec "$0" "$@" 2>&1', cmd!, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.lineNo = 0;
    this.buf = '';
    this.starts++;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => this.onData(d));
    child.stdin.on('error', () => undefined); // a dead child: reported by 'exit'
    child.on('error', (e) => this.fail(child, e.message));
    // 'close', not 'exit': its output is all read by then.
    child.on('close', (code, sig) => this.fail(child, `${this.argv[0]} exited (${code ?? sig})`));
    return child;
  }

  private onData(d: string): void {
    const p = this.pending;
    this.buf += d;
    const lines = this.buf.split('\n');
    this.buf = lines.pop() ?? '';
    if (!p || !foldAnswer(lines, p.base, p.marker, p.acc)) return;
    this.pending = null;
    clearTimeout(p.timer);
    if (p.retireIf && [...p.acc.answer.errors.values()].some(p.retireIf)) this.retire();
    p.resolve(p.acc.answer);
  }

  /** The child is gone or stuck: lines of the waiting request it did not answer count as failed. */
  private fail(child: ChildProcessWithoutNullStreams, why: string): void {
    if (this.child === child) {
      this.child = null;
      child.kill('SIGKILL');
    }
    const p = this.pending;
    if (!p || p.child !== child) return;
    this.pending = null;
    clearTimeout(p.timer);
    const lines = this.buf.split('\n');
    this.buf = '';
    foldAnswer(lines, p.base, p.marker, p.acc);
    // Answered lines are those up to the last failure reported; the rest never got an answer.
    const last = Math.max(0, ...p.acc.answer.errors.keys());
    const msg = [...p.acc.msgs, `${why} before answering`].join('; ');
    for (let n = last + 1; n <= p.count; n++) p.acc.answer.errors.set(n, msg);
    p.resolve(p.acc.answer);
  }
}
