/**
 * A throwaway PostgreSQL cluster for tests: Debian's `postgresql` binaries, `initdb` into a fresh temp
 * directory, `pg_ctl start` on a free loopback port with its Unix socket inside that directory, one
 * database created. Nothing needs to be running beforehand and no system service is touched. PostgreSQL
 * refuses to run as root, so as root the directory is handed to the `postgres` user and the tools run
 * under `runuser`. `stop()` (and, as a last resort, process exit) stops the cluster and removes the
 * directory. `pause()`/`resume()` stop and restart it on the same port (a database outage).
 */
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const PG_ROOT = '/usr/lib/postgresql';

/** The bin directory of the newest installed major version, or undefined when none is installed. */
export function postgresBinDir(): string | undefined {
  if (!existsSync(PG_ROOT)) return undefined;
  const versions = readdirSync(PG_ROOT)
    .filter((v) => /^\d+$/.test(v) && existsSync(join(PG_ROOT, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(PG_ROOT, versions[0], 'bin') : undefined;
}

/** True when the PostgreSQL server binaries are installed (the `postgresql` Debian package). */
export const hasPostgres = (): boolean => postgresBinDir() !== undefined;

export interface TestPostgres {
  /** `postgresql://…` URL of the created database. */
  url: string;
  /** URL of another, fresh database in the same cluster. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server (fast shutdown), keeping its data: the database is gone until `resume()`. */
  pause(): void;
  /** Starts it again on the same port. */
  resume(): void;
  /** Stops the server and removes its directory; safe to call twice. */
  stop(): void;
}

const USER = 'hypernet';

/** Runs a PostgreSQL tool from `bin` in `cwd`, as the postgres user when we are root; throws on failure. */
function runTool(bin: string, cwd: string, tool: string, args: string[]): void {
  const asRoot = process.getuid?.() === 0;
  const cmd = asRoot ? 'runuser' : join(bin, tool);
  const argv = asRoot ? ['-u', 'postgres', '--', join(bin, tool), ...args] : args;
  const r = spawnSync(cmd, argv, { encoding: 'utf8', cwd, timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed: ${r.stderr || r.stdout || r.error}`);
}

/** Stops the cluster under `dir` when it runs, then removes `dir`. */
function removeCluster(bin: string, dir: string): void {
  const data = join(dir, 'data');
  if (existsSync(join(data, 'postmaster.pid'))) {
    try {
      runTool(bin, dir, 'pg_ctl', ['stop', '-D', data, '-m', 'fast', '-w']);
    } catch {
      /* already down */
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

const PREFIX = 'hn-pg-';

/** Removes clusters whose test process died without cleaning up (SIGKILL): their `owner` pid is gone. */
function sweepStale(bin: string): void {
  for (const name of readdirSync(tmpdir()).filter((n) => n.startsWith(PREFIX))) {
    const dir = join(tmpdir(), name);
    let owner: number;
    try {
      owner = Number(readFileSync(join(dir, 'owner'), 'utf8'));
    } catch {
      continue; // being created right now, or not ours
    }
    if (Number.isSafeInteger(owner) && owner > 0 && !isAlive(owner)) removeCluster(bin, dir);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Starts a cluster and creates the database `database` (default `hypernet`). */
export async function startTestPostgres(database = 'hypernet'): Promise<TestPostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL is not installed (Debian package postgresql; scripts/setup.sh installs it)');
  sweepStale(bin);
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  writeFileSync(join(dir, 'owner'), String(process.pid));
  if (process.getuid?.() === 0) {
    const pw = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    if (pw.status !== 0) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error('running as root needs the postgres user (Debian package postgresql)');
    }
    chownSync(dir, Number(pw.stdout), Number(gid.stdout));
  }
  const data = join(dir, 'data');
  const run = (tool: string, args: string[]) => runTool(bin, dir, tool, args);
  let stopped = false;
  const onSignal = (signal: NodeJS.Signals) => {
    stopSync();
    process.kill(process.pid, signal); // our listener is gone: the signal now does what it would have
  };
  const stopSync = () => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', stopSync);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    removeCluster(bin, dir);
  };
  // A test that crashes or is interrupted leaves no cluster behind; after a SIGKILL the next start
  // sweeps it (sweepStale).
  process.on('exit', stopSync);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    run('initdb', ['-D', data, '-U', USER, '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale', 'C']);
    const port = await freePort();
    // Throwaway data: no fsync; the socket in our own directory, TCP on loopback only.
    const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off`;
    const start = () =>
      run('pg_ctl', ['start', '-D', data, '-w', '-t', '60', '-l', join(dir, 'server.log'), '-o', options]);
    start();
    const urlOf = (db: string) => `postgresql://${USER}@127.0.0.1:${port}/${db}`;
    const createDatabase = async (name: string) => {
      if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
      const c = new pg.Client({ connectionString: urlOf('postgres') });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      return urlOf(name);
    };
    const url = await createDatabase(database);
    return {
      url,
      createDatabase,
      pause: () => run('pg_ctl', ['stop', '-D', data, '-m', 'fast', '-w']),
      resume: start,
      stop: stopSync,
    };
  } catch (e) {
    stopSync();
    throw e;
  }
}

/** A TCP port free on loopback right now (the kernel picks it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
