/**
 * A ping that runs in the background (every 50 ms by default, bounded by a deadline) and keeps the
 * wall-clock time of each reply, as ping itself stamps it (`-D`): a failover's recovery time is the
 * first reply after the failure, with no program start on its path.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export class PingWatch {
  /** Reply times, ms since the epoch, in order. */
  readonly replies: number[] = [];
  private readonly child: ChildProcess;
  /** The last of ping's own output that was not a reply (errors, its exit), to tell why it stopped. */
  other = '';

  /** Starts `ping` from namespace `ns` to `ip` every `intervalS`, for at most `deadlineS`. */
  constructor(ns: string, ip: string, o: { intervalS?: number; deadlineS?: number } = {}) {
    const interval = o.intervalS ?? 0.05;
    // A count, not -w: with a deadline ping stops at the first ICMP error (a failover's unreachables).
    const count = Math.ceil((o.deadlineS ?? 120) / interval);
    const args = ['-n', '-D', '-i', String(interval), '-c', String(count), ip];
    this.child = spawn('ip', ['netns', 'exec', ns, 'ping', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let rest = '';
    this.child.stdout!.on('data', (d: Buffer) => {
      const lines = (rest + d.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) {
        const m = /^\[(\d+\.\d+)\] \d+ bytes from/.exec(l);
        if (m) this.replies.push(Number(m[1]) * 1000);
        else this.other = `${this.other}${l}\n`.slice(-1_000);
      }
    });
    this.child.stderr!.on('data', (d: Buffer) => {
      this.other = `${this.other}${d}`.slice(-1_000);
    });
    this.child.on('exit', (code, signal) => {
      this.other += `(ping exited: ${code ?? signal})`;
    });
  }

  /** The first reply after `t` (ms since the epoch), waiting up to `timeoutMs`; -1 when none came. */
  async firstReplyAfter(t: number, timeoutMs: number): Promise<number> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const r = this.replies.find((x) => x > t);
      if (r !== undefined) return r;
      if (Date.now() >= end || this.child.exitCode !== null) return -1;
      await new Promise((res) => setTimeout(res, 20));
    }
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGINT');
  }
}
