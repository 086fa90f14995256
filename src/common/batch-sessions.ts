/**
 * An Exec that runs iproute2 batches (`ip -force -batch -`, `bridge -force -batch -`, `tc -force
 * -batch -`, and the light `ip -json -d -batch -` listings), and the tc-BPF map writer's, on
 * long-lived children (batch-session.ts) and everything else on the Exec it wraps. Callers keep writing batches as before and get the answer a one-shot run would
 * give: `Command failed -:N` per failing line (N within their input), exit code 1 when one failed.
 *
 * iproute2 keeps a name → ifindex cache for its whole life, so in a long-lived child a device
 * deleted and made again under the same name would fail with the old index ("No such device",
 * "unknown ifindex"; ifindexes are not reused soon, so it fails rather than hitting another device).
 * So after a line fails with anything but a name that resolves to nothing ("Cannot find device",
 * looked up afresh), the child is replaced and the failed lines of a write batch are run once more
 * in the fresh one; a replacement child is started at once, off the next change's path.
 */
import { basename } from 'node:path';
import { BatchSession } from './batch-session.js';
import { ExecError, type Exec, type ExecResult } from './exec.js';

/** How a call is run on a session: its key, the session's argv, and whether failed lines are retried. */
export interface SessionRoute {
  key: string;
  argv: string[];
  retry: boolean;
}

/** `lazy`: started on first use, not warmed (only tc-BPF nodes attach filters). */
const ROUTED: Record<string, { argv: string[]; retry: boolean; lazy?: true }> = {
  'ip -force -batch -': { argv: ['ip', '-force', '-batch', '-'], retry: true },
  'bridge -force -batch -': { argv: ['bridge', '-force', '-batch', '-'], retry: true },
  // Listings with no device name in them (the light read); a listing is not repeated out of order.
  'ip -json -d -batch -': { argv: ['ip', '-json', '-d', '-force', '-batch', '-'], retry: false },
  'tc -force -batch -': { argv: ['tc', '-force', '-batch', '-'], retry: true, lazy: true },
};

/**
 * The tc-BPF map writer in its batch mode (agent/native/bpfmap.c): its maps are opened per request.
 * Keyed by the maps it is given, so started on first use.
 */
const isBpfMapBatch = (cmd: string, args: readonly string[]): boolean =>
  basename(cmd) === 'hn-bpfmap' && args[0] === '-batch' && args.length > 1;

/** Pure: the session a call runs on, or null (it runs as a program of its own). */
export function sessionRoute(cmd: string, args: readonly string[], input: string | undefined): SessionRoute | null {
  if (input === undefined) return null;
  const key = [cmd, ...args].join(' ');
  if (isBpfMapBatch(cmd, args)) return { key, argv: [cmd, ...args], retry: false };
  const r = ROUTED[key];
  return r ? { key, argv: r.argv, retry: r.retry } : null;
}

/** A failure that says nothing about the child's cache: the name resolved to no device. */
const freshMiss = (error: string): boolean => /Cannot find device/.test(error);

/** Pure: the one-shot result for an answer (errors by 1-based line). */
export function toExecResult(output: readonly string[], errors: ReadonlyMap<number, string>): ExecResult {
  const lines = [...errors.entries()].sort(([a], [b]) => a - b);
  return {
    stdout: output.map((o) => `${o}\n`).join(''),
    stderr: lines.map(([n, e]) => `${e}\nCommand failed -:${n}\n`).join(''),
    code: lines.length ? 1 : 0,
  };
}

export class BatchSessions {
  private readonly sessions = new Map<string, BatchSession>();
  private closed = false;

  /**
   * `fallback` runs what is not a routed batch; `prefix` is put before each session's argv (e.g.
   * `ip netns exec NS` in tests: the agent itself runs inside its node's namespace).
   */
  constructor(
    private readonly fallback: Exec,
    private readonly prefix: readonly string[] = [],
  ) {}

  /** Children started over all sessions (for tests and logs). */
  get starts(): number {
    return [...this.sessions.values()].reduce((n, s) => n + s.starts, 0);
  }

  readonly exec: Exec = async (cmd, args, opts = {}) => {
    const route = this.closed ? null : sessionRoute(cmd, args, opts.input);
    if (!route) return this.fallback(cmd, args, opts);
    const session = this.session(route);
    const lines = opts.input!.split('\n').filter((l) => l.trim());
    const stale = (e: string) => !freshMiss(e);
    const first = await session.run(lines, stale);
    const errors = new Map(first.errors);
    const again = route.retry ? [...errors].filter(([, e]) => !freshMiss(e)).map(([n]) => n) : [];
    if (again.length) {
      const second = await session.run(
        again.map((n) => lines[n - 1]!),
        stale,
      );
      again.forEach((n, i) => {
        const e = second.errors.get(i + 1);
        if (e) errors.set(n, e);
        else errors.delete(n);
      });
    }
    if (first.errors.size) session.warm();
    const result = toExecResult(first.output, errors);
    if (result.code !== 0 && !opts.allowFail) throw new ExecError(cmd, args, result);
    return result;
  };

  /** Starts every session's child now (when the agent starts), off the first pass's path. */
  warm(): void {
    if (this.closed) return;
    for (const [key, r] of Object.entries(ROUTED))
      if (!r.lazy) this.session({ key, argv: r.argv, retry: r.retry }).warm();
  }

  /** Ends every child. */
  close(): void {
    this.closed = true;
    for (const s of this.sessions.values()) s.close();
  }

  private session(route: SessionRoute): BatchSession {
    let s = this.sessions.get(route.key);
    if (!s) {
      s = new BatchSession([...this.prefix, ...route.argv]);
      this.sessions.set(route.key, s);
    }
    return s;
  }
}
