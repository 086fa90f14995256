/**
 * The one way hypernet runs other programs (ip, bridge, nft, dnsmasq …). Injected everywhere as an
 * `Exec` so pure code never spawns and tests can see every command that was run.
 */
import { execFile, spawn } from 'node:child_process';

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface ExecOptions {
  /** Text written to the program's standard input. */
  input?: string;
  /** Do not throw on a non-zero exit; return the code instead. */
  allowFail?: boolean;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export type Exec = (cmd: string, args: readonly string[], opts?: ExecOptions) => Promise<ExecResult>;

export class ExecError extends Error {
  constructor(
    readonly cmd: string,
    readonly args: readonly string[],
    readonly result: ExecResult,
  ) {
    super(`${cmd} ${args.join(' ')} exited ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`);
    this.name = 'ExecError';
  }
}

/** Runs a program for real. */
export const realExec: Exec = (cmd, args, opts = {}) =>
  new Promise((resolve, reject) => {
    if (opts.input !== undefined) {
      const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let timer: NodeJS.Timeout | undefined;
      if (opts.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', (e) => {
        if (timer) clearTimeout(timer);
        reject(e);
      });
      child.on('close', (code) => {
        if (timer) clearTimeout(timer);
        const result = { stdout, stderr, code: code ?? -1 };
        if (result.code !== 0 && !opts.allowFail) reject(new ExecError(cmd, args, result));
        else resolve(result);
      });
      // A program may exit before it has read all of its input (a helper stopping at a bad line):
      // writing the rest then fails with EPIPE, which its exit status already reports.
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input);
      return;
    }
    execFile(
      cmd,
      args as string[],
      { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 0, maxBuffer: 256 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : -1
          : 0;
        const result = { stdout: String(stdout), stderr: String(stderr), code };
        if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') return reject(err);
        if (code !== 0 && !opts.allowFail) return reject(new ExecError(cmd, args, result));
        resolve(result);
      },
    );
  });

/** Wraps an Exec so every command runs inside network namespace `ns` (via `ip netns exec`). */
export function inNetns(exec: Exec, ns: string | undefined): Exec {
  if (!ns) return exec;
  return (cmd, args, opts) => exec('ip', ['netns', 'exec', ns, cmd, ...args], opts);
}

/**
 * Like inNetns, but via `nsenter --net`, which keeps the host's mounts: `ip netns exec` mounts a
 * fresh /sys, hiding the bpf filesystem at /sys/fs/bpf that tc must open pinned programs from.
 */
export function inNetnsKeepMounts(exec: Exec, ns: string | undefined): Exec {
  if (!ns) return exec;
  return (cmd, args, opts) => exec('nsenter', [`--net=/run/netns/${ns}`, cmd, ...args], opts);
}
