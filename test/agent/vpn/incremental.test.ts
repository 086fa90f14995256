/**
 * Incremental equals recompute for the agentless VPN through its real driver (OpenVpnServers): after
 * any sequence of configurations (ports served or not, a listen port or MTU changed, the server
 * certificate and CRL renewed, a server that died), syncing each one leaves what a fresh start (an
 * empty directory, no links, nothing running) leaves after syncing only the last: the files on disk,
 * which config each running server was started with, and the port links.
 * Side effects are injected: a fake Exec keeps the links and tc redirects in memory (refusing any
 * command it does not know, so a new one in the driver is noticed) and starts, for `openvpn`, a
 * harmless child of this test (`sh` blocked on a read, named like openvpn and given the port's
 * directory, so the driver's pid-file and /proc checks and its signals act on it as on openvpn).
 * No root needed: files go to a temporary directory.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { compileVpnSpecs } from '../../../src/agent/vpn/compile.js';
import { OpenVpnServers } from '../../../src/agent/vpn/driver.js';
import type { Clock } from '../../../src/common/clock.js';
import { ExecError, type Exec, type ExecResult } from '../../../src/common/exec.js';
import { silentLogger } from '../../../src/common/log.js';
import type { VpnAgentConfig } from '../../../src/model/agentless.js';
import { net, port, view } from '../../../testkit/model-fixtures.js';

const ID = (i: number) => `0000000${i}-aaaa-4000-8000-00000000000${i}`;
/** A port's entry; `alt` 1 moves its listen port, 2 its MTU (both change the server's config). */
const entry = (i: number, alt: number) => ({
  port_id: ID(i),
  provider_ip: `198.51.100.${10 + i}`,
  mac_address: `fa:16:3e:00:00:0${i}`,
  listen_ip: '203.0.113.5',
  listen_port: alt === 1 ? 2000 + i : 1194 + i,
  mtu: alt === 2 ? 1400 : 1450,
  underlay_mtu: 1500,
});
/** Ports 1–5 bound to this hyperswitch; 6 elsewhere (listed by the server, never served here). */
const model = view({
  networks: [net('n1', 100)],
  ports: [1, 2, 3, 4, 5, 6].map((i) => port(ID(i), 'n1', i === 6 ? 'hs2' : 'hs1', `fa:16:3e:00:00:0${i}`, [])),
});

interface Link {
  kind: 'tun' | 'veth';
  mtu: number;
  up: boolean;
  master: string | null;
  peer: string | null;
}

/** One fake openvpn: our child process and the config it was started with. */
interface Server {
  child: ChildProcess;
  dir: string;
  conf: string;
  exited: Promise<void>;
}
const servers = new Map<number, Server>();
/** Kills a fake server (a crash, or the end of a run) and waits until it is gone. */
async function kill(pid: number): Promise<void> {
  const s = servers.get(pid);
  if (!s) return;
  if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
  await s.exited;
  servers.delete(pid);
}
after(async () => {
  for (const pid of [...servers.keys()]) await kill(pid);
});

/** The links, redirects and tuning of one hyperswitch namespace, and the commands that changed them. */
class FakeHost {
  links = new Map<string, Link>();
  clsact = new Set<string>();
  redirects = new Map<string, string>();
  tuning = new Set<string>();
  changes: string[] = [];

  readonly exec: Exec = async (cmd, args, opts = {}) => {
    const r = await this.run(cmd, [...args]);
    if (r.code !== 0 && !opts.allowFail) throw new ExecError(cmd, args, r);
    return r;
  };

