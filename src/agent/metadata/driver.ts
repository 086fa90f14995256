/**
 * The metadata driver: reads what exists (namespace, the address on its `lo`, the proxy process by
 * its PID file, verified by /proc) and applies diffMetadata's plan through the injected Exec. A
 * running proxy is adopted when its command line and namespace are the ones wanted, so an agent
 * restart leaves metadata up. Networks are handled independently: one failure stops no other.
 */
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Clock } from '../../common/clock.js';
import type { Exec } from '../../common/exec.js';
import { readTextOrNull } from '../../common/files.js';
import type { Logger } from '../../common/log.js';
import { listNetns } from '../../common/netns.js';
import { realProcessOps, type ProcessOps } from '../dhcp/dnsmasq-process.js';
import { diffMetadata } from './diff.js';
import { NS_PROXY_SCRIPT, nsProxyArgs } from './ns-proxy-main.js';
import {
  METADATA_IP,
  type MetadataActual,
  type MetadataDesired,
  type MetadataNetworkActual,
  type MetadataPlan,
} from './types.js';

export interface MetadataDriverOptions {
  exec: Exec;
  clock: Clock;
  log: Logger;
  /** Files live in `${stateDir}/metadata/`: `${vni}.pid`, `${vni}.log`, and the agent's socket. */
  stateDir: string;
  netnsPrefix: string;
  /** The agent's metadata socket the proxies forward to. */
  socket: string;
  processOps?: ProcessOps;
  /** Whether a process runs in the named namespace as it is now (default: compares /proc and /run/netns inodes). */
  inNetns?: (pid: number, netns: string) => Promise<boolean>;
}

export interface MetadataApplyResult {
  readonly networks: readonly { vni: number; status: 'ok' | 'netns-missing' | 'error'; error?: string }[];
  readonly stopErrors: readonly { vni: number; error: string }[];
}

