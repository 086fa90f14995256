/**
 * One iperf3 TCP flow from a namespace, as the benchmarks measure throughput: bits per second
 * received, or an error naming the path and iperf3's own message. With `cpu`, the client runs pinned
 * to that CPU (testkit/placement.ts), so every path of a benchmark places its sender alike.
 */
import type { Exec } from '../src/common/exec.js';

export async function iperfTcp(exec: Exec, fromNs: string, to: string, seconds: number, cpu?: number): Promise<number> {
  const pin = cpu === undefined ? [] : ['taskset', '-c', String(cpu)];
  const r = await exec(
    'ip',
    [
      'netns',
      'exec',
      fromNs,
      ...pin,
      'iperf3',
      '-4',
      '-c',
      to,
      '-t',
      String(seconds),
      '-J',
      '--connect-timeout',
      '3000',
    ],
    { allowFail: true, timeoutMs: (seconds + 15) * 1000 },
  );
  const j = JSON.parse(r.stdout || '{}') as { end?: { sum_received?: { bits_per_second: number } }; error?: string };
  if (!j.end?.sum_received) throw new Error(`iperf3 ${fromNs} → ${to}: ${j.error ?? r.stderr}`);
  return j.end.sum_received.bits_per_second;
}
