/**
 * Neutron's own API tests (neutron-tempest-plugin's `neutron_tempest_plugin.api`) against hypernet:
 * a private Keystone (src/lab/keystone.ts), the real `hypernet server --auth keystone` in the catalog
 * as `network`, a tempest workspace whose tempest.conf lists exactly the extensions
 * `/v2.0/extensions` lists, then `tempest run`. Prints the totals, every skip with its reason and
 * the most frequent failure messages; exits 1 on any failure. Run by scripts/tempest.sh
 * (`npm run test:tempest`) and test/server/tempest.test.ts (`npm test`); `--regex R` narrows the run,
 * `--keep` keeps the work directory, `--summary FILE` writes the summary as JSON.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { ApiClient } from '../src/client/api.js';
import { issueToken } from '../src/client/keystone.js';
import { realClock } from '../src/common/clock.js';
import { realExec } from '../src/common/exec.js';
import { assertWord } from '../src/model/grammar/words.js';
import { registerNetworkEndpoint, serviceUser, startKeystone, type RunningKeystone } from '../src/lab/keystone.js';
import { HYPERNET_BIN, isOurs, startDaemon, stopPid, waitFor } from '../src/lab/processes.js';
import { summarize } from './tempest-summary.js';
import { startTempestAgents, type TempestAgents } from './tempest-agents.js';

const DEFAULT_REGEX = '^neutron_tempest_plugin\\.api';
const CONCURRENCY = 2;
/** Namespaces of the run's agents (one run at a time: tempest itself is not made for two at once). */
const NETNS_PREFIX = 'hnA-tempest-';

interface Args {
  regex: string;
  keep: boolean;
  /** Where to write the summary as JSON (test/server/tempest.test.ts reads it). */
  summary?: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { regex: DEFAULT_REGEX, keep: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--regex') a.regex = argv[++i];
    else if (argv[i] === '--keep') a.keep = true;
    else if (argv[i] === '--summary') a.summary = argv[++i];
    else throw new Error(`unknown argument ${argv[i]} (--regex R, --keep, --summary FILE)`);
  }
  return a;
}

/** tempest.conf: Keystone v3 with dynamic credentials, only Neutron available, our extensions listed. */
function tempestConf(o: {
  authUrl: string;
  adminPassword: string;
  extensions: string[];
  logDir: string;
  publicNetwork: { id: string; name: string };
}): string {
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
    `public_network_id = ${assertWord('public network id', o.publicNetwork.id)}`,
    `floating_network_name = ${assertWord('public network name', o.publicNetwork.name)}`,
    '[network-feature-enabled]',
    `api_extensions = ${ext}`,
    'ipv6 = true',
    'ipv6_subnet_attributes = true',
    '[neutron_plugin_options]',
    'available_type_drivers = vxlan',
    '',
  ].join('\n');
}

interface Server {
  url: string;
  pid: number;
  /** Unix socket and static admin token the agents use (they never ask Keystone). */
  socket: string;
  agentToken: string;
}

/** Starts `hypernet server --auth keystone` (port chosen by the kernel, read from its first line). */
async function startServer(dir: string, ks: RunningKeystone): Promise<Server> {
  const section = await serviceUser(ks);
  const config = join(dir, 'server.yaml');
  writeFileSync(config, stringifyYaml({ keystone_authtoken: section }), { mode: 0o600 });
  const agentToken = randomBytes(24).toString('hex');
  const tokens = join(dir, 'tokens.json');
  writeFileSync(tokens, JSON.stringify({ [agentToken]: { project_id: 'service', roles: ['admin'] } }), { mode: 0o600 });
  const socket = join(dir, 'server.sock');
  const logFile = join(dir, 'server.log');
  const flags = {
    '--port': '0',
    '--data-dir': join(dir, 'data'),
    '--auth': 'keystone',
    '--config': config,
    '--tokens-file': tokens,
    '--unix-socket': socket,
  };
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
  return { url, pid, socket, agentToken };
}

/**
 * The external network router gateways and floating IPs come from, as a cloud's admin makes it: a
 * `router:external` network in one cloud (`hypernet:cloud`) with a subnet of documentation addresses.
 */
async function createPublicNetwork(url: string, token: string): Promise<{ id: string; name: string }> {
  const api = new ApiClient({ url, token });
  const name = 'public';
  const { network } = await api.call<{ network: { id: string } }>('POST', '/v2.0/networks', {
    network: { name, 'router:external': true, 'hypernet:cloud': 'tempest-cloud' },
  });
  await api.call('POST', '/v2.0/subnets', {
    subnet: { name: 'public-v4', network_id: network.id, ip_version: 4, cidr: '203.0.113.0/24', enable_dhcp: false },
  });
  return { id: network.id, name };
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
  let server: Server | undefined;
  let agents: TempestAgents | undefined;
  try {
    console.log(`tempest: work directory ${dir}`);
    ks = await startKeystone({ dir: join(dir, 'keystone'), exec: realExec, clock: realClock });
    server = await startServer(dir, ks);
    const s = server;
    await registerNetworkEndpoint(ks, s.url);
    agents = await startTempestAgents({
      dir,
      socket: s.socket,
      token: s.agentToken,
      netnsPrefix: NETNS_PREFIX,
      exec: realExec,
      clock: realClock,
    });
    const admin = await issueToken(ks.adminCredentials);
    const extensions = await extensionsOf(s.url, admin.token);
    console.log(`tempest: keystone ${ks.authUrl}, hypernet ${s.url}, extensions: ${extensions.join(', ')}`);
    const publicNetwork = await createPublicNetwork(s.url, admin.token);
    const ws = join(dir, 'workspace');
    // Its own workspace registry, so nothing lands in ~/.tempest (a second run would clash there).
    const registry = ['--workspace-path', join(dir, 'workspaces.yaml')];
    await realExec('tempest', ['init', ...registry, '--name', 'hypernet', ws], { timeoutMs: 60_000 });
    writeFileSync(
      join(ws, 'etc', 'tempest.conf'),
      tempestConf({
        authUrl: ks.authUrl,
        adminPassword: ks.adminPassword,
        extensions,
        logDir: join(ws, 'logs'),
        publicNetwork,
      }),
    );
    const r = await run(
      'tempest',
      ['run', '--regex', args.regex, '--concurrency', String(CONCURRENCY)],
      ws,
      join(dir, 'tempest-run.log'),
    );
    const sum = summarize(r.out);
    if (args.summary) writeFileSync(args.summary, JSON.stringify({ ...sum, exitCode: r.code }, null, 2));
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
    await agents?.stop();
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
