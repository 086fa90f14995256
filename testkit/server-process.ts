/**
 * `hypernet server` as a real child process, as an operator runs it: started with its flags, ready
 * once it prints its URL, stopped with SIGTERM, or killed by its PID (the failure tests' SIGKILL).
 * Its output is read as it comes (a full pipe would stall the server) and the last of stderr is kept
 * for the error of a server that does not start.
 */
import { type ChildProcess, spawn } from 'node:child_process';

const BIN = new URL('../../bin/hypernet.js', import.meta.url).pathname;

export interface ServerProcess {
  url: string;
  child: ChildProcess;
}

/** Starts `hypernet server --port 0 ARGS` and resolves once it prints its URL. */
export function startServerProcess(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ServerProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'server', '--port', '0', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    let out = '';
    let err = '';
    let started = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start in time: ${err}`));
    }, 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      if (started) return;
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        started = true;
        clearTimeout(timer);
        resolve({ url: m[1], child });
      }
    });
    child.stderr!.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-4_000);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (!started) reject(new Error(`server exited (${code}): ${err}`));
    });
  });
}

/** Stops a server that still runs (SIGTERM) and waits for it to exit. */
export async function stopServerProcess(s: ServerProcess | undefined): Promise<void> {
  if (!s || s.child.exitCode !== null || s.child.signalCode !== null) return;
  const exited = new Promise((r) => s.child.once('exit', r));
  s.child.kill('SIGTERM');
  await exited;
}

/** Kills a server with SIGKILL by its PID (no shutdown of any kind) and waits until it is gone. */
export async function killServerProcess(s: ServerProcess): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  const exited = new Promise((r) => s.child.once('exit', r));
  process.kill(s.child.pid!, 'SIGKILL');
  await exited;
}
