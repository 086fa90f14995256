/**
 * Neutron's own API tests (neutron-tempest-plugin's `neutron_tempest_plugin.api`) against hypernet:
 * a private Keystone (src/lab/keystone.ts), the real `hypernet server --auth keystone` in the catalog
 * as `network`, a tempest workspace whose tempest.conf lists exactly the extensions
 * `/v2.0/extensions` lists, then `tempest run`. Prints the totals, every skip with its reason and
 * the most frequent failure messages; exits 1 on any failure. Run by scripts/tempest.sh
 * (`npm run test:tempest`); `--regex R` narrows the run, `--keep` keeps the work directory.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { issueToken } from '../src/client/keystone.js';
import { realClock } from '../src/common/clock.js';
import { realExec } from '../src/common/exec.js';
import { assertWord } from '../src/model/grammar/words.js';
import { registerNetworkEndpoint, serviceUser, startKeystone, type RunningKeystone } from '../src/lab/keystone.js';
import { HYPERNET_BIN, isOurs, startDaemon, stopPid, waitFor } from '../src/lab/processes.js';
import { summarize } from './tempest-summary.js';

const DEFAULT_REGEX = '^neutron_tempest_plugin\\.api';
const CONCURRENCY = 2;

interface Args {
  regex: string;
  keep: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { regex: DEFAULT_REGEX, keep: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--regex') a.regex = argv[++i];
    else if (argv[i] === '--keep') a.keep = true;
    else throw new Error(`unknown argument ${argv[i]} (--regex R, --keep)`);
  }
  return a;
}

/** tempest.conf: Keystone v3 with dynamic credentials, only Neutron available, our extensions listed. */
function tempestConf(o: { authUrl: string; adminPassword: string; extensions: string[]; logDir: string }): string {
  const ext = o.extensions.map((e) => assertWord('extension alias', e)).join(',');
  return [
    '[DEFAULT]',
    `log_dir = ${assertWord('log dir', o.logDir)}`,
    'log_file = tempest.log',
    '[auth]',
    'use_dynamic_credentials = true',
    'create_isolated_networks = false',
    'admin_username = admin',
    `admin_password = ${assertWord('admin password', o.adminPassword)}`,
    'admin_project_name = admin',
    'admin_domain_name = Default',
    '[identity]',
    `uri_v3 = ${assertWord('auth url', o.authUrl)}`,
    'auth_version = v3',
    'region = RegionOne',
    '[identity-feature-enabled]',
    'api_v2 = false',
    '[service_available]',
    'neutron = true',
    'nova = false',
    'glance = false',
    'cinder = false',
    'swift = false',
    'heat = false',
    '[network]',
    'project_network_cidr = 10.100.0.0/16',
    'project_network_mask_bits = 28',
    '[network-feature-enabled]',
    `api_extensions = ${ext}`,
    'ipv6 = true',
    'ipv6_subnet_attributes = true',
    '[neutron_plugin_options]',
    'available_type_drivers = vxlan',
    '',
  ].join('\n');
}

/** Starts `hypernet server --auth keystone` (port chosen by the kernel, read from its first line). */
async function startServer(dir: string, ks: RunningKeystone): Promise<{ url: string; pid: number }> {
  const section = await serviceUser(ks);
  const config = join(dir, 'server.yaml');
  writeFileSync(config, stringifyYaml({ keystone_authtoken: section }), { mode: 0o600 });
  const logFile = join(dir, 'server.log');
  const flags = { '--port': '0', '--data-dir': join(dir, 'data'), '--auth': 'keystone', '--config': config };
  const pid = startDaemon({
    name: 'server',
    cmd: process.execPath,
    args: [HYPERNET_BIN, 'server', ...Object.entries(flags).flat()],
    logFile,
    pidDir: dir,
  });
  const url = await waitFor(
    'the hypernet server',
    async () => {
      if (!isOurs(pid, dir)) throw new Error(`server exited: ${readFileSync(logFile, 'utf8')}`);
      return /listening on (http:\/\/\S+)/.exec(readFileSync(logFile, 'utf8'))?.[1];
    },
    realClock,
    30_000,
  );
  return { url, pid };
}

/** The aliases the server lists in `/v2.0/extensions`. */
async function extensionsOf(url: string, token: string): Promise<string[]> {
  const res = await fetch(`${url}/v2.0/extensions`, { headers: { 'x-auth-token': token } });
  if (!res.ok) throw new Error(`GET /v2.0/extensions: HTTP ${res.status}`);
  return ((await res.json()) as { extensions: { alias: string }[] }).extensions.map((e) => e.alias);
}

/** Runs a program with its output both shown and kept. */
function run(cmd: string, args: string[], cwd: string, logFile: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const take = (d: Buffer) => {
      out += d;
      process.stdout.write(d);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', reject);
    child.on('close', (code) => {
      writeFileSync(logFile, out);
      resolve({ code: code ?? -1, out });
    });
  });
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'hn-tempest-'));
  let ks: RunningKeystone | undefined;
  let server: { pid: number } | undefined;
  try {
    console.log(`tempest: work directory ${dir}`);
    ks = await startKeystone({ dir: join(dir, 'keystone'), exec: realExec, clock: realClock });
    server = await startServer(dir, ks);
    const s = server as { url: string; pid: number };
    await registerNetworkEndpoint(ks, s.url);
    const admin = await issueToken(ks.adminCredentials);
    const extensions = await extensionsOf(s.url, admin.token);
    console.log(`tempest: keystone ${ks.authUrl}, hypernet ${s.url}, extensions: ${extensions.join(', ')}`);
    const ws = join(dir, 'workspace');
    // Its own workspace registry, so nothing lands in ~/.tempest (a second run would clash there).
    const registry = ['--workspace-path', join(dir, 'workspaces.yaml')];
    await realExec('tempest', ['init', ...registry, '--name', 'hypernet', ws], { timeoutMs: 60_000 });
    writeFileSync(
      join(ws, 'etc', 'tempest.conf'),
      tempestConf({ authUrl: ks.authUrl, adminPassword: ks.adminPassword, extensions, logDir: join(ws, 'logs') }),
    );
    const r = await run(
      'tempest',
      ['run', '--regex', args.regex, '--concurrency', String(CONCURRENCY)],
      ws,
      join(dir, 'tempest-run.log'),
    );
    const sum = summarize(r.out);
    console.log('\n==== hypernet: neutron_tempest_plugin totals ====');
    console.log(sum.totals);
    console.log(`\nskipped (${sum.skips.length}):`);
    for (const k of sum.skips) console.log(`  ${k.test}: ${k.reason}`);
    console.log(`\nfailed (${sum.failed.length}):`);
    for (const f of sum.failed) console.log(`  ${f}`);
    console.log('\nmost frequent failure messages:');
    for (const [msg, n] of sum.causes) console.log(`  ${n} × ${msg}`);
    return r.code === 0 && sum.failed.length === 0 ? 0 : 1;
  } finally {
    if (server) await stopPid(server.pid, dir, realClock);
    await ks?.stop();
    if (args.keep) console.log(`tempest: kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`tempest: ${(e as Error).stack ?? e}`);
    process.exit(1);
  },
);
