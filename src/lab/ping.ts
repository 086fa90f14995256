/**
 * Reachability checks between lab namespaces with the stock `ping`: one bounded ping, a few retries,
 * and the every-VM-to-every-other matrix that `lab up` prints.
 */
import type { Exec } from '../common/exec.js';

export interface PingOptions {
  count?: number;
  waitS?: number;
  interval?: number;
  /** A command prefix run inside the namespace first (`lxc-attach … --`: ping from a HyperVM's container). */
  inner?: readonly string[];
}

/** Where a ping starts: a namespace, or a command prefix inside it (a container's busybox ping). */
export interface PingSource {
  ns: string;
  ip: string;
  inner?: readonly string[];
}

/** One bounded ping from a namespace; true when a reply came. */
export async function ping(exec: Exec, fromNs: string, ip: string, opts: PingOptions = {}): Promise<boolean> {
  const args = [
    'netns',
    'exec',
    fromNs,
    ...(opts.inner ?? []),
    'ping',
    // busybox's ping (in a container) prints no names anyway and has no -n.
    ...(opts.inner ? [] : ['-n']),
    '-q',
    '-c',
    String(opts.count ?? 1),
    '-W',
    String(opts.waitS ?? 1),
  ];
  if (opts.interval) args.push('-i', String(opts.interval));
  const r = await exec('ip', [...args, ip], {
    allowFail: true,
    timeoutMs: ((opts.count ?? 1) * (opts.interval ?? 1) + (opts.waitS ?? 1) + 5) * 1000,
  });
  return r.code === 0;
}

/**
 * Pings until one answers or `attempts` run out, about a second apart: an attempt that fails at once
 * (a container's `lxc-attach` refused while its node is busy, no route yet) waits out the rest of its
 * second, so the attempts span the time they are meant to.
 */
export async function pingRetry(
  exec: Exec,
  fromNs: string,
  ip: string,
  attempts = 3,
  inner?: readonly string[],
): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    const started = Date.now();
    if (await ping(exec, fromNs, ip, { inner })) return true;
    const rest = 1000 - (Date.now() - started);
    if (rest > 0 && i < attempts - 1) await new Promise((r) => setTimeout(r, rest));
  }
  return false;
}

/**
 * Attempts per pair in the matrix (about 1 s each): more than WireGuard's 5 s wait before it sends a
 * lost handshake initiation again, so a cross-cloud pair is not marked failed while its tunnel comes up.
 */
const MATRIX_ATTEMPTS = 8;

/** Every VM pings every other: matrix[i][j] is true when VM i reached VM j. */
export async function pingMatrix(exec: Exec, vms: readonly PingSource[]): Promise<boolean[][]> {
  return Promise.all(
    vms.map((a, i) =>
      Promise.all(
        vms.map((b, j) => (i === j ? Promise.resolve(true) : pingRetry(exec, a.ns, b.ip, MATRIX_ATTEMPTS, a.inner))),
      ),
    ),
  );
}
