/**
 * Runs the per-agentless-port OpenVPN servers of one hyperswitch (see ./server-config.ts for the
 * design). Level-triggered: `sync(specs)` makes the running set equal to `specs` (compile.ts gives
 * the configs, diff.ts decides: start missing, restart changed, stop the rest); `ensure`/`remove` do
 * it for one port. Each server gets a
 * directory `DIR/ports/<port id>/` (config, pid file, log; the management socket is in DIR/mgmt/) and
 * persistent links that survive restarts, so the port's bridge membership and firewall stay put:
 * OpenVPN's TAP `vpn<port id[0:11]>`, joined to the port interface `tap<port id[0:11]>` through a veth
 * pair with GRO (./port-links.ts).
 * Only PIDs read from our own pid files, whose command line names our directory, are ever signalled.
 * Shared by all servers in DIR: ca.crt, server.crt, server.key, crl.pem (re-read by OpenVPN at each
 * handshake, so `setCrl` takes effect for new connections at once), admit.sh.
 */
import { readFile, readdir, rm, mkdir, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../common/clock.js';
import { realClock } from '../../common/clock.js';
import { inNetns, type Exec } from '../../common/exec.js';
import type { Logger } from '../../common/log.js';
import { writeFileAtomic } from '../../common/files.js';
import { assertWord } from '../../model/grammar/words.js';
import { managementCommand, parseStatus, type VpnClient } from './management.js';
import type { ActualLink } from '../datapath/types.js';
import { ensurePortLinks, listLinks, removePortLinks } from './port-links.js';
import { ADMISSION_HOOK, fingerprint, tapName, type VpnServerFiles, type VpnServerSpec } from './server-config.js';
import { compileVpnConfigs } from './compile.js';
import { diffVpn, type VpnAction, type VpnActual } from './diff.js';

export interface VpnDriverOptions {
  exec: Exec;
  log: Logger;
  /** Directory owned by this driver (absolute, no whitespace). */
  dir: string;
  /** Network namespace the servers and TAPs live in (the lab's hyperswitch); host when absent. */
  netns?: string;
  clock?: Clock;
  openvpnBin?: string;
}

/** The hyperswitch's server identity and the current CRL, from the CA. */
export interface ServerCredentials {
  caPem: string;
  certPem: string;
  keyPem: string;
  crlPem: string;
}

export interface EnsureOptions {
  /** Enslave the port interface to this bridge (otherwise the agent does it, as for any `tap…` port). */
  bridge?: string;
}

interface EnsureContext extends EnsureOptions {
  /** The namespace's links, read once by `sync` for all its ports. */
  links?: Map<string, ActualLink>;
}

export type EnsureResult = 'started' | 'restarted' | 'unchanged';

export class OpenVpnServers {
  private readonly exec: Exec;
  private readonly clock: Clock;
  private certFingerprint = '';

  constructor(private readonly opts: VpnDriverOptions) {
    assertWord('dir', opts.dir);
    this.exec = inNetns(opts.exec, opts.netns);
    this.clock = opts.clock ?? realClock;
  }

  private shared(): Omit<VpnServerFiles, 'management'> {
    const d = this.opts.dir;
    return {
      ca: join(d, 'ca.crt'),
      cert: join(d, 'server.crt'),
      key: join(d, 'server.key'),
      crl: join(d, 'crl.pem'),
      hook: join(d, 'admit.sh'),
    };
  }

  private portDir(portId: string): string {
    return join(this.opts.dir, 'ports', assertWord('portId', portId));
  }

  /**
   * The management socket of a port's server: `DIR/mgmt/tap<id[0:11]>.sock`, short because a Unix
   * socket path is at most 107 bytes (OpenVPN silently truncates a longer one).
   */
  private mgmtSocket(portId: string): string {
    const path = join(this.opts.dir, 'mgmt', `${tapName(portId)}.sock`);
    if (Buffer.byteLength(path) > 107)
      throw new Error(`openvpn management socket path too long (${path}): use a shorter driver dir`);
    return path;
  }

  /** Writes the shared files. A new server certificate makes the next `ensure` restart each server. */
  async setCredentials(c: ServerCredentials): Promise<void> {
    const f = this.shared();
    // Parents with the default mode (other daemons, e.g. dnsmasq as nobody, read siblings), ours 0700.
    await mkdir(this.opts.dir, { recursive: true });
    await mkdir(join(this.opts.dir, 'ports'), { recursive: true, mode: 0o700 });
    await writeFileAtomic(f.ca, c.caPem, 0o644);
    await writeFileAtomic(f.cert, c.certPem, 0o644);
    await writeFileAtomic(f.key, c.keyPem);
    await writeFileAtomic(f.hook, ADMISSION_HOOK, 0o755);
    await chmod(f.hook, 0o755);
    await this.setCrl(c.crlPem);
    this.certFingerprint = fingerprint(c.certPem);
  }

  /** Replaces the CRL; new handshakes see it at once (drop connected clients with `dropClient`). */
  async setCrl(crlPem: string): Promise<void> {
    await writeFileAtomic(this.shared().crl, crlPem, 0o644);
  }

  /** The files a port's server config points at. */
  private files(portId: string): VpnServerFiles {
    return { ...this.shared(), management: this.mgmtSocket(portId) };
  }

  /** The config text of one port's server (throws on a spec that cannot be written safely). */
  private configOf(spec: VpnServerSpec): string {
    if (!this.certFingerprint) throw new Error('setCredentials() first');
    return compileVpnConfigs([spec], (id) => this.files(id), this.certFingerprint).get(spec.portId)!;
  }

  /** What runs for a port now: its config on disk and our process, if any. */
  private async actual(portId: string): Promise<VpnActual & { pid?: number }> {
    const conf = await readFile(join(this.portDir(portId), 'server.conf'), 'utf8').catch(() => '');
    const pid = await this.pidOf(portId);
    return { conf, running: pid !== undefined, pid };
  }

  /** Makes the server of one port run with exactly this spec. */
  async ensure(spec: VpnServerSpec, options: EnsureContext = {}): Promise<EnsureResult> {
    const conf = this.configOf(spec);
    const have = await this.actual(spec.portId);
    const [op] = diffVpn(new Map([[spec.portId, conf]]), new Map([[spec.portId, have]]));
    return this.apply(spec, conf, op!.action, have.pid, options);
  }

  /** Carries out diff.ts's action for a wanted port. */
  private async apply(
    spec: VpnServerSpec,
    conf: string,
    action: VpnAction,
    pid: number | undefined,
    options: EnsureContext,
  ): Promise<EnsureResult> {
    const dir = this.portDir(spec.portId);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await mkdir(join(this.opts.dir, 'mgmt'), { recursive: true, mode: 0o700 });
    // A changed config may name another TAP (an older layout): stop the server before its links change.
    if (action === 'restart' && pid) await this.stop(spec.portId, pid);
    await ensurePortLinks(this.exec, this.opts.log, spec.portId, spec.mtu, options.bridge, options.links);
    if (action === 'keep') return 'unchanged';
    await writeFileAtomic(join(dir, 'server.conf'), conf);
    await this.start(spec.portId);
    const restarted = action === 'restart';
    this.opts.log.info(
      { portId: spec.portId, port: spec.listenPort },
      restarted ? 'openvpn restarted' : 'openvpn started',
    );
    return restarted ? 'restarted' : 'started';
  }

  /** Stops a port's server, deletes its links and its directory. */
  async remove(portId: string): Promise<void> {
    const pid = await this.pidOf(portId);
    if (pid) await this.stop(portId, pid);
    await removePortLinks(this.exec, portId);
    await rm(this.portDir(portId), { recursive: true, force: true });
    await rm(join(this.opts.dir, 'mgmt', `${tapName(portId)}.sock`), { force: true });
    this.opts.log.info({ portId }, 'openvpn removed');
  }

  /** Port ids that have a directory here (running or not). */
  async ports(): Promise<string[]> {
    const entries = await readdir(join(this.opts.dir, 'ports'), { withFileTypes: true }).catch(() => []);
    return entries.filter((e) => e.isDirectory()).map((e) => e.name);
  }

  /** Level-triggered: servers for exactly `specs`; every other port of this driver is removed. */
  async sync(specs: readonly VpnServerSpec[], options: EnsureOptions = {}): Promise<void> {
    const errors: Error[] = [];
    const links = specs.length ? await listLinks(this.exec) : undefined;
    const want = new Map<string, string>();
    const byId = new Map<string, VpnServerSpec>();
    for (const spec of specs) {
      byId.set(spec.portId, spec);
      try {
        want.set(spec.portId, this.configOf(spec));
      } catch (e) {
        errors.push(e as Error); // left as it is: neither (re)started nor removed
      }
    }
    const have = new Map<string, VpnActual & { pid?: number }>();
    for (const p of new Set([...want.keys(), ...(await this.ports())]))
      if (want.has(p) || !byId.has(p)) have.set(p, await this.actual(p));
    for (const op of diffVpn(want, have)) {
      const done =
        op.action === 'remove'
          ? this.remove(op.portId)
          : this.apply(byId.get(op.portId)!, want.get(op.portId)!, op.action, have.get(op.portId)?.pid, {
              ...options,
              links,
            });
      await done.catch((e: Error) => errors.push(e));
    }
    if (errors.length) throw new AggregateError(errors, `openvpn sync: ${errors.map((e) => e.message).join('; ')}`);
  }

  /** The live PID of a port's server, only if it is our openvpn (its command line names our dir). */
  async pidOf(portId: string): Promise<number | undefined> {
    const dir = this.portDir(portId);
    const pid = Number((await readFile(join(dir, 'openvpn.pid'), 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    const argv = cmdline.split('\0');
    return argv.some((a) => a.endsWith('openvpn')) && argv.includes(dir) ? pid : undefined;
  }

  /** Clients connected to a port's server (at most one passes admission). */
  async clients(portId: string): Promise<VpnClient[]> {
    return parseStatus(await managementCommand(this.mgmtSocket(portId), 'status 2'));
  }

  /**
   * Drops the connected clients of a port's server at once (`client-kill`): they are told RESTART
   * and reconnect, so a revoked certificate (after `setCrl`) is refused at the new handshake;
   * `halt` tells the client to exit instead. Returns how many clients were dropped.
   */
  async dropClient(portId: string, options: { halt?: boolean } = {}): Promise<number> {
    const sock = this.mgmtSocket(portId);
    let n = 0;
    for (const c of parseStatus(await managementCommand(sock, 'status 2'))) {
      const reply = await managementCommand(
        sock,
        `client-kill ${assertWord('clientId', c.clientId)}${options.halt ? ' HALT' : ''}`,
      );
      if (reply.some((l) => l.startsWith('SUCCESS:'))) n++;
    }
    return n;
  }

  /** Stops every server of this driver (TAPs and directories stay: `remove` or `sync([])` clean up). */
  async stopAll(): Promise<void> {
    for (const p of await this.ports()) {
      const pid = await this.pidOf(p);
      if (pid) await this.stop(p, pid);
    }
  }

  private async start(portId: string): Promise<void> {
    const dir = this.portDir(portId);
    await rm(join(dir, 'openvpn.pid'), { force: true });
    const bin = this.opts.openvpnBin ?? 'openvpn';
    const args = [
      '--daemon',
      `hypernet-vpn-${portId.slice(0, 11)}`,
      '--writepid',
      join(dir, 'openvpn.pid'),
      '--log-append',
      join(dir, 'openvpn.log'),
      '--cd',
      dir,
      '--config',
      'server.conf',
    ];
    const r = await this.exec(bin, args, { allowFail: true, timeoutMs: 15_000 });
    if (r.code === 0) {
      for (let i = 0; i < 50; i++) {
        if (await this.pidOf(portId)) return;
        await this.clock.sleep(100);
      }
    }
    const tail = (await readFile(join(dir, 'openvpn.log'), 'utf8').catch(() => '')).split('\n').slice(-8).join('\n');
    throw new Error(`openvpn for port ${portId} did not start (exit ${r.code}): ${r.stderr.trim()}\n${tail}`);
  }

  private async stop(portId: string, pid: number): Promise<void> {
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 50; i++) {
      if (!(await this.pidOf(portId))) return;
      await this.clock.sleep(100);
    }
    if (await this.pidOf(portId)) process.kill(pid, 'SIGKILL');
  }
}
