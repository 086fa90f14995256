/**
 * CPU time read from /proc, for benchmarks that print CPU seconds per Gbit: a process's user + system
 * time, the machine's busy and softirq time, and the processes running an exact command line.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's counters (USER_HZ: 100 on every Linux architecture we run on). */
export const TICKS_PER_SECOND = 100;

/** A process's user + system ticks (0 once it has gone). */
export function processTicks(pid: number): number {
  try {
    // The command name may hold spaces; the fields after it are fixed (utime and stime are 14 and 15).
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

/** The whole machine's ticks: busy (all but idle and iowait) and softirq (packet processing, mostly). */
export function machineTicks(): { busy: number; softirq: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { busy: f.reduce((a, b) => a + b, 0) - f[3]! - f[4]!, softirq: f[6]! };
}

/** PIDs of the processes whose command line is exactly `argv` (e.g. a wireguard-go of one interface). */
export function pidsByArgv(argv: readonly string[]): number[] {
  const want = `${argv.join('\0')}\0`;
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8') === want) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
