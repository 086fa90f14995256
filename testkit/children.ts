/**
 * Processes a test or benchmark starts (server, agents), each logging to `logDir/NAME.log`, stopped
 * by PID: SIGTERM, then SIGKILL after 3 s. Shared by the root tests and the worlds in testkit/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';

export class Children {
  private readonly all: ChildProcess[] = [];
  constructor(private readonly logDir: string) {}

  start(args: string[], logName: string): ChildProcess {
    mkdirSync(this.logDir, { recursive: true });
    const out = openSync(join(this.logDir, `${logName}.log`), 'a');
    const c = spawn(args[0], args.slice(1), { stdio: ['ignore', out, out] });
    this.all.push(c);
    return c;
  }

  /** Stops one (SIGTERM, then SIGKILL after 3 s). */
  async stop(c: ChildProcess): Promise<void> {
    if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 3_000))]);
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }

  /** Kills one with SIGKILL by its PID (no shutdown of any kind, as a dead machine) and waits for its exit. */
  async kill(c: ChildProcess): Promise<void> {
    if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) return;
    const gone = new Promise((r) => c.once('exit', r));
    process.kill(c.pid, 'SIGKILL');
    await gone;
  }

  async stopAll(): Promise<void> {
    for (const c of this.all.splice(0)) await this.stop(c);
  }
}
