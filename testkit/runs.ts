/**
 * What every root test's sweep of crashed earlier runs needs: whether a run's process still lives,
 * and the host's namespace names (the agent's own reader). Each test family keeps its own prefix.
 */
import { readFileSync } from 'node:fs';
import { realExec } from '../src/common/exec.js';
import { listNetns as listNetnsWith } from '../src/common/netns.js';

/**
 * True while process `pid` runs (EPERM: it exists, owned by someone else). A zombie counts as gone:
 * a daemon that exited waits there until PID 1 reaps it, which here can take a while.
 */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

/** Every namespace name on the host. */
export const listNetns = (): Promise<string[]> => listNetnsWith(realExec);

/**
 * Deletes a namespace, first ending the processes living in it that the run's agents started (a
 * wireguard-go daemon holds its namespace alive after `ip netns del`).
 */
export async function deleteNetns(ns: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const pids = (await realExec('ip', ['netns', 'pids', ns], { allowFail: true })).stdout.split(/\s+/).filter(Boolean);
  for (const pid of pids.map(Number).filter((n) => n > 1 && n !== process.pid)) {
    try {
      process.kill(pid, signal);
    } catch {
      /* gone already */
    }
  }
  await realExec('ip', ['netns', 'del', ns], { allowFail: true });
}
