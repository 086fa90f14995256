/**
 * The world builder: turns a plan into a running lab — topology, the server, one real agent per
 * hyperswitch, the tenant network and VMs plugged the way nova would. `hypernet lab up`, the network
 * tests and the benchmarks all build their worlds with it, each with its own prefix and state directory.
 * A thin facade: the work is in server-process.ts, agent-processes.ts, tenant-network.ts,
 * vm-lifecycle.ts, ping.ts, logs.ts and down.ts; World holds what they share (plan, API client, state).
 */
import { ApiClient } from '../client/api.js';
import type { Clock } from '../common/clock.js';
import type { Exec } from '../common/exec.js';
import type { Agent, Network, Subnet } from '../model/types.js';
import { agentRunning, startAgents, stopAgent, waitAgentsAlive, type WaitAgentsOptions } from './agent-processes.js';
import { writeDhclientFiles } from './dhclient.js';
import { type DownReport, downLab } from './down.js';
import type { LabHandle } from './handle.js';
import { copyLogs } from './logs.js';
import { listNetnsWithPrefix } from './netns.js';
import { type PingOptions, type PingSource, ping, pingMatrix, pingRetry } from './ping.js';
import { type CloudPlan, type LabPlan, labServerUrl, tenantNetworks, type VmPlan } from './plan.js';
import { startServers, stopServer, stopServerAt } from './server-process.js';
import { readState, writeState, type LabState } from './state.js';
import { createNetwork } from './tenant-network.js';
import { buildTopology } from './topology.js';
import { launchLabHyperVms, startRelayDaemon } from './hypervms.js';
import { type AddVmOptions, addPlannedAgentlessVm, addVm, type LabVm, newVmSite, removeVm } from './vm-lifecycle.js';
import type { VmSite } from './vms.js';
import { labToken, registerLabEndpoint, startLabKeystone } from './keystone-lab.js';
import { addVpcVms, launchVpcHyperswitches, startVpcEndpoint, waitVpcReady } from './vpc-cloud.js';

// Callers import these from here since before World was split.
export { AGENT_PID_PREFIX } from './agent-processes.js';
export { type DownReport, downLab } from './down.js';
export { type LabVm, siteOf } from './vm-lifecycle.js';

export interface WorldDeps {
  exec: Exec;
  clock: Clock;
  /** Called after each step with its duration (progress display); optional. */
  onStep?: (step: string, ms: number) => void;
}

export class World implements LabHandle {
  readonly api: ApiClient;
  readonly state: LabState;

  constructor(
    readonly plan: LabPlan,
    private readonly deps: WorldDeps,
    state?: LabState,
  ) {
    this.api = new ApiClient({ url: labServerUrl(plan), token: labToken(plan, true), timeoutMs: 15_000 });
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
    if (this.plan.keystone) await this.step('keystone', () => startLabKeystone(this.plan, this.deps));
    // The server's config names the vpc cloud's endpoint (its URL, VPC and key).
    if (this.plan.vpc) await this.step('vpc: EC2 endpoint and VPC router', () => startVpcEndpoint(this));
    await this.step('server', () => this.startServer());
    if (this.plan.hypervms || this.plan.hypervmProvider) startRelayDaemon(this.plan);
    if (this.plan.keystone) await this.step('catalog', () => registerLabEndpoint(this.plan, this.clock));
    await this.step(`agents (${this.plan.clouds.length})`, () => this.startAgents());
    if (this.plan.vpc)
      await this.step('vpc: hyperswitches (RunInstances, ENIs, custom-route agents)', () =>
        launchVpcHyperswitches(this),
      );
    const planned = tenantNetworks(this.plan);
    const nets = await this.step(
      `tenant network${planned.length > 1 ? 's' : ''} ${planned.map((n) => n.cidr).join(', ')}`,
      () => Promise.all(planned.map((n) => this.createNetwork(n.name, n.cidr))),
    );
    this.state.networks = nets.map(({ network, subnet }, i) => ({
      name: planned[i]!.name,
      cidr: planned[i]!.cidr,
      networkId: network.id,
      subnetId: subnet.id,
    }));
    const network = nets[0]!.network;
    this.state.networkId = network.id;
    this.state.subnetId = nets[0]!.subnet.id;
    this.save();
    const netOf = (vm: VmPlan): string => nets[vm.network ?? 0]!.network.id;
    const vms = await this.step(`VMs (${this.plan.vms.length}): ports, veth, DHCP`, () =>
      Promise.all(this.plan.vms.filter((vm) => !vm.agentless).map((vm) => this.addVm(vm, netOf(vm)))),
    );
    // One after the other: the first creates the tenant's hyperswitch, the others reuse it.
    for (const vm of this.plan.vms.filter((v) => v.agentless)) {
      await this.step(`agentless ${vm.name}: agentless port, hyperswitch, OpenVPN client, DHCP`, () =>
        this.addAgentlessVm(vm, netOf(vm)),
      );
    }
    if (this.plan.vpc) {
      await this.step(`vpc: VMs (${this.plan.vpc.vms.length}): ENIs, custom-route ports`, () =>
        addVpcVms(this, network.id),
      );
      await this.step('vpc: routes, checks and security groups by the server', () =>
        waitVpcReady(this, planned[0]!.cidr),
      );
    }
    if (this.plan.hypervms) {
      this.state.hypervms = await this.step(`HyperVMs (${this.plan.hypervms}): image push, pull, LXC, DHCP`, () =>
        launchLabHyperVms(this, network.id),
      );
      this.save();
    }
    return vms;
  }