async function sameNetnsByInode(pid: number, netns: string): Promise<boolean> {
  try {
    const [a, b] = await Promise.all([stat(`/proc/${pid}/ns/net`), stat(`/run/netns/${netns}`)]);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}

/**
 * Every node's DHCP namespace of a network holds 169.254.169.254 and the bridges are joined by the
 * overlay: a workload that ARPs for the address itself would get answers from other nodes, whose
 * agents do not know it. With arp_ignore=1 only the DHCP port's own address is answered, so the
 * request takes the host route via the local DHCP port.
 */
const ARP_IGNORE = 'net.ipv4.conf.all.arp_ignore';

export const metadataDir = (stateDir: string): string => join(stateDir, 'metadata');

export class MetadataDriver {
  private readonly ops: ProcessOps;
  private readonly dir: string;
  private readonly inNetns: (pid: number, netns: string) => Promise<boolean>;

  constructor(private readonly o: MetadataDriverOptions) {
    this.ops = o.processOps ?? realProcessOps;
    this.dir = metadataDir(o.stateDir);
    this.inNetns = o.inNetns ?? sameNetnsByInode;
  }

  private pidFile = (vni: number) => join(this.dir, `${vni}.pid`);
  private logFile = (vni: number) => join(this.dir, `${vni}.log`);
  private argsOf = (networkId: string, vni: number) =>
    nsProxyArgs(networkId, this.o.socket, this.pidFile(vni), this.logFile(vni));

  /** Our proxy of a VNI (the PID file names a live process of our script with that PID file), or null. */
  private async proxyOf(vni: number): Promise<{ pid: number; argv: string[] } | null> {
    const pid = Number((await readTextOrNull(this.pidFile(vni)))?.trim());
    if (!Number.isInteger(pid) || pid <= 1) return null;
    const argv = await this.ops.cmdline(pid);
    const ours =
      argv?.some((a) => basename(a) === basename(NS_PROXY_SCRIPT)) && argv.includes(`--pid-file=${this.pidFile(vni)}`);
    return ours && argv ? { pid, argv } : null;
  }

  /** `lo` up with the metadata address, and the namespace answers ARP only for addresses of the asking link. */
  private async addressed(netns: string): Promise<boolean> {
    const r = await this.o.exec('ip', ['-n', netns, '-j', 'addr', 'show', 'dev', 'lo'], { allowFail: true });
    if (r.code !== 0) return false;
    const [lo] = JSON.parse(r.stdout || '[]') as {
      flags?: string[];
      addr_info?: { local: string; prefixlen: number }[];
    }[];
    if (!lo?.flags?.includes('UP') || !lo.addr_info?.some((a) => a.local === METADATA_IP && a.prefixlen === 32))
      return false;
    const arp = await this.o.exec('ip', ['netns', 'exec', netns, 'sysctl', '-n', ARP_IGNORE], { allowFail: true });
    return arp.stdout.trim() === '1';
  }

  /** What exists for the desired VNIs and for every VNI with a PID file. */
  async actual(desired: MetadataDesired): Promise<MetadataActual> {
    const files = await readdir(this.dir).catch(() => [] as string[]);
    const known = files.map((f) => /^(\d+)\.pid$/.exec(f)?.[1]).filter((v): v is string => !!v);
    const vnis = [...new Set([...desired.networks.map((n) => n.vni), ...known.map(Number)])].sort((a, b) => a - b);
    const namespaces = new Set(await listNetns(this.o.exec));
    const byVni = new Map(desired.networks.map((n) => [n.vni, n]));
    const networks: MetadataNetworkActual[] = [];
    for (const vni of vnis) {
      const netns = `${this.o.netnsPrefix}${vni}`;
      const netnsExists = namespaces.has(netns);
      const proxy = await this.proxyOf(vni);
      const want = byVni.get(vni);
      const proxyMatches =
        !!proxy &&
        !!want &&
        netnsExists &&
        this.argsOf(want.networkId, vni).every((a) => proxy.argv.includes(a)) &&
        (await this.inNetns(proxy.pid, netns));
      networks.push({
        vni,
        netnsExists,
        addressed: netnsExists && (await this.addressed(netns)),
        pid: proxy?.pid ?? null,
        proxyMatches,
      });
    }
    return { networks };
  }

  /** Converges to `desired` from `read` (a read of `actual(desired)` made ahead), else from a fresh read. */
  async apply(desired: MetadataDesired, read?: MetadataActual): Promise<MetadataApplyResult> {
    await mkdir(this.dir, { recursive: true });
    const actual = read ?? (await this.actual(desired));
    const plan: MetadataPlan = diffMetadata(desired, actual);
    const pids = new Map(actual.networks.map((a) => [a.vni, a.pid]));
    const stopErrors: { vni: number; error: string }[] = [];
    for (const vni of plan.stop) {
      try {
        await this.stop(pids.get(vni) ?? null, vni);
      } catch (e) {
        stopErrors.push({ vni, error: (e as Error).message });
      }
    }
    const networks: MetadataApplyResult['networks'][number][] = [];
    for (const n of plan.networks) {
      if (n.netnsMissing) {
        networks.push({ vni: n.vni, status: 'netns-missing' });
        continue;
      }
      try {
        if (n.addAddress) {
          await this.o.exec('ip', ['-n', n.netns, 'link', 'set', 'lo', 'up']);
          await this.o.exec('ip', ['-n', n.netns, 'addr', 'replace', `${METADATA_IP}/32`, 'dev', 'lo']);
          await this.o.exec('ip', ['netns', 'exec', n.netns, 'sysctl', '-qw', `${ARP_IGNORE}=1`]);
        }
        if (n.proxy === 'restart') await this.stop(pids.get(n.vni) ?? null, n.vni);
        if (n.proxy !== 'none') await this.start(n.netns, n.networkId, n.vni);
        networks.push({ vni: n.vni, status: 'ok' });
      } catch (e) {
        networks.push({ vni: n.vni, status: 'error', error: (e as Error).message });
      }
    }
    return { networks, stopErrors };
  }

  private async start(netns: string, networkId: string, vni: number): Promise<void> {
    await rm(this.pidFile(vni), { force: true });
    const argv = [process.execPath, NS_PROXY_SCRIPT, ...this.argsOf(networkId, vni)];
    await this.o.exec('ip', ['netns', 'exec', netns, ...argv], { timeoutMs: 10_000 });
    const deadline = this.o.clock.now() + 5_000;
    while (!(await this.proxyOf(vni))) {
      if (this.o.clock.now() >= deadline)
        throw new Error(`metadata proxy in ${netns} did not come up (see ${this.logFile(vni)})`);
      await this.o.clock.sleep(50);
    }
    this.o.log.info({ network: networkId, netns }, 'metadata proxy started');
  }

  /**
   * SIGTERM, then SIGKILL after 3 s; only while the PID is still our proxy of that VNI. The PID's own
   * command line is checked, not the PID file: a proxy removes that file before it has exited.
   */
  private async stop(pid: number | null, vni: number): Promise<void> {
    const ours = async () =>
      pid !== null && ((await this.ops.cmdline(pid))?.includes(`--pid-file=${this.pidFile(vni)}`) ?? false);
    for (const [sig, waitMs] of [
      ['SIGTERM', 3_000],
      ['SIGKILL', 2_000],
    ] as const) {
      if (!(await ours())) break;
      try {
        this.ops.signal(pid!, sig);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
      }
      const deadline = this.o.clock.now() + waitMs;
      while ((await ours()) && this.o.clock.now() < deadline) await this.o.clock.sleep(50);
    }
    if (await ours()) throw new Error(`metadata proxy ${pid} did not exit`);
    await rm(this.pidFile(vni), { force: true });
  }
}
