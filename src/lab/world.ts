/**
 * The world builder: a library that turns a plan into a running lab — topology, the server (SQLite in
 * the state directory, TCP on loopback plus a Unix socket), one real agent per hyperswitch, tenant
 * networks through the API and VMs plugged the way nova would. `hypernet lab up`, the network tests and
 * the datapath benchmark all build their worlds with it, each with its own prefix and state directory.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ApiClient } from '../client/api.js';
import type { Clock } from '../common/clock.js';
import type { Exec } from '../common/exec.js';
import type { Agent, Network, Port, Subnet } from '../model/types.js';
import { tapName } from '../model/kernel-names.js';
import { writeDhclientFiles } from './dhclient.js';
import { addNetns, daemonInNetns, listNetnsWithPrefix } from './netns.js';
import type { CloudPlan, LabPlan, VmPlan } from './plan.js';
import { HYPERNET_BIN, isOurs, pidFile, readPidFile, startDaemon, stopPid, waitFor } from './processes.js';
import { readState, writeState, type LabState } from './state.js';
import { buildTopology } from './topology.js';
import { addAgentlessVm, CLIENT_TAP, writeAgentlessServerConfig } from './agentless.js';
import { createVmPort, dhcpVm, plugPort, stopDhclient, unplugPort, vmInterface, type VmSite } from './vms.js';
import { type DownReport, downLab } from './down.js';

// Callers import these from here since before down.ts.
export { type DownReport, downLab } from './down.js';

export interface WorldDeps {
  exec: Exec;
  clock: Clock;
  /** Called after each step with its duration (progress display); optional. */
  onStep?: (step: string, ms: number) => void;
}

export interface LabVm {
  site: VmSite;
  port: Port;
  tap: string;
  ip: string;
}

export const AGENT_PID_PREFIX = 'agent-';

