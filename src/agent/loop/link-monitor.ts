/**
 * Watches the node namespace's links with a long-lived `ip -o monitor link` child and calls
 * `onTap` when a line names a tap (a workload's port interface appeared, changed or went away), so
 * the reconcile loop runs at once instead of at the next periodic resync. Only a trigger: the loop
 * still re-reads the kernel itself (level-triggered), and the periodic resync remains the safety
 * net. The child is restarted with backoff if it dies; `stop()` kills only the child it started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';
import { Backoff } from './backoff.js';

/**
 * Pure: the tap named by one `ip -o monitor link` line when it calls for a pass — the tap is gone,
 * or is not in a bridge (new, or released by someone) — else null. Lines of taps already enslaved
 * (mostly the agent's own changes) do not: the periodic resync covers drift there.
 */
export function tapOfMonitorLine(line: string): string | null {
  // "7: tapabc@if6: <BROADCAST,…> mtu 1450 … master hnb-1 …" or "Deleted 7: tapabc@if6: …"
  const m = /^(Deleted\s+)?\d+:\s+([^:@\s]+)(?:@[^:\s]*)?:/.exec(line.trim());
  if (!m?.[2].startsWith('tap')) return null;
  return m[1] || !/ master /.test(line) ? m[2] : null;
}

/**
 * Pure: whether a monitor line reports a link deleted. A bridge port leaving its bridge prints a
 * "Deleted" line too (the bridge family's message: no qdisc, no group); the link's own deletion
 * carries both.
 */
export function isLinkDeletion(line: string): boolean {
  const l = line.trim();
  return /^Deleted\s/.test(l) && / qdisc /.test(l) && / group /.test(l);
}

export interface LinkMonitorOptions {
  clock: Clock;
  log: Logger;
  /** `gone`: the line says the tap was deleted. */
  onTap: (ifname: string, gone: boolean) => void;
  /** The command to run (default `ip -o monitor link`); tests may wrap it (e.g. in a namespace). */
  argv?: readonly string[];
}

export class LinkMonitor {
  private child: ChildProcess | null = null;
  private stopped = false;
  private readonly backoff = new Backoff(100, 5_000);
  /** Times the child was (re)started (for tests and logs). */
  starts = 0;

  constructor(private readonly o: LinkMonitorOptions) {}

  start(): void {
    if (this.child || this.stopped) return;
    const [cmd, ...args] = this.o.argv ?? ['ip', '-o', 'monitor', 'link'];
    const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    this.child = child;
    this.starts++;
    let buf = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      this.backoff.reset();
      buf += d;
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const l of lines) {
        const tap = tapOfMonitorLine(l);
        if (tap) this.o.onTap(tap, isLinkDeletion(l));
      }
    });
    const restart = (why: string): void => {
      if (this.child !== child) return;
      this.child = null;
      if (this.stopped) return;
      const ms = this.backoff.next();
      this.o.log.warn({ why, retryMs: ms }, 'link monitor ended, restarting');
      void this.o.clock.sleep(ms).then(() => this.start());
    };
    child.on('error', (e) => restart(e.message));
    child.on('exit', (code, sig) => restart(`exit ${code ?? sig}`));
  }

  stop(): void {
    this.stopped = true;
    const c = this.child;
    this.child = null;
    if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  }

  /** PID of the running child (tests). */
  get pid(): number | undefined {
    return this.child?.pid;
  }
}