  private async run(cmd: string, a: string[]): Promise<ExecResult> {
    const ok = (stdout = ''): ExecResult => ({ stdout, stderr: '', code: 0 });
    const fail = (stderr: string): ExecResult => ({ stdout: '', stderr, code: 1 });
    const line = [cmd, ...a].join(' ');
    const read = cmd === 'ip' && a[0] === '-d' ? true : cmd === 'tc' && a[0] === '-json';
    if (!read) this.changes.push(line);
    const at = (word: string) => a[a.indexOf(word) + 1]!;
    if (cmd === 'ip' && a.join(' ') === '-d -json link show') return ok(this.show([...this.links.keys()]));
    if (cmd === 'ip' && a.slice(0, 5).join(' ') === '-d -json link show dev') {
      return this.links.has(a[5]!) ? ok(this.show([a[5]!])) : fail(`Device "${a[5]}" does not exist.`);
    }
    if (cmd === 'ip' && a.slice(0, 3).join(' ') === 'link del dev') {
      const l = this.links.get(a[3]!);
      if (!l) return fail('Cannot find device');
      for (const n of [a[3]!, l.peer]) {
        if (!n) continue;
        this.links.delete(n);
        this.clsact.delete(n);
        this.redirects.delete(n);
        for (const f of this.tuning) if (f.startsWith(`${n} `)) this.tuning.delete(f);
      }
      return ok();
    }
    if (cmd === 'ip' && a[0] === 'tuntap' && a[1] === 'add') {
      if (this.links.has(at('dev'))) return fail('File exists');
      this.links.set(at('dev'), { kind: 'tun', mtu: 1500, up: false, master: null, peer: null });
      return ok();
    }
    if (cmd === 'ip' && a[0] === 'link' && a[1] === 'add' && a.includes('veth')) {
      const [name, peer] = [a[2]!, at('name')];
      if (this.links.has(name) || this.links.has(peer)) return fail('File exists');
      this.links.set(name, { kind: 'veth', mtu: Number(at('mtu')), up: false, master: null, peer });
      this.links.set(peer, { kind: 'veth', mtu: Number(a[a.length - 1]), up: false, master: null, peer: name });
      return ok();
    }
    if (cmd === 'ip' && a.slice(0, 3).join(' ') === 'link set dev') {
      const l = this.links.get(a[3]!);
      if (!l) return fail('Cannot find device');
      if (a.includes('mtu')) l.mtu = Number(at('mtu'));
      if (a.includes('master')) l.master = at('master');
      if (a.includes('up')) l.up = true;
      return ok();
    }
    if (cmd === 'tc' && a[0] === '-json') {
      const to = this.redirects.get(at('dev'));
      if (!this.links.has(at('dev'))) return fail('Cannot find device');
      const filter = {
        options: { actions: [{ kind: 'mirred', mirred_action: 'redirect', direction: 'egress', to_dev: to }] },
      };
      return ok(JSON.stringify(to ? [filter] : []));
    }
    if (cmd === 'tc' && a.slice(0, 2).join(' ') === 'qdisc replace' && a.includes('clsact')) {
      if (!this.links.has(at('dev'))) return fail('Cannot find device');
      this.clsact.add(at('dev'));
      return ok();
    }
    if (cmd === 'tc' && a.slice(0, 2).join(' ') === 'filter del') {
      this.redirects.delete(at('dev'));
      return ok();
    }
    if (cmd === 'tc' && a.slice(0, 2).join(' ') === 'filter add' && a.includes('redirect')) {
      if (!this.clsact.has(at('dev'))) return fail('no clsact qdisc');
      this.redirects.set(at('dev'), a[a.length - 1]!);
      return ok();
    }
    if (cmd === 'ethtool' && a[0] === '-K') {
      this.tuning.add(`${a[1]} ${a[2]} ${a[3]}`);
      return ok();
    }
    if (cmd === 'unshare') {
      // netSysfsWrite: … sh -c SCRIPT sh DEV ATTR VALUE
      this.tuning.add(`${a[a.length - 3]} ${a[a.length - 2]}`);
      return ok();
    }
    if (cmd.endsWith('openvpn')) return ok(await this.startServer(a));
    throw new Error(`fake exec: unexpected command: ${line}`);
  }

  private show(names: string[]): string {
    return JSON.stringify(
      names.map((ifname) => {
        const l = this.links.get(ifname)!;
        return { ifname, mtu: l.mtu, flags: l.up ? ['UP'] : [], master: l.master, linkinfo: { info_kind: l.kind } };
      }),
    );
  }

  /** `openvpn --daemon … --writepid F --cd DIR --config server.conf`: a child named openvpn, given DIR. */
  private async startServer(a: string[]): Promise<string> {
    const dir = a[a.indexOf('--cd') + 1]!;
    const conf = await readFile(join(dir, a[a.indexOf('--config') + 1]!), 'utf8');
    const child = spawn('sh', ['-c', 'read -r _', 'fake', dir], {
      argv0: 'fake-openvpn',
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    servers.set(child.pid!, { child, dir, conf, exited });
    await writeFile(a[a.indexOf('--writepid') + 1]!, `${child.pid}\n`);
    return '';
  }
}

/** What a pid file names: the config its server was started with while it lives (a process that
 * exited has no command line, as the driver sees it), else 'not running'. */
async function runningConf(pid: number): Promise<string> {
  const s = servers.get(pid);
  const alive = !!(await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => ''));
  return s && alive ? `runs: ${s.conf}` : 'not running';
}

/** The driver's waits between checks, short: the fake servers start and stop at once. */
const quickClock: Clock = { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 2))) };

