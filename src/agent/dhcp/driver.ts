/**
 * DhcpDriver: makes the node match a DhcpDesired. actual() reads namespaces, veths, files and
 * dnsmasq processes; apply() diffs (diffDhcp) and executes the plan, per network independently
 * (one failing network does not stop the others), then removes networks no longer desired.
 * Idempotent; calls are serialised.
 *
 * Kernel memory: an apply that found the kernel side right (no namespace, veth or address to change,
 * nothing to remove, every bridge there, no error) remembers its kernel read with the kernel side of
 * the desired state (`kernelKey`). An apply with `reuseKernel` whose desired state has the same
 * kernel side (a port came or went: only hosts files change) takes that read instead of listing
 * namespaces and links again (five `ip` processes, one of them listing every veth of a node with
 * 1,000 taps); files and dnsmasq processes are always read. Any other apply reads the kernel.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { realClock, type Clock } from '../../common/clock.js';
import type { Exec } from '../../common/exec.js';
import type { Logger } from '../../common/log.js';
import { diffDhcp } from './diff.js';
import { readTextOrNull, writeFileAtomic } from '../../common/files.js';
import {
  dnsmasqArgv,
  findDnsmasq,
  realProcessOps,
  reloadDnsmasq,
  startDnsmasq,
  stopDnsmasq,
  type ProcessOps,
} from './dnsmasq-process.js';
import * as kernel from './kernel.js';
import { listNetns } from '../../common/netns.js';
import { dhcpFiles, dhcpNetnsName, vethNodeName, vethNsName, vniOfNetns } from './names.js';
import type {
  DhcpActual,
  DhcpApplyResult,
  DhcpDesired,
  DhcpNetworkActual,
  DhcpNetworkDesired,
  DhcpNetworkPlan,
  DhcpNetworkResult,
  DhcpPlan,
} from './types.js';

export interface DhcpDriverOptions {
  /** Runs commands in the node namespace (where the networks' bridges are). */
  exec: Exec;
  /** Runs `ip netns add|del`. It must share the host's mount namespace, or the namespace names it
   * creates vanish with its private mount namespace (as under `ip netns exec NODE …`). Default: exec.
   * Tests and the lab, whose node is itself a named namespace, pass a plain host Exec here. */
  netnsExec?: Exec;
  log: Logger;
  /** Directory for per-network config, hosts, pid, lease and log files (created if missing). */
  stateDir: string;
  /** Same prefix as given to compileDhcp; every namespace starting with it (+ VNI) is ours. */
  netnsPrefix: string;
  /** Default /usr/sbin/dnsmasq. */
  dnsmasqPath?: string;
  /** Default /usr/bin/dhcp_release (Debian's dnsmasq-utils). */
  dhcpReleasePath?: string;
  clock?: Clock;
  proc?: ProcessOps;
}

/** What readActual lists through iproute2 (the part the kernel memory keeps). */
interface KernelRead {
  namespaces: string[];
  nodeLinks: kernel.LinkInfo[];
  /** Links of our DHCP namespaces, by VNI. */
  nsLinks: Map<number, kernel.LinkInfo[]>;
}

/** The kernel side of a desired state: what the kernel listings are checked against (pure). */
function kernelKey(d: DhcpDesired): string {
  return JSON.stringify(
    d.networks.map((n) => [n.vni, n.bridge, n.netns, n.vethNode, n.vethNs, n.mac, n.addresses, n.mtu]),
  );
}

/** Whether a plan leaves the kernel side as it was read, with every network's bridge there (pure). */
function kernelSettled(plan: DhcpPlan): boolean {
  return (
    plan.remove.length === 0 &&
    plan.networks.every(
      (p) =>
        !p.bridgeMissing &&
        !p.createNetns &&
        !p.createVeth &&
        !p.configureVeth &&
        p.addAddresses.length === 0 &&
        p.delAddresses.length === 0,
    )
  );
}

export interface DhcpApplyOptions {
  /** Take the remembered kernel read when the desired state's kernel side is the remembered one. */
  reuseKernel?: boolean;
}

export class DhcpDriver {
  private readonly exec: Exec;
  private readonly netnsExec: Exec;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly proc: ProcessOps;
  private readonly dnsmasqPath: string;
  private readonly dhcpReleasePath: string;
  private queue: Promise<unknown> = Promise.resolve();
  private settled: { key: string; kernel: KernelRead } | null = null;

