/**
 * A private Keystone for the lab, the tests and the tempest run: Debian's python3-keystone (its
 * `keystone-manage` and `keystone-wsgi-public`), everything in one directory of ours — keystone.conf,
 * the SQLite database, fernet, receipt and credential keys, the log — and nothing in /etc/keystone or
 * any system service. It is served on a free loopback port (wsgiref, picked by the kernel and read back
 * from its log), bootstrapped with an admin, and given a `service` project and the catalog entries.
 * Stopped by PID, verified by its command line naming our directory.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import type { Clock } from '../common/clock.js';
import type { Exec } from '../common/exec.js';
import { assertWord } from '../model/grammar/words.js';
import { issueToken, KeystoneAdmin, type PasswordCredentials } from '../client/keystone.js';
import { tailLog } from './logs.js';
import { isOurs, startDaemon, stopPid, waitFor } from './processes.js';

export interface KeystoneOptions {
  /** Our directory for everything Keystone keeps (created; removed by `stop({ remove: true })`). */
  dir: string;
  exec: Exec;
  clock: Clock;
  /** Token lifetime in seconds (Keystone's [token] expiration; default 3600). */
  tokenExpiration?: number;
  /** Where the pid file goes (default: the directory itself). */
  pidDir?: string;
}

/** What a started Keystone tells its users; also written to `<dir>/keystone.json` for `lab down`. */
export interface KeystoneInfo {
  /** `http://127.0.0.1:PORT/v3`. */
  authUrl: string;
  pid: number;
  dir: string;
  adminPassword: string;
}

export interface RunningKeystone extends KeystoneInfo {
  /** The bootstrap admin's credentials (project `admin`, domain Default). */
  adminCredentials: PasswordCredentials;
  /** An admin client with a fresh admin token. */
  admin(): Promise<KeystoneAdmin>;
  stop(opts?: { remove?: boolean }): Promise<void>;
}

const BIN_MANAGE = 'keystone-manage';
const BIN_PUBLIC = 'keystone-wsgi-public';

/** keystone.conf: SQLite and keys under `dir`, fast password hashing (bcrypt's least rounds; a lab, not production). */
export function keystoneConf(dir: string, tokenExpiration: number): string {
  const d = assertWord('keystone dir', resolve(dir));
  return [
    '[DEFAULT]',
    `log_file = ${d}/keystone.log`,
    '[database]',
    `connection = sqlite:///${d}/keystone.db`,
    '[token]',
    'provider = fernet',
    `expiration = ${Math.trunc(tokenExpiration)}`,
    '[fernet_tokens]',
    `key_repository = ${d}/fernet-keys`,
    '[fernet_receipts]',
    `key_repository = ${d}/fernet-receipts`,
    '[credential]',
    `key_repository = ${d}/credential-keys`,
    '[identity]',
    'password_hash_rounds = 4',
    '',
  ].join('\n');
}

/** Sets up and starts Keystone; on failure nothing of it keeps running. */
export async function startKeystone(o: KeystoneOptions): Promise<RunningKeystone> {
  const dir = resolve(o.dir);
  for (const sub of ['fernet-keys', 'fernet-receipts', 'credential-keys'])
    mkdirSync(join(dir, sub), { recursive: true });
  const conf = join(dir, 'keystone.conf');
  writeFileSync(conf, keystoneConf(dir, o.tokenExpiration ?? 3600), { mode: 0o600 });
  const adminPassword = randomBytes(12).toString('hex');
  const user = (await o.exec('id', ['-un'])).stdout.trim();
  const group = (await o.exec('id', ['-gn'])).stdout.trim();
  const manage = (args: string[], env?: NodeJS.ProcessEnv) =>
    o.exec(BIN_MANAGE, ['--config-file', conf, ...args], { timeoutMs: 120_000, env: { ...process.env, ...env } });
  await manage(['db_sync']);
  // Keystone leaves a read open across requests now and then; in SQLite's default journal mode that
  // makes the next write fail ("database is locked"). In WAL mode readers never block a writer.
  await o.exec('/usr/bin/python3', [
    '-c',
    'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute("pragma journal_mode=wal")',
    join(dir, 'keystone.db'),
  ]);
  await manage(['fernet_setup', '--keystone-user', user, '--keystone-group', group]);
  await manage(['credential_setup', '--keystone-user', user, '--keystone-group', group]);
  await manage(['bootstrap', '--bootstrap-region-id', 'RegionOne'], { OS_BOOTSTRAP_PASSWORD: adminPassword });

  const logFile = join(dir, 'wsgi.log');
  rmSync(logFile, { force: true });
  const pid = startDaemon({
    name: 'keystone',
    cmd: BIN_PUBLIC,
    args: ['--host', '127.0.0.1', '--port', '0', '--', '--config-file', conf],
    logFile,
    pidDir: o.pidDir ?? dir,
  });
  const marker = conf;
  try {
    const port = await waitFor(
      'Keystone',
      async () => {
        if (!isOurs(pid, marker)) throw new Error(`keystone exited; its log:\n${tailLog(logFile)}`);
        const m = /Available at http:\/\/[^:/]+:(\d+)\//.exec(readFileSync(logFile, 'utf8'));
        if (!m) return undefined;
        const res = await fetch(`http://127.0.0.1:${m[1]}/v3`, { signal: AbortSignal.timeout(2000) });
        return res.ok ? Number(m[1]) : undefined;
      },
      o.clock,
      60_000,
      100,
    );
    const info: KeystoneInfo = { authUrl: `http://127.0.0.1:${port}/v3`, pid, dir, adminPassword };
    writeFileSync(join(dir, 'keystone.json'), `${JSON.stringify(info)}\n`, { mode: 0o600 });
    const running = handle(info, o.clock);
    const admin = await running.admin();
    await admin.registerService('identity', 'keystone', info.authUrl);
    await admin.ensureProject('service');
    return running;
  } catch (e) {
    await stopPid(pid, marker, o.clock);
    throw e;
  }
}

