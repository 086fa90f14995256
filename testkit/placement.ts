/**
 * Where a benchmark's daemons run, and how busy the machine was: on a shared 2-core machine the
 * scheduler may put both tunnel ends on one core for one path and on two for the other, so the
 * benchmarks comparing tunnels pin the sending end's daemon to one CPU and the receiving end's to
 * another, the same on every path (BENCH_PIN=0 leaves placement to the scheduler).
 */
import { availableParallelism, loadavg } from 'node:os';
import type { Exec } from '../src/common/exec.js';

export const PINNING = process.env.BENCH_PIN !== '0' && availableParallelism() >= 2;

/** The CPUs a path's sending and receiving daemons are pinned to. */
export const SENDER_CPU = 0;
export const RECEIVER_CPU = 1;

/** Pins every thread of process `pid` to `cpu` (wireguard-go is multi-threaded; new threads inherit). */
export async function pinProcess(exec: Exec, pid: number, cpu: number): Promise<void> {
  if (!PINNING || !pid) return;
  const r = await exec('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { allowFail: true });
  if (r.code !== 0) throw new Error(`taskset ${pid} → CPU ${cpu}: ${r.stderr.trim()}`);
}

/** Pins a path's two daemons: sender → SENDER_CPU, receiver → RECEIVER_CPU. */
export async function pinPath(exec: Exec, sender: number[], receiver: number[]): Promise<void> {
  for (const pid of sender) await pinProcess(exec, pid, SENDER_CPU);
  for (const pid of receiver) await pinProcess(exec, pid, RECEIVER_CPU);
}

/** "load average 18.6 / 8.0 / 3.8 (1/5/15 min)", for a benchmark's start and end lines. */
export const loadAverageLine = (): string =>
  `load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' / ')} (1/5/15 min)`;

/** How the daemons are placed, for a benchmark's header. */
export const placementLine = (): string =>
  PINNING
    ? `daemons pinned: sender CPU ${SENDER_CPU}, receiver CPU ${RECEIVER_CPU} on every path (BENCH_PIN=0: unpinned)`
    : 'daemons not pinned (BENCH_PIN=0 or one CPU)';