  /** Refuses when namespaces with the prefix exist; else records the lab and builds its namespaces. */
  async buildTopology(): Promise<void> {
    const stale = await listNetnsWithPrefix(this.exec, this.plan.prefix);
    if (stale.length)
      throw new Error(
        `namespaces with prefix ${this.plan.prefix} already exist (${stale.join(', ')}): ` +
          'run `hypernet lab down` first',
      );
    this.save();
    writeDhclientFiles(this.plan.paths);
    await buildTopology(this.exec, this.plan);
  }

  /** Starts the lab's server (every one, when the plan has several); returns the first one's PID. */
  async startServer(): Promise<number> {
    return (await startServers(this))[0];
  }

  stopServer(): Promise<void> {
    return stopServer(this);
  }

  /** Stops (or kills) one of the lab's servers; the others keep serving. */
  stopServerAt(index: number, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    return stopServerAt(this, index, signal);
  }

  stopAgent(c: CloudPlan, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    return stopAgent(this, c, signal);
  }

  startAgents(clouds: readonly CloudPlan[] = this.plan.clouds): Promise<void> {
    return startAgents(this, clouds);
  }

  agentRunning(c: CloudPlan): boolean {
    return agentRunning(this.plan, c);
  }

  waitAgentsAlive(opts: WaitAgentsOptions = {}): Promise<Agent[]> {
    return waitAgentsAlive(this, opts);
  }

  createNetwork(name: string, cidr: string, projectId?: string): Promise<{ network: Network; subnet: Subnet }> {
    return createNetwork(this.api, { name, cidr, projectId });
  }

  addVm(site: VmSite, networkId: string, opts: AddVmOptions = {}): Promise<LabVm> {
    return addVm(this, site, networkId, opts);
  }

  addAgentlessVm(vm: VmPlan, networkId: string): Promise<void> {
    return addPlannedAgentlessVm(this, vm, networkId);
  }

  newVmSite(cloud: CloudPlan, name: string): Promise<VmSite> {
    return newVmSite(this, cloud, name);
  }

  removeVm(vm: LabVm): Promise<void> {
    return removeVm(this, vm);
  }

  ping(fromNs: string, ip: string, opts: PingOptions = {}): Promise<boolean> {
    return ping(this.exec, fromNs, ip, opts);
  }

  pingRetry(fromNs: string, ip: string, attempts = 3): Promise<boolean> {
    return pingRetry(this.exec, fromNs, ip, attempts);
  }

  pingMatrix(vms: readonly PingSource[]): Promise<boolean[][]> {
    return pingMatrix(this.exec, vms);
  }

  copyLogs(dest: string): string {
    return copyLogs(this.plan, dest);
  }

  /** Tears the whole lab down (see downLab). */
  down(): Promise<DownReport> {
    return downLab(this.plan.paths.stateDir, this.plan.prefix, this.deps);
  }
}