/** A handle on a Keystone started earlier (by `lab up`, from its keystone.json). */
export function handle(info: KeystoneInfo, clock: Clock): RunningKeystone {
  const adminCredentials: PasswordCredentials = {
    authUrl: info.authUrl,
    username: 'admin',
    password: info.adminPassword,
    projectName: 'admin',
  };
  return {
    ...info,
    adminCredentials,
    async admin() {
      return new KeystoneAdmin(info.authUrl, (await issueToken(adminCredentials)).token);
    },
    async stop(opts = {}) {
      await stopPid(info.pid, join(info.dir, 'keystone.conf'), clock);
      if (opts.remove) rmSync(info.dir, { recursive: true, force: true });
    },
  };
}

/** Reads `<dir>/keystone.json`, or null when no Keystone was started there. */
export function readKeystoneInfo(dir: string): KeystoneInfo | null {
  try {
    return JSON.parse(readFileSync(join(dir, 'keystone.json'), 'utf8')) as KeystoneInfo;
  } catch {
    return null;
  }
}

/** The server config's `keystone_authtoken:` section, snake_case as in the file. */
export interface KeystoneAuthtokenSection {
  www_authenticate_uri: string;
  auth_url: string;
  auth_type: 'password';
  username: string;
  password: string;
  project_name: string;
  user_domain_name: string;
  project_domain_name: string;
  token_cache_time?: number;
  negative_cache_time?: number;
  http_connect_timeout?: number;
}

/**
 * A service user (`name`, role admin in project `service`, as Neutron's install guide sets up
 * `neutron`): what a hypernet server behind this Keystone logs in as. Returns the server config's
 * `keystone_authtoken:` section.
 */
export async function serviceUser(ks: RunningKeystone, name = 'hypernet'): Promise<KeystoneAuthtokenSection> {
  const admin = await ks.admin();
  const password = randomBytes(12).toString('hex');
  const project = await admin.ensureProject('service');
  const userId = await admin.ensureUser(name, password);
  await admin.grant(project, userId, 'admin');
  return {
    www_authenticate_uri: ks.authUrl,
    auth_url: ks.authUrl,
    auth_type: 'password',
    username: name,
    password,
    project_name: 'service',
    user_domain_name: 'Default',
    project_domain_name: 'Default',
  };
}

/** A user with `role` in `project` (both created when missing): its password credentials. */
export async function projectUser(
  ks: RunningKeystone,
  project: string,
  user: string,
  role: string,
): Promise<PasswordCredentials> {
  const admin = await ks.admin();
  const password = randomBytes(12).toString('hex');
  const projectId = await admin.ensureProject(project);
  const userId = await admin.ensureUser(user, password);
  await admin.grant(projectId, userId, role);
  return { authUrl: ks.authUrl, username: user, password, projectName: project };
}

/** Puts hypernet's API into the catalog as the `network` service (what clients look up). */
export async function registerNetworkEndpoint(ks: RunningKeystone, url: string): Promise<void> {
  await (await ks.admin()).registerService('network', 'neutron', url);
}

/** A clouds.yaml with one cloud per entry (password auth, region RegionOne), for the stock `openstack` CLI. */
export function cloudsYaml(clouds: Record<string, PasswordCredentials>): string {
  const out: Record<string, unknown> = {};
  for (const [name, c] of Object.entries(clouds)) {
    out[assertWord('cloud name', name)] = {
      auth: {
        auth_url: assertWord('auth_url', c.authUrl),
        username: assertWord('username', c.username),
        password: assertWord('password', c.password),
        project_name: assertWord('project name', c.projectName),
        user_domain_name: assertWord('user domain', c.userDomainName ?? 'Default'),
        project_domain_name: assertWord('project domain', c.projectDomainName ?? 'Default'),
      },
      auth_type: 'password',
      region_name: 'RegionOne',
      identity_api_version: 3,
    };
  }
  return stringifyYaml({ clouds: out });
}
