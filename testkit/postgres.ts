/**
 * A throwaway PostgreSQL cluster for tests: Debian's `postgresql` binaries, `initdb` into a fresh temp
 * directory, `pg_ctl start` on a free loopback port with its Unix socket inside that directory, one
 * database created. Nothing needs to be running beforehand and no system service is touched. PostgreSQL
 * refuses to run as root, so as root the directory is handed to the `postgres` user and the tools run
 * under `runuser`. `stop()` (and, as a last resort, process exit) stops the cluster and removes the
 * directory. `pause()`/`resume()` stop and restart it on the same port (a database outage).
 */
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
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

/** Starts a cluster and creates the database `database` (default `hypernet`). */
export async function startTestPostgres(database = 'hypernet'): Promise<TestPostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL is not installed (Debian package postgresql; scripts/setup.sh installs it)');
  const dir = mkdtempSync(join(tmpdir(), 'hn-pg-'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const pw = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    if (pw.status !== 0) throw new Error('running as root needs the postgres user (Debian package postgresql)');
    chownSync(dir, Number(pw.stdout), Number(gid.stdout));
  }
  const data = join(dir, 'data');
  const run = (tool: string, args: string[]) => {
    const cmd = asRoot ? 'runuser' : join(bin, tool);
    const argv = asRoot ? ['-u', 'postgres', '--', join(bin, tool), ...args] : args;
    const r = spawnSync(cmd, argv, { encoding: 'utf8', cwd: dir, timeout: 60_000 });
    if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed: ${r.stderr || r.stdout || r.error}`);
  };
  let stopped = false;
  const stopSync = () => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', stopSync);
    if (existsSync(join(data, 'postmaster.pid'))) {
      try {
        run('pg_ctl', ['stop', '-D', data, '-m', 'fast', '-w']);
      } catch {
        /* already down */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // A test that crashes still leaves no cluster behind (not on SIGKILL: nothing runs then).
  process.on('exit', stopSync);
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
