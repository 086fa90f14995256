/**
 * When the first packet matching a filter reaches a namespace's interface, seen by a tcpdump started
 * beforehand: a latency probe with no program start and no polling interval on its path (bench:l3
 * times a floating-IP move to the first echo request the new VM gets; its reply follows at once).
 */
import { spawn } from 'node:child_process';
import type { Clock } from '../src/common/clock.js';

export interface FirstPacket {
  /** Clock time the first matching packet was printed; rejects when tcpdump ends without one. */
  arrived: Promise<number>;
  stop(): void;
}

/** Starts tcpdump in `ns` on `dev` and resolves once it captures (its "listening on" line). */
export function watchFirst(clock: Clock, ns: string, dev: string, filter: string): Promise<FirstPacket> {
  const p = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '-l', '-n', '-c', '1', '-i', dev, filter], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stop = (): void => {
    if (p.exitCode === null) p.kill();
  };
  const arrived = new Promise<number>((resolve, reject) => {
    p.stdout.once('data', () => resolve(clock.now()));
    p.once('exit', (c) => reject(new Error(`tcpdump in ${ns} ended (${c}) before a packet`)));
  });
  arrived.catch(() => {});
  return new Promise((resolve, reject) => {
    let err = '';
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (/listening on/.test(err)) resolve({ arrived, stop });
    });
    p.once('exit', () => reject(new Error(`tcpdump in ${ns}: ${err.trim()}`)));
  });
}
