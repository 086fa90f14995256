/**
 * Many concurrent TCP connections through a router's SNAT (bench:l3): the echo server of
 * `tcp-hold` in one namespace, its client in another; while the connections are held, the
 * conntrack entries of the namespaces that track them are counted, so the report shows the SNAT
 * really held them (and how close that is to the kernel's `nf_conntrack_max`).
 */
import { spawn } from 'node:child_process';
import type { Exec } from '../src/common/exec.js';
import type { HoldResult } from './tcp-hold.js';

const PROGRAM = new URL('./tcp-hold.js', import.meta.url).pathname;
/** Each side holds one descriptor per connection: raise the limit past the count (root may). */
const inNsNode = (ns: string, args: string[]): string[] => [
  'netns',
  'exec',
  ns,
  'sh',
  '-c',
  `ulimit -n 65536 2>/dev/null; exec "$0" "$@"`,
  process.execPath,
  PROGRAM,
  ...args,
];

export interface SnatHold extends HoldResult {
  /** The highest conntrack count seen during the hold, per namespace watched. */
  conntrack: Record<string, number>;
  conntrackMax: number;
}

const readNum = async (exec: Exec, ns: string, file: string): Promise<number> =>
  Number((await exec('ip', ['netns', 'exec', ns, 'cat', file], { allowFail: true })).stdout.trim()) || 0;

export async function holdThroughSnat(
  exec: Exec,
  o: { serverNs: string; serverIp: string; clientNs: string; count: number; holdMs: number; watch: string[] },
): Promise<SnatHold> {
  const port = '7077';
  const server = spawn('ip', inNsNode(o.serverNs, ['server', port]), { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      server.stdout.once('data', () => resolve());
      server.once('exit', (c) => reject(new Error(`tcp-hold server exited (${c})`)));
    });
    const client = exec('ip', inNsNode(o.clientNs, ['client', o.serverIp, port, String(o.count), String(o.holdMs)]), {
      timeoutMs: o.holdMs + 120_000,
    });
    const conntrack: Record<string, number> = {};
    let done = false;
    const end = () => {
      done = true;
    };
    client.then(end, end);
    // Sample while the client runs: the peak is during the hold, when every connection is open.
    while (!done) {
      for (const ns of o.watch)
        conntrack[ns] = Math.max(
          conntrack[ns] ?? 0,
          await readNum(exec, ns, '/proc/sys/net/netfilter/nf_conntrack_count'),
        );
      await new Promise((r) => setTimeout(r, 1_000));
    }
    const r = JSON.parse((await client).stdout.trim().split('\n').pop() ?? '{}') as HoldResult;
    const conntrackMax = await readNum(exec, o.clientNs, '/proc/sys/net/netfilter/nf_conntrack_max');
    return { ...r, conntrack, conntrackMax };
  } finally {
    server.kill();
  }
}