  constructor(private readonly o: DhcpDriverOptions) {
    this.exec = o.exec;
    this.netnsExec = o.netnsExec ?? o.exec;
    this.log = o.log;
    this.clock = o.clock ?? realClock;
    this.proc = o.proc ?? realProcessOps;
    this.dnsmasqPath = o.dnsmasqPath ?? '/usr/sbin/dnsmasq';
    this.dhcpReleasePath = o.dhcpReleasePath ?? '/usr/bin/dhcp_release';
  }

  /** What is there now, for every VNI with any trace (namespace, node veth, state files). */
  actual(): Promise<DhcpActual> {
    return this.serial(async () => (await this.readActual()).actual);
  }

  /** Converges to `desired`; networks not in it are torn down (empty desired = remove all). */
  apply(desired: DhcpDesired, options: DhcpApplyOptions = {}): Promise<DhcpApplyResult> {
    return this.serial(() => this.doApply(desired, options));
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The node's DHCP state; the kernel listings are `remembered` when given. */
  private async readActual(remembered?: KernelRead): Promise<{ actual: DhcpActual; kernel: KernelRead }> {
    const prefix = this.o.netnsPrefix;
    const [namespaces, nodeLinks, dirs] = await Promise.all([
      remembered?.namespaces ?? listNetns(this.exec),
      remembered?.nodeLinks ?? kernel.listNodeLinks(this.exec),
      readdir(this.o.stateDir).catch(() => [] as string[]),
    ]);
    const nsLinksByVni = new Map<number, kernel.LinkInfo[]>();
    const vnis = new Set<number>();
    const ourNs = new Set<number>();
    for (const n of namespaces) {
      const v = vniOfNetns(prefix, n);
      if (v === null) continue;
      vnis.add(v);
      ourNs.add(v);
    }
    for (const l of nodeLinks) {
      const m = /^hnd-(\d+)$/.exec(l.ifname);
      if (m && l.ifname === vethNodeName(Number(m[1]))) vnis.add(Number(m[1]));
    }
    for (const d of dirs) if (/^\d+$/.test(d)) vnis.add(Number(d));

    const networks: DhcpNetworkActual[] = [];
    for (const vni of [...vnis].sort((a, b) => a - b)) {
      const f = dhcpFiles(this.o.stateDir, vni);
      const nsLinks = !ourNs.has(vni)
        ? []
        : (remembered?.nsLinks.get(vni) ?? (await kernel.listLinks(this.exec, dhcpNetnsName(prefix, vni))));
      nsLinksByVni.set(vni, nsLinks);
      // A name whose bind mount is gone (made in a mount namespace that ended) lists but cannot be entered.
      const netnsExists = nsLinks.some((l) => l.ifname === 'lo');
      const node = nodeLinks.find((l) => l.ifname === vethNodeName(vni));
      const inNs = nsLinks.find((l) => l.ifname === vethNsName(vni));
      const proc = await findDnsmasq(f, this.proc);
      const expected = dnsmasqArgv(this.dnsmasqPath, f);
      networks.push({
        vni,
        netnsExists,
        vethNode: node ? { master: node.master, up: node.up, mtu: node.mtu } : null,
        vethNs: inNs ? { mac: inNs.mac, up: inNs.up, mtu: inNs.mtu, addresses: inNs.addresses } : null,
        confText: await readTextOrNull(f.conf),
        hostsText: await readTextOrNull(f.hosts),
        leasesText: await readTextOrNull(f.leases),
        pid: proc?.pid ?? null,
        cmdlineMatches: !!proc && proc.argv.length === expected.length && proc.argv.every((a, i) => a === expected[i]),
      });
    }
    return {
      actual: {
        bridges: nodeLinks
          .filter((l) => l.ifname.startsWith('hnb-'))
          .map((l) => l.ifname)
          .sort(),
        networks,
      },
      kernel: { namespaces, nodeLinks, nsLinks: nsLinksByVni },
    };
  }

  private async doApply(desired: DhcpDesired, options: DhcpApplyOptions): Promise<DhcpApplyResult> {
    if (desired.netnsPrefix !== this.o.netnsPrefix) {
      throw new Error(`DhcpDesired prefix ${desired.netnsPrefix} differs from the driver's ${this.o.netnsPrefix}`);
    }
    const key = kernelKey(desired);
    const remembered = options.reuseKernel && this.settled?.key === key ? this.settled.kernel : undefined;
    this.settled = null;
    const { actual, kernel: read } = await this.readActual(remembered);
    const plan = diffDhcp(desired, actual);
    const results: DhcpNetworkResult[] = [];
    for (const p of plan.networks) {
      const d = desired.networks.find((n) => n.vni === p.vni)!;
      const pid = actual.networks.find((a) => a.vni === p.vni)?.pid ?? null;
      try {
        results.push(await this.applyNetwork(d, p, pid));
      } catch (e) {
        this.log.error({ vni: p.vni, err: String(e) }, 'dhcp: apply failed');
        results.push({
          vni: p.vni,
          networkId: p.networkId,
          status: 'error',
          process: p.process,
          pid,
          error: String(e),
        });
      }
    }
    const removed: number[] = [];
    const removeErrors: { vni: number; error: string }[] = [];
    for (const vni of plan.remove) {
      try {
        await this.removeNetwork(vni, actual.networks.find((a) => a.vni === vni)?.pid ?? null);
        removed.push(vni);
      } catch (e) {
        this.log.error({ vni, err: String(e) }, 'dhcp: remove failed');
        removeErrors.push({ vni, error: String(e) });
      }
    }
    if (kernelSettled(plan) && removeErrors.length === 0 && results.every((r) => r.status === 'ok'))
      this.settled = { key, kernel: read };
    return { networks: results, removed, removeErrors };
  }

  private async applyNetwork(
    d: DhcpNetworkDesired,
    p: DhcpNetworkPlan,
    pid: number | null,
  ): Promise<DhcpNetworkResult> {
    const base = { vni: d.vni, networkId: d.networkId };
    if (p.bridgeMissing) {
      this.log.warn({ vni: d.vni, bridge: d.bridge }, 'dhcp: bridge missing');
      return { ...base, status: 'bridge-missing', process: 'none', pid };
    }
    const f = dhcpFiles(this.o.stateDir, d.vni);
    if (p.process === 'restart' && pid) await stopDnsmasq(this.proc, this.clock, pid, f);
    if (p.createNetns) await kernel.createNetns(this.netnsExec, this.exec, d.netns);
    if (p.createVeth) await kernel.createVeth(this.exec, d.netns, d.vethNode, d.vethNs);
    if (p.configureVeth) {
      await kernel.configureVeth(this.exec, {
        ns: d.netns,
        nodeEnd: d.vethNode,
        nsEnd: d.vethNs,
        mac: d.mac,
        mtu: d.mtu,
        bridge: d.bridge,
      });
    }
    for (const a of p.addAddresses) await kernel.addAddress(this.exec, d.netns, d.vethNs, a);
    for (const a of p.delAddresses) await kernel.delAddress(this.exec, d.netns, d.vethNs, a);
    await mkdir(f.dir, { recursive: true, mode: 0o755 });
    if (p.writeConf) await writeFileAtomic(f.conf, d.confText, 0o644);
    if (p.writeHosts) await writeFileAtomic(f.hosts, d.hostsText, 0o644);
    let nowPid = pid;
    if (p.process === 'start' || p.process === 'restart') {
      nowPid = await startDnsmasq(this.exec, this.proc, this.clock, d.netns, this.dnsmasqPath, f);
    } else if (p.process === 'reload' && pid) {
      reloadDnsmasq(this.proc, pid);
    }
    if (p.process !== 'none') this.log.info({ vni: d.vni, action: p.process, pid: nowPid }, 'dhcp: dnsmasq');
    for (const l of p.releaseLeases) {
      // Like Neutron: tell the running dnsmasq the lease is gone, so IPAM may hand the IP to a new port.
      await this.exec('ip', ['netns', 'exec', d.netns, this.dhcpReleasePath, d.vethNs, l.ip, l.mac], {
        timeoutMs: 5_000,
      });
      this.log.info({ vni: d.vni, ip: l.ip, mac: l.mac }, 'dhcp: released stale lease');
    }
    return { ...base, status: 'ok', process: p.process, pid: nowPid };
  }

  private async removeNetwork(vni: number, pid: number | null): Promise<void> {
    const f = dhcpFiles(this.o.stateDir, vni);
    if (pid) await stopDnsmasq(this.proc, this.clock, pid, f);
    await kernel.removeNetnsAndVeth(
      this.netnsExec,
      this.exec,
      dhcpNetnsName(this.o.netnsPrefix, vni),
      vethNodeName(vni),
    );
    await rm(f.dir, { recursive: true, force: true });
    this.log.info({ vni }, 'dhcp: removed');
  }
}
