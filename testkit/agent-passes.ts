/**
 * What a benchmark reads of the lab's agents: the reconcile passes they log (`reconcile pass`, with
 * the time of every step; the agents log every pass when started with HYPERNET_LOG_PASSES_OVER=0),
 * each sample's share of them, and the CPU time of an agent's process tree from /proc.
 */
import { readFileSync, readdirSync } from 'node:fs';

export interface LoggedPass {
  /** When the pass ended (ms since the epoch) and how long it took. */
  end: number;
  ms: number;
  full: boolean;
  steps: Record<string, number>;
}

/** Pure: the passes in a pino log's text (lines that are not passes are skipped). */
export function parsePasses(text: string): LoggedPass[] {
  const out: LoggedPass[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes('"reconcile pass"')) continue;
    try {
      const j = JSON.parse(line) as { time: number; ms: number; full: boolean; steps: Record<string, number> };
      out.push({ end: j.time, ms: j.ms, full: j.full, steps: j.steps ?? {} });
    } catch {
      // a torn last line while the agent writes
    }
  }
  return out;
}

export const readPasses = (logFile: string): LoggedPass[] => parsePasses(readFileSync(logFile, 'utf8'));

/**
 * Pure: per sample window [start, start + ms], the time of each step summed over the passes that
 * ran during it (overlapping it at all): what the agent spent converging while the sample waited.
 */
export function stepsPerSample(
  passes: readonly LoggedPass[],
  windows: readonly { start: number; ms: number }[],
): Record<string, number>[] {
  return windows.map((w) => {
    const sum: Record<string, number> = {};
    for (const p of passes) {
      if (p.end < w.start || p.end - p.ms > w.start + w.ms) continue;
      for (const [k, v] of Object.entries(p.steps)) sum[k] = (sum[k] ?? 0) + v;
      sum['(pass)'] = (sum['(pass)'] ?? 0) + p.ms;
    }
    return sum;
  });
}

const TICK = 100; // USER_HZ on Linux

/** utime+stime (and of reaped children) of `pid` and every live descendant, in seconds. */
export function treeCpuSeconds(pid: number): number {
  const parent = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // After the comm: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14).
      parent.set(Number(name), Number(f[1]));
      ticks.set(Number(name), Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]));
    } catch {
      // gone meanwhile
    }
  }
  let total = 0;
  const within = (p: number): boolean => {
    for (let q = p, hops = 0; q > 1 && hops < 64; q = parent.get(q) ?? 0, hops++) if (q === pid) return true;
    return false;
  };
  for (const [p, t] of ticks) if (within(p)) total += t;
  return total / TICK;
}
