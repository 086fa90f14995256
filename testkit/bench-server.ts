/**
 * A real `hypernet server` as a child process, for benchmarks that measure it (or an agent) through
 * its API: its own temp directory (data dir, config), started on a free port and ready once it says
 * where it listens, so a benchmark never times a server that is still starting.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The stand-alone server entry: the same server as `hypernet server`, without loading the CLI.
const serverMain = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'server-main.js');

export interface BenchServer {
  /** Its HTTP address (`http://127.0.0.1:PORT`). */
  url: string;
  pid: number;
  /** Its temp directory (removed by `stop`); a benchmark may keep its own files there. */
  dir: string;
  /** Stops it (SIGTERM, SIGKILL after 5 s) and removes its directory. */
  stop(): Promise<void>;
}

/**
 * Starts a server with `config` (YAML) and `args` (more server flags; `dir` is its temp directory,
 * e.g. for a Unix socket), resolving once it listens.
 */
export async function startBenchServer(
  config: string,
  args: (dir: string) => string[] = () => [],
): Promise<BenchServer> {
  const dir = mkdtempSync(join(tmpdir(), 'hn-bench-'));
  writeFileSync(join(dir, 'server.yaml'), config);
  const flags = ['--host', '127.0.0.1', '--port', '0', '--data-dir', join(dir, 'data')];
  const child = spawn(process.execPath, [serverMain, ...flags, '--config', join(dir, 'server.yaml'), ...args(dir)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, HYPERNET_LOG_LEVEL: 'warn' },
  });
  const stop = async (): Promise<void> => {
    await kill(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      // Read stdout to the end (its warnings too), so the server never blocks on a full pipe.
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`server exited ${code} before listening`)));
    });
    return { url, pid: child.pid!, dir, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** SIGTERM (the server closes its store cleanly), then SIGKILL if it has not exited within 5 s. */
async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
