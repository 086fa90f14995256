/**
 * The lab's daemons (server, agents): started detached with their output in the state directory's
 * logs and their PID in a pid file; stopped only by recorded PID and only after /proc/PID/cmdline shows
 * the process is still the one the lab started (its command line names the lab's state directory).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Clock } from '../common/clock.js';

/** `bin/hypernet.js` of this checkout (dist/src/lab/processes.js → ../../../bin). */
export const HYPERNET_BIN = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'hypernet.js');

export interface DaemonSpec {
  /** Pid file base name, e.g. `server`, `agent-hs-a`. */
  name: string;
  cmd: string;
  args: string[];
  logFile: string;
  pidDir: string;
  env?: NodeJS.ProcessEnv;
}

/** Starts a detached daemon whose stdout and stderr go to `logFile`; returns its PID (also written to the pid file). */
export function startDaemon(spec: DaemonSpec): number {
  mkdirSync(dirname(spec.logFile), { recursive: true });
  mkdirSync(spec.pidDir, { recursive: true });
  const fd = openSync(spec.logFile, 'a');
  try {
    const child = spawn(spec.cmd, spec.args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: spec.env ?? process.env,
    });
    if (child.pid === undefined) throw new Error(`cannot start ${spec.cmd}`);
    child.unref();
    writeFileSync(pidFile(spec.pidDir, spec.name), `${child.pid}\n`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

export function pidFile(pidDir: string, name: string): string {
  return join(pidDir, `${name}.pid`);
}

export function readPidFile(file: string): number | null {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** All pid files in a directory: name → pid. */
export function readPidDir(pidDir: string): Map<string, number> {
  const out = new Map<string, number>();
  if (!existsSync(pidDir)) return out;
  for (const f of readdirSync(pidDir)) {
    if (!f.endsWith('.pid')) continue;
    const pid = readPidFile(join(pidDir, f));
    if (pid) out.set(f.slice(0, -4), pid);
  }
  return out;
}

/** The process's argv, or null when it is gone or a zombie. */
export function cmdlineOf(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/\) Z /.test(stat)) return null;
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw ? raw.split('\0').filter(Boolean) : null;
  } catch {
    return null;
  }
}

/** True when `pid` runs and its command line contains `marker` (the lab's state directory). */
export function isOurs(pid: number, marker: string): boolean {
  const argv = cmdlineOf(pid);
  return !!argv && argv.some((a) => a.includes(marker));
}

/**
 * Stops a process the lab started: verifies it is ours, sends SIGTERM, waits up to `graceMs`, then
 * SIGKILL. Returns what happened.
 */
export async function stopPid(
  pid: number,
  marker: string | null,
  clock: Clock,
  graceMs = 3000,
): Promise<'stopped' | 'gone' | 'not-ours'> {
  if (!cmdlineOf(pid)) return 'gone';
  if (marker !== null && !isOurs(pid, marker)) return 'not-ours';
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return 'gone';
  }
  const deadline = clock.now() + graceMs;
  while (clock.now() < deadline) {
    if (!cmdlineOf(pid)) return 'stopped';
    await clock.sleep(50);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* exited meanwhile */
  }
  for (let i = 0; i < 40 && cmdlineOf(pid); i++) await clock.sleep(25);
  return 'stopped';
}

/** Stops every process recorded in the pid directory (verifying each), then removes the pid files. */
export async function stopAllRecorded(pidDir: string, marker: string, clock: Clock): Promise<Map<string, string>> {
  const results = new Map<string, string>();
  const entries = [...readPidDir(pidDir)];
  // Agents first (they talk to the server), then the rest.
  for (const phase of [true, false]) {
    const group = entries.filter(([name]) => name.startsWith('agent') === phase);
    await Promise.all(group.map(async ([name, pid]) => results.set(name, await stopPid(pid, marker, clock))));
  }
  for (const [name] of entries) rmSync(pidFile(pidDir, name), { force: true });
  return results;
}

/** PIDs (other than ours) whose command line mentions `marker`, e.g. dnsmasq started by a lab agent. */
export function pidsMentioning(marker: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const pid = Number(d);
    if (pid === process.pid) continue;
    if (isOurs(pid, marker)) out.push(pid);
  }
  return out;
}

/** Polls `probe` until it returns a truthy value or `timeoutMs` passes (then throws with `what`). */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false>,
  clock: Clock,
  timeoutMs: number,
  intervalMs = 100,
): Promise<T> {
  const deadline = clock.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      lastError = e;
    }
    if (clock.now() >= deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`,
      );
    await clock.sleep(intervalMs);
  }
}
