/**
 * The lab's logs: the tail of one for error messages (a daemon that died at start) and a copy of all
 * of them (server, agents, the agents' dnsmasq) for post-mortems.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { LabPlan } from './plan.js';

/** The last `lines` lines of a log file, or `(no log)` when it cannot be read. */
export function tailLog(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Copies the lab's logs (server, agents, dnsmasq) to `dest` for post-mortems; returns `dest`. */
export function copyLogs(plan: LabPlan, dest: string): string {
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  if (existsSync(plan.paths.logDir)) cpSync(plan.paths.logDir, dest, { recursive: true });
  for (const c of plan.clouds) {
    const dirs = existsSync(c.agentStateDir) ? readdirSync(c.agentStateDir) : [];
    for (const d of dirs) {
      const f = join(c.agentStateDir, d, 'dnsmasq.log');
      if (existsSync(f)) cpSync(f, join(dest, `${c.hostId}-${d}-dnsmasq.log`));
    }
  }
  return dest;
}