function tailLog(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export class World {
  readonly api: ApiClient;
  readonly state: LabState;

  constructor(
    readonly plan: LabPlan,
    private readonly deps: WorldDeps,
    state?: LabState,
  ) {
    this.api = new ApiClient({ url: `unix:${plan.paths.socket}`, timeoutMs: 15_000 });
    this.state = state ?? {
      version: 1,
      createdAt: new Date(deps.clock.now()).toISOString(),
      plan,
      apiUrl: plan.api.port > 0 ? `http://${plan.api.host}:${plan.api.port}` : null,
      vms: [],
    };
  }

  /** Re-opens a lab that `up` left running (from its state file). */
  static open(stateFile: string, deps: WorldDeps): World | null {
    const s = readState(stateFile);
    return s ? new World(s.plan, deps, s) : null;
  }

  get exec(): Exec {
    return this.deps.exec;
  }

  get clock(): Clock {
    return this.deps.clock;
  }

  save(): void {
    writeState(this.plan.paths.stateFile, this.state);
  }

  /** Times one step and reports it. */
  async step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const t0 = this.clock.now();
    const v = await fn();
    this.deps.onStep?.(name, this.clock.now() - t0);
    return v;
  }

  /** The whole lab: topology, server, agents, the tenant network, every VM of the plan with DHCP. */
  async up(): Promise<LabVm[]> {
    await this.step('namespaces and underlay', () => this.buildTopology());
    await this.step('server', () => this.startServer());
    await this.step(`agents (${this.plan.clouds.length})`, () => this.startAgents());
    const { network, subnet } = await this.step(`tenant network ${this.plan.hyperCidr}`, () =>
      this.createNetwork('hyper-net', this.plan.hyperCidr),
    );
    this.state.networkId = network.id;
    this.state.subnetId = subnet.id;
    this.save();
    const vms = await this.step(`VMs (${this.plan.vms.length}): ports, veth, DHCP`, () =>
      Promise.all(this.plan.vms.filter((vm) => !vm.agentless).map((vm) => this.addVm(vm, network.id))),
    );
    // One after the other: the first creates the tenant's hyperswitch, the others reuse it.
    for (const vm of this.plan.vms.filter((v) => v.agentless)) {
      await this.step(`agentless ${vm.name}: agentless port, hyperswitch, OpenVPN client, DHCP`, () =>
        this.addAgentlessVm(vm, network.id),
      );
    }
    return vms;
  }

  async buildTopology(): Promise<void> {
    const stale = await listNetnsWithPrefix(this.exec, this.plan.prefix);
    if (stale.length)
      throw new Error(
        `namespaces with prefix ${this.plan.prefix} already exist (${stale.join(', ')}): run \`hypernet lab down\` first`,
      );
    this.save();
    writeDhclientFiles(this.plan.paths);
    await buildTopology(this.exec, this.plan);
  }

  /** Starts the server (TCP on loopback in the root namespace, and the Unix socket) and waits for it. */
  async startServer(): Promise<number> {
    const p = this.plan.paths;
    rmSync(p.socket, { force: true });
    const logFile = join(p.logDir, 'server.log');
    const pid = startDaemon({
      name: 'server',
      cmd: process.execPath,
      args: [
        HYPERNET_BIN,
        'server',
        '--host',
        this.plan.api.host,
        '--port',
        String(this.plan.api.port),
        '--unix-socket',
        p.socket,
        '--data-dir',
        p.serverDataDir,
        ...(this.plan.agentless ? ['--config', writeAgentlessServerConfig(this.plan)] : []),
      ],
      logFile,
      pidDir: p.pidDir,
    });
    await waitFor(
      'the server',
      async () => {
        if (!isOurs(pid, p.marker)) throw new Error(`server exited; its log:\n${tailLog(logFile)}`);
        await this.api.list('networks');
        return true;
      },
      this.clock,
      20_000,
      50,
    ).catch((e) => {
      if (!isOurs(pid, p.marker)) throw new Error(`server exited; its log (${logFile}):\n${tailLog(logFile)}`);
      throw e;
    });
    return pid;
  }

  async stopServer(): Promise<void> {
    const pid = readPidFile(pidFile(this.plan.paths.pidDir, 'server'));
    if (pid) await stopPid(pid, this.plan.paths.marker, this.clock);
  }

  agentLog(c: CloudPlan): string {
    return join(this.plan.paths.logDir, `agent-${c.hostId}.log`);
  }

  /** Starts the real agent of one cloud inside its hyperswitch namespace. */
  startAgent(c: CloudPlan): number {
    return startDaemon({
      name: `${AGENT_PID_PREFIX}${c.hostId}`,
      ...daemonInNetns(c.hyperswitchNs, [
        process.execPath,
        HYPERNET_BIN,
        'agent',
        '--server',
        `unix:${this.plan.paths.socket}`,
        '--host',
        c.hostId,
        '--underlay-ip',
        c.underlayIp,
        '--cloud',
        c.label,
        '--underlay-mtu',
        String(this.plan.underlayMtu),
        '--netns-prefix',
        c.agentNetnsPrefix,
        '--state-dir',
        c.agentStateDir,
      ]),
      logFile: this.agentLog(c),
      pidDir: this.plan.paths.pidDir,
    });
  }

  async stopAgent(c: CloudPlan, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const pid = readPidFile(pidFile(this.plan.paths.pidDir, `${AGENT_PID_PREFIX}${c.hostId}`));
    if (!pid) return;
    if (signal === 'SIGKILL' && isOurs(pid, this.plan.paths.marker)) process.kill(pid, 'SIGKILL');
    await stopPid(pid, this.plan.paths.marker, this.clock);
  }

  /** Starts the agents and waits until each has registered (a heartbeat since its start). */
  async startAgents(clouds: readonly CloudPlan[] = this.plan.clouds): Promise<void> {
    const since = this.clock.now();
    const pids = clouds.map((c) => this.startAgent(c));
    await this.waitAgentsAlive(clouds, pids, 20_000, since);
  }

  /** True when the cloud's agent process (recorded PID) runs. */
  agentRunning(c: CloudPlan): boolean {
    const pid = readPidFile(pidFile(this.plan.paths.pidDir, `${AGENT_PID_PREFIX}${c.hostId}`));
    return !!pid && isOurs(pid, this.plan.paths.marker);
  }

  /**
   * Waits until every cloud's agent is registered and alive in the API (with a heartbeat at or after
   * `sinceMs` when given, so a restarted agent is not mistaken for its predecessor).
   */
  async waitAgentsAlive(
    clouds: readonly CloudPlan[] = this.plan.clouds,
    pids?: number[],
    timeoutMs = 20_000,
    sinceMs?: number,
  ): Promise<Agent[]> {
    const since = sinceMs === undefined ? 0 : Math.floor(sinceMs / 1000) * 1000;
    return waitFor(
      'agents to register',
      async () => {
        pids?.forEach((pid, i) => {
          if (!isOurs(pid, this.plan.paths.marker))
            throw new Error(`agent ${clouds[i].hostId} exited; its log:\n${tailLog(this.agentLog(clouds[i]))}`);
        });
        const agents = await this.api.list<Agent>('agents');
        const found = clouds.map((c) =>
          agents.find((a) => a.host === c.hostId && a.alive && Date.parse(a.heartbeat_timestamp) >= since),
        );
        return found.every(Boolean) ? (found as Agent[]) : undefined;
      },
      this.clock,
      timeoutMs,
      100,
    );
  }

  async createNetwork(name: string, cidr: string, projectId?: string): Promise<{ network: Network; subnet: Subnet }> {
    const owner = projectId ? { project_id: projectId } : {};
    const network = await this.api.create<Network>('networks', 'network', { name, ...owner });
    const subnet = await this.api.create<Subnet>('subnets', 'subnet', {
      network_id: network.id,
      cidr,
      ip_version: 4,
      name: `${name}-subnet`,
      ...owner,
    });
    return { network, subnet };
  }

  /**
   * Plays nova for one VM: creates the port via the API (bound to the VM's hyperswitch), plugs the
   * veth pair, runs dhclient, and checks that the VM got the port's address. Records it in lab.json.
   */
  async addVm(
    site: VmSite,
    networkId: string,
    opts: { projectId?: string; fixedIp?: string; dhcp?: boolean; ifname?: string } = {},
  ): Promise<LabVm> {
    const port = await createVmPort(this.api, site, { networkId, projectId: opts.projectId, fixedIp: opts.fixedIp });
    const tap = await plugPort(this.exec, site, port, opts.ifname);
    const ip = port.fixed_ips[0]?.ip_address ?? '';
    const vm: LabVm = { site, port, tap, ip };
    if (opts.dhcp !== false) {
      await dhcpVm(this.exec, this.plan.paths, site, opts.ifname);
      const got = await vmInterface(this.exec, site.ns, opts.ifname);
      if (got.ip !== ip) throw new Error(`${site.name}: DHCP gave ${got.ip}, the port has ${ip}`);
    }
    const cloud = this.plan.clouds.find((c) => c.hostId === site.hostId)?.label ?? '';
    this.state.vms = this.state.vms.filter((v) => v.name !== site.name);
    this.state.vms.push({
      name: site.name,
      cloud,
      ns: site.ns,
      hostId: site.hostId,
      portId: port.id,
      mac: port.mac_address,
      ip,
      tap: tapName(port.id),
    });
    this.state.vms.sort((x, y) => x.name.localeCompare(y.name));
    this.save();
    return vm;
  }

  /** An agentless VM (src/lab/agentless.ts), recorded in lab.json with its hyperswitch as host. */
  async addAgentlessVm(vm: VmPlan, networkId: string): Promise<void> {
    const a = await addAgentlessVm(
      { api: this.api, exec: this.exec, clock: this.clock, plan: this.plan },
      siteOf(vm),
      networkId,
    );
    this.state.vms = this.state.vms.filter((v) => v.name !== vm.name);
    const hostId = a.agentlessPort.hyperswitch_id;
    const hs = await this.api.show<{ data_ip?: string }>('hyperswitches', 'hyperswitch', hostId);
    this.state.vms.push({
      name: vm.name,
      cloud: vm.cloud,
      ns: vm.ns,
      hostId,
      portId: a.port.id,
      mac: a.port.mac_address,
      ip: a.ip,
      tap: CLIENT_TAP,
      underlayIp: hs.data_ip,
    });
    this.state.vms.sort((x, y) => x.name.localeCompare(y.name));
    this.save();
  }

  /** A new, empty VM namespace in a cloud (beyond the plan's VMs; swept with the prefix). */
  async newVmSite(cloud: CloudPlan, name: string): Promise<VmSite> {
    const site = { name, ns: `${this.plan.prefix}${name}`, hyperswitchNs: cloud.hyperswitchNs, hostId: cloud.hostId };
    await addNetns(this.exec, site.ns);
    return site;
  }

  /** Unplugs a VM and deletes its port. */
  async removeVm(vm: LabVm): Promise<void> {
    await stopDhclient(this.plan.paths, vm.site.name, this.clock);
    await unplugPort(this.exec, vm.site, vm.port.id);
    await this.api.delete('ports', vm.port.id);
    this.state.vms = this.state.vms.filter((v) => v.portId !== vm.port.id);
    this.save();
  }

  /** One bounded ping from a namespace; true when a reply came. */
  async ping(
    fromNs: string,
    ip: string,
    opts: { count?: number; waitS?: number; interval?: number } = {},
  ): Promise<boolean> {
    const args = [
      'netns',
      'exec',
      fromNs,
      'ping',
      '-n',
      '-q',
      '-c',
      String(opts.count ?? 1),
      '-W',
      String(opts.waitS ?? 1),
    ];
    if (opts.interval) args.push('-i', String(opts.interval));
    const r = await this.exec('ip', [...args, ip], {
      allowFail: true,
      timeoutMs: ((opts.count ?? 1) * (opts.interval ?? 1) + (opts.waitS ?? 1) + 5) * 1000,
    });
    return r.code === 0;
  }

  /** Pings until one answers or `attempts` run out. */
  async pingRetry(fromNs: string, ip: string, attempts = 3): Promise<boolean> {
    for (let i = 0; i < attempts; i++) if (await this.ping(fromNs, ip)) return true;
    return false;
  }

  /** Every VM pings every other: matrix[i][j] is true when VM i reached VM j. */
  async pingMatrix(vms: readonly { ns: string; ip: string }[]): Promise<boolean[][]> {
    return Promise.all(
      vms.map((a, i) => Promise.all(vms.map((b, j) => (i === j ? Promise.resolve(true) : this.pingRetry(a.ns, b.ip))))),
    );
  }

  /** Copies the lab's logs (server, agents, dnsmasq) to `dest` for post-mortems; returns `dest`. */
  copyLogs(dest: string): string {
    rmSync(dest, { recursive: true, force: true });
    mkdirSync(dest, { recursive: true });
    if (existsSync(this.plan.paths.logDir)) cpSync(this.plan.paths.logDir, dest, { recursive: true });
    for (const c of this.plan.clouds) {
      const dirs = existsSync(c.agentStateDir) ? readdirSync(c.agentStateDir) : [];
      for (const d of dirs) {
        const f = join(c.agentStateDir, d, 'dnsmasq.log');
        if (existsSync(f)) cpSync(f, join(dest, `${c.hostId}-${d}-dnsmasq.log`));
      }
    }
    return dest;
  }

  /** Tears the whole lab down (see downLab). */
  down(): Promise<DownReport> {
    return downLab(this.plan.paths.stateDir, this.plan.prefix, this.deps);
  }
}

export function siteOf(vm: VmPlan): VmSite {
  return { name: vm.name, ns: vm.ns, hyperswitchNs: vm.hyperswitchNs, hostId: vm.hostId };
}
