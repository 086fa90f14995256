/**
 * Starting, recognising, reloading and stopping one network's dnsmasq. dnsmasq daemonises itself
 * (started with `ip netns exec NS dnsmasq …` through the injected Exec), so it outlives an agent
 * restart and is found again by its pid file. A PID is only ever signalled after /proc/PID/cmdline
 * proves it is dnsmasq running with our config file.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Clock } from '../../common/clock.js';
import type { Exec } from '../../common/exec.js';
import type { DhcpFiles } from './names.js';
import { readTextOrNull } from '../../common/files.js';

/** Process access, injectable for tests. */
export interface ProcessOps {
  /** argv of a live process, or null (gone, zombie, unreadable). */
  cmdline(pid: number): Promise<string[] | null>;
  signal(pid: number, sig: NodeJS.Signals): void;
}

export const realProcessOps: ProcessOps = {
  async cmdline(pid) {
    try {
      const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
      const argv = raw.split('\0').filter((s, i, all) => !(s === '' && i === all.length - 1));
      return argv.length && argv[0] !== '' ? argv : null; // a zombie has an empty cmdline
    } catch {
      return null;
    }
  },
  signal(pid, sig) {
    process.kill(pid, sig);
  },
};

/** The exact argv our dnsmasq runs with: the config file plus per-node paths. */
export function dnsmasqArgv(dnsmasqPath: string, f: DhcpFiles): string[] {
  return [
    dnsmasqPath,
    `--conf-file=${f.conf}`,
    `--dhcp-hostsfile=${f.hosts}`,
    `--pid-file=${f.pid}`,
    `--dhcp-leasefile=${f.leases}`,
    `--log-facility=${f.log}`,
  ];
}

const isOurs = (argv: readonly string[] | null, confPath: string): boolean =>
  !!argv && basename(argv[0]) === 'dnsmasq' && argv.includes(`--conf-file=${confPath}`);

/** Our running dnsmasq for these files (pid from the pid file, verified), or null. */
export async function findDnsmasq(f: DhcpFiles, ops: ProcessOps): Promise<{ pid: number; argv: string[] } | null> {
  const text = await readTextOrNull(f.pid);
  const pid = Number(text?.trim());
  if (!Number.isInteger(pid) || pid <= 1) return null;
  const argv = await ops.cmdline(pid);
  return argv && isOurs(argv, f.conf) ? { pid, argv } : null;
}

async function waitFor(clock: Clock, ms: number, ok: () => Promise<boolean>): Promise<boolean> {
  const deadline = clock.now() + ms;
  for (;;) {
    if (await ok()) return true;
    if (clock.now() >= deadline) return false;
    await clock.sleep(50);
  }
}

/** Starts dnsmasq in `netns`; resolves with its PID once the pid file names a live dnsmasq. */
export async function startDnsmasq(
  exec: Exec,
  ops: ProcessOps,
  clock: Clock,
  netns: string,
  dnsmasqPath: string,
  f: DhcpFiles,
): Promise<number> {
  const argv = dnsmasqArgv(dnsmasqPath, f);
  await exec('ip', ['netns', 'exec', netns, ...argv], { timeoutMs: 10_000 });
  let found: { pid: number } | null = null;
  const ok = await waitFor(clock, 5_000, async () => {
    found = await findDnsmasq(f, ops);
    return found !== null;
  });
  if (!ok || !found) throw new Error(`dnsmasq for ${netns} did not come up (no live pid in ${f.pid})`);
  return (found as { pid: number }).pid;
}

/** Makes dnsmasq reread its hosts file. */
export function reloadDnsmasq(ops: ProcessOps, pid: number): void {
  ops.signal(pid, 'SIGHUP');
}

/** SIGTERM, then SIGKILL after 5 s; only if the PID is still our dnsmasq. */
export async function stopDnsmasq(ops: ProcessOps, clock: Clock, pid: number, f: DhcpFiles): Promise<void> {
  const gone = async () => !isOurs(await ops.cmdline(pid), f.conf);
  const send = (sig: NodeJS.Signals) => {
    try {
      ops.signal(pid, sig);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e; // exited meanwhile
    }
  };
  if (await gone()) return;
  send('SIGTERM');
  if (await waitFor(clock, 5_000, gone)) return;
  send('SIGKILL');
  if (!(await waitFor(clock, 2_000, gone))) throw new Error(`dnsmasq ${pid} did not exit`);
}
