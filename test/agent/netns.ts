/**
 * Namespace scaffolding for the agent's root tests (docs/CONVENTIONS.md, network tests): a per-run prefix `hnk<pid>-`,
 * a sweep of namespaces left by crashed earlier runs (their PID is gone), and helpers to run
 * commands inside. Nothing is created in the root namespace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { inNetns, realExec, type Exec } from '../../src/common/exec.js';
import { alive, deleteNetns, listNetns } from '../../testkit/runs.js';
import { isRoot } from '../../testkit/preconditions.js';

export { isRoot };

/** The per-run prefix of one test file (`tag` tells files apart). */
export const runPrefix = (tag: string): string => `hnk${tag}${process.pid}-`;

/** Deletes namespaces of earlier runs of these tests whose process is dead. */
export async function sweepStale(): Promise<void> {
  for (const ns of await listNetns()) {
    const m = /^hnk[a-z]*(\d+)-/.exec(ns);
    if (m && !alive(Number(m[1]))) await deleteNetns(ns);
  }
}

/** Deletes every namespace with this run's prefix. */
export async function removeRun(prefix: string): Promise<void> {
  for (const ns of await listNetns()) if (ns.startsWith(prefix)) await deleteNetns(ns);
}

export async function addNetns(ns: string): Promise<Exec> {
  await realExec('ip', ['netns', 'add', ns]);
  const exec = inNetns(realExec, ns);
  await exec('ip', ['link', 'set', 'lo', 'up']);
  return exec;
}

/** Runs `ip`-style commands inside `ns`, one line each (throws on failure). */
export async function sh(exec: Exec, lines: string[]): Promise<void> {
  for (const l of lines) {
    const [cmd, ...args] = l.split(/\s+/);
    await exec(cmd, args);
  }
}

export { eventually } from '../../testkit/wait.js';

/** Processes a test starts (server, agents), each logging to `logDir/NAME.log`, stopped by PID. */
export class Children {
  private readonly all: ChildProcess[] = [];
  constructor(private readonly logDir: string) {}

  start(args: string[], logName: string): ChildProcess {
    mkdirSync(this.logDir, { recursive: true });
    const out = openSync(join(this.logDir, `${logName}.log`), 'a');
    const c = spawn(args[0], args.slice(1), { stdio: ['ignore', out, out] });
    this.all.push(c);
    return c;
  }

  /** Stops one (SIGTERM, then SIGKILL after 3 s). */
  async stop(c: ChildProcess): Promise<void> {
    if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 3_000))]);
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }

  async stopAll(): Promise<void> {
    for (const c of this.all.splice(0)) await this.stop(c);
  }
}
