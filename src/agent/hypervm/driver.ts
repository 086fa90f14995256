/**
 * LXC, through the injected Exec: each container lives in `<dir>/<name>/` — the pulled OCI layout,
 * the bundle umoci unpacks from it (rootfs owned by the mapped ids), and LXC's `config`. Containers are
 * unprivileged: root inside is uid `idBase` outside (a subuid range of root, /etc/subuid). The veth's
 * host side takes the port's tap name and MAC; the node's datapath and firewall do the rest.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Exec } from '../../common/exec.js';
import type { ActualContainer, DesiredContainer } from './types.js';

/** Root inside maps to this uid/gid outside, for 65536 ids (as Debian's default subuid ranges). */
export const DEFAULT_ID_BASE = 100_000;
const ID_COUNT = 65_536;
const REF_ANNOTATION = 'org.opencontainers.image.ref.name';

/** An init argument LXC's `lxc.init.cmd` splitter cannot carry (it knows quotes, not escapes). */
const UNQUOTABLE = /['\n\r\0]/;

export interface LxcDriverOptions {
  exec: Exec;
  /** Where the containers live (made traversable by the mapped root). */
  dir: string;
  idBase?: number;
}

export class LxcDriver {
  readonly dir: string;
  private readonly idBase: number;

  constructor(private readonly o: LxcDriverOptions) {
    this.dir = o.dir;
    this.idBase = o.idBase ?? DEFAULT_ID_BASE;
  }

  /** Where the layout of a container's image is pulled to. */
  layoutDir(name: string): string {
    return join(this.dir, name, 'layout');
  }

  /** The container's directory, made traversable (not readable) by others: the mapped root walks it. */
  async prepare(name: string): Promise<void> {
    await mkdir(join(this.dir, name), { recursive: true });
    for (const d of [dirname(this.dir), this.dir, join(this.dir, name)]) {
      const mode = (await stat(d)).mode & 0o777;
      if ((mode & 0o001) === 0) await chmod(d, mode | 0o001);
    }
  }

  async list(): Promise<ActualContainer[]> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((n) => n.startsWith('hv-'));
    } catch {
      return [];
    }
    const out: ActualContainer[] = [];
    for (const name of names) {
      const r = await this.o.exec('lxc-info', ['-n', name, '-P', this.dir, '-s', '-H'], { allowFail: true });
      out.push({ name, running: r.code === 0 && r.stdout.trim() === 'RUNNING' });
    }
    return out;
  }

  /** Unpacks the pulled layout with the mapped ids and writes LXC's config from the image's command. */
  async create(c: DesiredContainer): Promise<void> {
    const root = join(this.dir, c.name);
    const layout = this.layoutDir(c.name);
    const ref = await refOf(layout);
    const bundle = join(root, 'bundle');
    const map = `0:${this.idBase}:${ID_COUNT}`;
    await this.o.exec('umoci', ['unpack', '--uid-map', map, '--gid-map', map, '--image', `${layout}:${ref}`, bundle]);
    await chmod(bundle, 0o711);
    const args = await initArgs(join(bundle, 'config.json'));
    await writeFile(join(root, 'config'), lxcConfig(c, join(bundle, 'rootfs'), args, this.idBase, root));
    // The layout stays: a snapshot repacks the bundle's changes onto it as a new layer.
  }

  /**
   * The container's filesystem as an OCI layout: `umoci repack` adds what changed in the rootfs since
   * the unpack as a new layer on the container's own layout (ids mapped back, config kept), and tags it.
   * Returns the layout's directory.
   */
  async exportLayout(name: string): Promise<string> {
    const layout = this.layoutDir(name);
    const ref = await refOf(layout).catch(() => {
      throw new Error('the container has no image layout to export onto (launched by an older agent)');
    });
    await this.o.exec('umoci', ['repack', '--image', `${layout}:${ref}`, join(this.dir, name, 'bundle')]);
    return layout;
  }

  /** A shell inside the container (its root), on pipes: what the console relays. */
  attach(name: string): ChildProcess {
    return spawn('lxc-attach', ['-n', name, '-P', this.dir, '--', '/bin/sh'], { stdio: ['pipe', 'pipe', 'pipe'] });
  }

  /** Stops (kills) the container, keeping its files: a migration exports them next. */
  async stop(name: string): Promise<void> {
    await this.o.exec('lxc-stop', ['-n', name, '-P', this.dir, '-k'], { allowFail: true });
  }

  async start(name: string): Promise<void> {
    await this.o.exec('lxc-start', ['-n', name, '-P', this.dir, '-d']);
    await this.o.exec('lxc-wait', ['-n', name, '-P', this.dir, '-s', 'RUNNING', '-t', '10']);
  }

  /** Stops (kills) and removes the container and everything under its directory. */
  async destroy(name: string): Promise<void> {
    await this.o.exec('lxc-stop', ['-n', name, '-P', this.dir, '-k'], { allowFail: true });
    await rm(join(this.dir, name), { recursive: true, force: true });
  }
}

/** The layout's one tag (umoci needs `layout:tag`). */
async function refOf(layout: string): Promise<string> {
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as {
    manifests?: { annotations?: Record<string, string> }[];
  };
  const ref = index.manifests?.[0]?.annotations?.[REF_ANNOTATION];
  if (!ref || !/^[A-Za-z0-9._-]{1,128}$/.test(ref)) throw new Error(`the image's index.json names no usable tag`);
  return ref;
}

/** The image's entrypoint + cmd as umoci wrote them, or /sbin/init for a system container. */
async function initArgs(configJson: string): Promise<string[]> {
  const cfg = JSON.parse(await readFile(configJson, 'utf8')) as { process?: { args?: unknown } };
  const args = cfg.process?.args;
  if (!Array.isArray(args) || args.length === 0) return ['/sbin/init'];
  for (const a of args)
    if (typeof a !== 'string' || UNQUOTABLE.test(a))
      throw new Error(`the image's command has an argument LXC cannot take`);
  return args as string[];
}

/** LXC's config of one container: unprivileged, its veth on the port's tap name and MAC. */
export function lxcConfig(c: DesiredContainer, rootfs: string, args: readonly string[], idBase: number, dir: string) {
  const ids = `0 ${idBase} ${ID_COUNT}`;
  return `${[
    `# ${c.id}: written by the hypernet agent`,
    `lxc.uts.name = ${c.name.slice(0, 63)}`,
    `lxc.rootfs.path = dir:${rootfs}`,
    `lxc.idmap = u ${ids}`,
    `lxc.idmap = g ${ids}`,
    'lxc.net.0.type = veth',
    'lxc.net.0.name = eth0',
    `lxc.net.0.veth.pair = ${c.tap}`,
    `lxc.net.0.hwaddr = ${c.mac}`,
    `lxc.net.0.mtu = ${c.mtu}`,
    'lxc.net.0.flags = up',
    'lxc.mount.auto = proc:mixed sys:mixed',
    'lxc.autodev = 1',
    'lxc.tty.max = 1',
    'lxc.pty.max = 16',
    'lxc.apparmor.profile = unconfined',
    `lxc.init.cmd = ${args.map((a) => (/\s/.test(a) || a === '' ? `'${a}'` : a)).join(' ')}`,
    `lxc.log.file = ${join(dir, 'lxc.log')}`,
    'lxc.log.level = WARN',
  ].join('\n')}\n`;
}
