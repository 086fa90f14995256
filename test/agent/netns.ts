/**
 * Namespace scaffolding for the agent's root tests (docs/CONVENTIONS.md, network tests): a per-run prefix `hnk<pid>-`,
 * a sweep of namespaces left by crashed earlier runs (their PID is gone), and helpers to run
 * commands inside. Nothing is created in the root namespace.
 */
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

export { Children } from '../../testkit/children.js';
