/**
 * An Exec that starts programs from a small helper process instead of this one.
 *
 * Starting a program from Node forks the calling process, synchronously: the event loop stands
 * still meanwhile, and the bigger the process, the longer. Measured in a loaded lab with 1,000
 * ports, a 130 MB agent spent 5–13 ms per start (3,500 starts: 35 s with its loop blocked). The
 * broker (exec-broker-main.ts) is a fresh Node process with almost no heap; it runs each command
 * with realExec and sends the result back over the IPC channel, so the agent's loop keeps going.
 * Results and errors are the same as realExec's (ExecError, ENOENT). The broker is started on
 * first use and again if it died (the calls it was running fail); it exits when its parent does.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ExecError, type Exec, type ExecOptions, type ExecResult } from './exec.js';

/** A request to the broker and its answer (exec-broker-main.ts). */
export interface BrokerRequest {
  id: number;
  cmd: string;
  args: readonly string[];
  opts: ExecOptions;
}
export type BrokerAnswer =
  | { id: number; ok: true; result: ExecResult }
  | { id: number; ok: false; kind: 'exec'; result: ExecResult }
  | { id: number; ok: false; kind: 'error'; message: string; code?: string };

const MAIN = fileURLToPath(new URL('./exec-broker-main.js', import.meta.url));

/** Pure: the error an answer stands for (the same classes realExec throws), or the result. */
export function fromAnswer(req: Pick<BrokerRequest, 'cmd' | 'args'>, a: BrokerAnswer): ExecResult | Error {
  if (a.ok) return a.result;
  if (a.kind === 'exec') return new ExecError(req.cmd, req.args, a.result);
  const e = new Error(a.message) as NodeJS.ErrnoException;
  if (a.code) e.code = a.code;
  return e;
}

export class ExecBroker {
  private child: ChildProcess | null = null;
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { req: BrokerRequest; resolve: (r: ExecResult) => void; reject: (e: Error) => void }
  >();
  private closed = false;
  /** Broker processes started (for tests). */
  starts = 0;

  /** The Exec to hand out. */
  readonly exec: Exec = (cmd, args, opts = {}) =>
    new Promise<ExecResult>((resolve, reject) => {
      if (this.closed) return reject(new Error('exec broker closed'));
      const req: BrokerRequest = { id: this.nextId++, cmd, args: [...args], opts };
      this.pending.set(req.id, { req, resolve, reject });
      const child = this.child ?? this.start();
      child.send(req, (err) => {
        if (err) this.settle(req.id, new Error(`exec broker: ${err.message}`));
      });
    });

  /** Starts the broker now (when the agent starts), so the first pass does not wait for a Node start. */
  warm(): void {
    if (!this.closed && !this.child) this.start();
  }

  /** Stops the broker; calls still running fail. */
  close(): void {
    this.closed = true;
    const child = this.child;
    this.child = null;
    if (child?.connected) child.disconnect();
    this.failAll(new Error('exec broker closed'));
  }

  private start(): ChildProcess {
    const child = fork(MAIN, [], {
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      execArgv: [],
    });
    this.child = child;
    this.starts++;
    child.on('message', (a: BrokerAnswer) => {
      const p = this.pending.get(a.id);
      if (p) this.settle(a.id, fromAnswer(p.req, a));
    });
    const gone = (why: string) => {
      if (this.child !== child) return;
      this.child = null;
      this.failAll(new Error(`exec broker ended (${why})`));
    };
    child.on('exit', (code, sig) => gone(String(code ?? sig)));
    child.on('error', (e) => gone(e.message));
    return child;
  }

  private settle(id: number, r: ExecResult | Error): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (r instanceof Error) p.reject(r);
    else p.resolve(r);
  }

  private failAll(e: Error): void {
    for (const id of [...this.pending.keys()]) this.settle(id, e);
  }
}