/**
 * What the driver manages, as data: every file under its directory (a pid file's content replaced
 * by the config its live server was started with), the servers of ours alive, and the links with their
 * redirects and tuning.
 * The port interface's MTU is left out: once the pair is made it is the agent's (datapath) to set.
 */
async function snapshot(dir: string, host: FakeHost) {
  const files: Record<string, string> = {};
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
      const path = join(rel, e.name);
      if (e.isDirectory()) await walk(path);
      else {
        const text = await readFile(join(dir, path), 'utf8');
        files[path] = e.name === 'openvpn.pid' ? await runningConf(Number(text)) : text;
      }
    }
  };
  await walk('');
  const links = [...host.links]
    .map(([name, l]) => [name, { ...l, mtu: name.startsWith('tap') ? null : l.mtu }] as const)
    .sort(([a], [b]) => (a < b ? -1 : 1));
  // Every server of ours still alive, by directory: one the driver lost track of shows here.
  const live: string[] = [];
  for (const [pid, sv] of servers)
    if (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')) live.push(sv.dir);
  return {
    files,
    live: live.map((d) => d.slice(dir.length)).sort(),
    links,
    clsact: [...host.clsact].sort(),
    redirects: [...host.redirects].sort(),
    tuning: [...host.tuning].sort(),
  };
}

const stepArb = fc.record({
  /** Ports the server lists for this hyperswitch, each with a variant of its entry (see `entry`). */
  ports: fc.array(fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 2 })), { maxLength: 6 }),
  cert: fc.constantFrom('cert-1', 'cert-2'),
  crl: fc.constantFrom('crl-1', 'crl-2'),
  /** A port whose server dies before this step. */
  crash: fc.option(fc.integer({ min: 1, max: 5 })),
});
type Step = typeof stepArb extends fc.Arbitrary<infer T> ? T : never;

const cfgOf = (s: Step): VpnAgentConfig => ({
  hyperswitch_id: 'hs1',
  ca_pem: 'ca',
  cert_pem: s.cert,
  key_pem: 'key',
  crl_pem: s.crl,
  ports: [...new Map(s.ports.map(([i, alt]) => [i, entry(i, alt)])).values()],
});

/** One agent pass of the driver: credentials (as the reconciler writes them), then sync. */
async function pass(drv: OpenVpnServers, s: Step): Promise<void> {
  const cfg = cfgOf(s);
  await drv.setCredentials({ caPem: cfg.ca_pem, certPem: cfg.cert_pem, keyPem: cfg.key_pem, crlPem: cfg.crl_pem });
  await drv.sync(compileVpnSpecs(cfg, model, 'hs1'));
}

test('vpn: incremental equals recompute through the driver over random sequences of configurations', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'hn-vpninc-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const dir = join(root, 'hs');
  let started = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 6 }), async (steps) => {
      const driverOn = (host: FakeHost) =>
        new OpenVpnServers({ exec: host.exec, log: silentLogger(), dir, clock: quickClock });
      const stopAll = async () => {
        for (const pid of [...servers.keys()]) await kill(pid);
        await rm(dir, { recursive: true, force: true });
      };
      await stopAll();
      const host = new FakeHost();
      const drv = driverOn(host);
      for (const s of steps) {
        if (s.crash)
          await kill(Number(await readFile(join(dir, 'ports', ID(s.crash), 'openvpn.pid'), 'utf8').catch(() => 0)));
        await pass(drv, s);
        started += servers.size;
        // Converged: a second pass changes nothing (no link command, no server started or stopped).
        const before = await snapshot(dir, host);
        host.changes = [];
        await pass(drv, s);
        assert.deepEqual(host.changes, [], 'a second pass runs no command that changes anything');
        assert.deepEqual(await snapshot(dir, host), before);
      }
      const incremental = await snapshot(dir, host);
      await stopAll();
      const freshHost = new FakeHost();
      await pass(driverOn(freshHost), steps.at(-1)!);
      assert.deepEqual(incremental, await snapshot(dir, freshHost));
    }),
    { numRuns: 100, includeErrorInReport: true },
  );
  assert.ok(started > 0, 'the sequences did run servers');
});
