/**
 * The `lab` provider: a ProviderDriver (src/model/provider.ts) over network namespaces on this machine. A
 * hyperswitch "VM" is a namespace `<lab_netns_prefix><id>` with
 *  - `data0`: a veth into the lab's internet namespace holding the mgnt and data IPs (/32s from
 *    lab_data_cidr, routed there; the agent reaches the server over the lab's Unix socket, so mgnt
 *    needs no link of its own),
 *  - `vms0..2`: one bridge per NIC index with vms_ip_N from vms_cidr[N] (the provider subnets the
 *    agentless VMs' NICs sit on; they exist only inside these namespaces),
 *  - a REAL `hypernet agent --agentless`, started from the command line in the hyperswitch's user_data.
 * A network interface is a veth: `n<id>` on the hyperswitch's `vms<index>` bridge and
 * `<lab_vm_nic_prefix><index>` (its MAC and private IP; `eth0` by default) in the VM namespace
 * `<lab_vm_netns_prefix><device_id>`, so one VM can hold NICs of several lab clouds (a move between
 * clouds); only its first NIC gets the VM's default route. Hyperswitch names hash the cloud too, so
 * they are unique across clouds.
 * A HyperVM's provider VM is a namespace `<lab_netns_prefix><name>` with a data NIC like a
 * hyperswitch's, running the real `hypernet agent --hypervm` of its user_data (launchHyperVm).
 * All entities are kept as provider state (not in the server's store): `cloud.json` in the
 * provider's state directory, like instance and ENI tags at AWS.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateMac } from '../../model/grammar/mac.js';
import { addNetns, daemonInNetns, listNetns, sysctlIn } from '../netns.js';
import { HYPERNET_BIN, readPidFile, pidFile, startDaemon, stopPid } from '../processes.js';
import { sweepNamespaces } from '../topology.js';
import { Mutex } from '../../common/mutex.js';
import type { AgentlessConfig, Flavor } from '../../model/agentless-config.js';
import {
  hyperswitchHostName,
  type HyperswitchOwner,
  type HyperVmLaunchArgs,
  type NetSpec,
  type ProviderDriver,
  type ProviderHyperVm,
  type ProviderHyperswitch,
  type ProviderNetworkInterface,
  type ProviderOptions,
} from '../../model/provider.js';
import { agentArgvFromUserData } from '../cloud-init.js';
import {
  filterHyperswitchs,
  filterInterfaces,
  freeAddress,
  prefixLen,
  readCloud,
  writeCloud,
  type LabCloud,
  type LabHyperswitch,
  type LabHyperVm,
} from './records.js';
import { parseHyperVmUserData } from '../../model/hypervm-userdata.js';

/** The agent flag naming the launch file (the user_data's path is rewritten to the agent's directory). */
const HYPERVM_LAUNCH_FLAG = '--hypervm-launch';

/** Link-local next hop of the data links (as the lab's native paths use). */
const NEXT_HOP = '169.254.1.1';
const DATA_IF = 'data0';

/** The provider's options; its state directory holds cloud.json, agent state, logs and pid files. */
export type LabProviderOptions = ProviderOptions;

const short = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 8);

export class LabProvider implements ProviderDriver {
  private readonly mutex = new Mutex();
  private readonly file: string;

  constructor(private readonly o: LabProviderOptions) {
    this.file = join(o.stateDir, 'cloud.json');
  }

  private get c(): AgentlessConfig {
    return this.o.config;
  }

  /** The marker every process this provider starts carries on its command line. */
  get marker(): string {
    return `${this.o.stateDir.replace(/\/+$/, '')}/`;
  }

  private change<T>(fn: (cloud: LabCloud) => Promise<T>): Promise<T> {
    return this.mutex.run(async () => {
      const cloud = readCloud(this.file);
      const r = await fn(cloud);
      writeCloud(this.file, cloud);
      return r;
    });
  }

  async getSgs(): Promise<{ hs_sg: string | null; vm_sg: string | null }> {
    // The lab has no provider security groups: the names stand for them.
    return { hs_sg: this.c.hs_sg_name, vm_sg: this.c.vm_sg_name };
  }

  async getVmsSubnet(): Promise<string[]> {
    return [...this.c.vms_cidr];
  }

  getHyperswitchHostName(owner: HyperswitchOwner): string {
    return hyperswitchHostName(this.c.cloud, owner);
  }

  nsOf(id: string): string {
    return `${this.c.lab_netns_prefix}${id}`;
  }

  vmNs(deviceId: string): string {
    return `${this.c.lab_vm_netns_prefix}${deviceId}`;
  }

  async launchHyperswitch(
    args: { user_data: string; flavor: Flavor; net_list: NetSpec[] } & HyperswitchOwner,
  ): Promise<ProviderHyperswitch> {
    const argv = agentArgvFromUserData(args.user_data);
    const id = this.getHyperswitchHostName(args);
    return this.change(async (cloud) => {
      if (cloud.hyperswitches.some((h) => h.id === id)) throw new Error(`hyperswitch ${id} exists`);
      const used = cloud.hyperswitches.flatMap((h) => [h.mgnt_ip, h.data_ip, h.vms_ip_0, h.vms_ip_1, h.vms_ip_2]);
      const mgnt = freeAddress(this.c.lab_data_cidr, used);
      const data = freeAddress(this.c.lab_data_cidr, [...used, mgnt]);
      const vms = this.c.vms_cidr
        .slice(0, 3)
        .map((cidr) => freeAddress(cidr, [...used, ...cloud.interfaces.map((n) => n.private_ip)]));
      const hs: LabHyperswitch = {
        id,
        flavor: args.flavor,
        device_id: args.hybrid_cloud_device_id ?? null,
        tenant_id: args.hybrid_cloud_tenant_id ?? null,
        instance_id: `i-${randomBytes(8).toString('hex')}`,
        instance_type: `lab.${args.flavor}`,
        private_ip: mgnt,
        mgnt_ip: mgnt,
        data_ip: data,
        vms_ip_0: vms[0] ?? null,
        vms_ip_1: vms[1] ?? null,
        vms_ip_2: vms[2] ?? null,
        state: 'pending',
        ns: this.nsOf(id),
      };
      try {
        await this.plumbHyperswitch(hs);
        this.startAgent(hs, argv);
      } catch (e) {
        await this.teardown(hs);
        throw e;
      }
      hs.state = 'running';
      cloud.hyperswitches.push(hs);
      this.o.log.info({ id, ns: hs.ns, data }, 'lab hyperswitch launched');
      return strip(hs);
    });
  }

  private async plumbHyperswitch(hs: LabHyperswitch): Promise<void> {
    const { exec } = this.o;
    const mtu = String(this.c.underlay_mtu);
    await this.plumbDataLink(hs.id, hs.ns, [hs.mgnt_ip, hs.data_ip], hs.data_ip);
    for (const [i, ip] of [hs.vms_ip_0, hs.vms_ip_1, hs.vms_ip_2].entries()) {
      if (!ip) continue;
      await exec('ip', ['-n', hs.ns, 'link', 'add', `vms${i}`, 'mtu', mtu, 'type', 'bridge']);
      await exec('ip', ['-n', hs.ns, 'addr', 'add', `${ip}/${prefixLen(this.c.vms_cidr[i]!)}`, 'dev', `vms${i}`]);
      await exec('ip', ['-n', hs.ns, 'link', 'set', `vms${i}`, 'up']);
    }
    await sysctlIn(exec, hs.ns, 'net.ipv4.ip_forward', 1);
  }

  /**
   * A provider VM's namespace with its data NIC: `data0`, a veth into the lab's internet namespace
   * holding `ips` (/32s routed there), the default route leaving from `src`.
   */
  private async plumbDataLink(id: string, ns: string, ips: string[], src: string): Promise<void> {
    const { exec } = this.o;
    const inet = this.c.lab_internet_ns;
    if (!inet) throw new Error('lab provider: lab_internet_ns is not configured');
    const mtu = String(this.c.underlay_mtu);
    const outer = this.outerLink(id);
    await addNetns(exec, ns);
    // A deleted hyperswitch of the same id may still hold this name: the kernel frees a deleted
    // namespace (and the veth pair with it) in the background. Deleting the outer end removes the pair now.
    await this.dropOuterLink(id);
    await exec('ip', [
      '-n',
      inet,
      'link',
      'add',
      outer,
      'mtu',
      mtu,
      'type',
      'veth',
      'peer',
      'name',
      DATA_IF,
      'mtu',
      mtu,
      'netns',
      ns,
    ]);
    await exec('ip', ['-n', inet, 'addr', 'add', `${NEXT_HOP}/32`, 'dev', outer]);
    await exec('ip', ['-n', inet, 'link', 'set', outer, 'up']);
    for (const ip of ips) {
      // replace: a deleted hyperswitch's route may linger while its namespace is still being freed.
      await exec('ip', ['-n', inet, 'route', 'replace', `${ip}/32`, 'dev', outer]);
      await exec('ip', ['-n', ns, 'addr', 'add', `${ip}/32`, 'dev', DATA_IF]);
    }
    await exec('ip', ['-n', ns, 'link', 'set', DATA_IF, 'up']);
    await exec('ip', ['-n', ns, 'route', 'add', NEXT_HOP, 'dev', DATA_IF]);
    await exec('ip', ['-n', ns, 'route', 'add', 'default', 'via', NEXT_HOP, 'dev', DATA_IF, 'src', src]);
  }

  /** The hyperswitch's veth end in the lab's internet namespace. */
  private outerLink(id: string): string {
    return `x${short(id)}`;
  }

  /** Deletes that veth end, and the pair with it, now (absent is fine). */
  private async dropOuterLink(id: string): Promise<void> {
    const inet = this.c.lab_internet_ns;
    if (inet) await this.o.exec('ip', ['-n', inet, 'link', 'del', this.outerLink(id)], { allowFail: true });
  }

  /** The agent's state directory (kept short: OpenVPN's management sockets live below it). */
  agentDir(id: string): string {
    return join(this.o.stateDir, 'a', id);
  }

  private agentName(id: string): string {
    return `agent-${id}`;
  }

  /** Runs the user_data's agent command in the hyperswitch namespace, with the lab's own flags. */
  private startAgent(hs: Pick<LabHyperswitch, 'id' | 'ns' | 'data_ip'>, argv: string[]): void {
    const dir = this.agentDir(hs.id);
    startDaemon({
      name: this.agentName(hs.id),
      ...daemonInNetns(hs.ns, [
        process.execPath,
        HYPERNET_BIN,
        ...argv,
        '--underlay-ip',
        hs.data_ip,
        '--underlay-mtu',
        String(this.c.underlay_mtu),
        '--netns-prefix',
        `${hs.ns}-`,
        '--state-dir',
        dir,
      ]),
      logFile: join(this.o.stateDir, 'logs', `${this.agentName(hs.id)}.log`),
      pidDir: join(this.o.stateDir, 'pids'),
    });
  }

  /** Stops the agent (by its pid file, verified), then every process and namespace of the hyperswitch. */
  private async teardown(hs: Pick<LabHyperswitch, 'id' | 'ns'>): Promise<void> {
    const pids = join(this.o.stateDir, 'pids');
    const pid = readPidFile(pidFile(pids, this.agentName(hs.id)));
    if (pid) await stopPid(pid, this.marker, this.o.clock);
    rmSync(pidFile(pids, this.agentName(hs.id)), { force: true });
    // The hyperswitch namespace and the agent's DHCP namespaces (`<ns>-…`); their veths go with them
    // once the kernel has freed them, the outer one at once here (the same id may be launched again soon).
    await this.dropOuterLink(hs.id);
    await sweepNamespaces(this.o.exec, this.o.clock, hs.ns);
    rmSync(this.agentDir(hs.id), { recursive: true, force: true });
  }

  async getHyperswitchs(filter?: {
    names?: string[];
    hyperswitch_ids?: string[];
    device_ids?: string[];
    tenant_ids?: string[];
  }): Promise<ProviderHyperswitch[]> {
    // Reads take no lock: writeCloud replaces the file whole (rename), so a read sees one state, and it
    // does not wait behind a change that takes seconds (a hyperswitch's teardown).
    return filterHyperswitchs(readCloud(this.file).hyperswitches, filter).map(strip);
  }

  async startHyperswitchs(hyperswitchs: ProviderHyperswitch[]): Promise<void> {
    // Lab hyperswitches never stop on their own; a missing namespace means the lab was torn down.
    const present = new Set(await listNetns(this.o.exec));
    for (const h of hyperswitchs)
      if (!present.has(this.nsOf(h.id))) throw new Error(`hyperswitch ${h.id}: namespace gone`);
  }

  async deleteHyperswitch(hyperswitch_id: string): Promise<void> {
    await this.change(async (cloud) => {
      const hs = cloud.hyperswitches.find((h) => h.id === hyperswitch_id);
      if (!hs) return;
      await this.teardown(hs);
      cloud.hyperswitches = cloud.hyperswitches.filter((h) => h !== hs);
      this.o.log.info({ id: hs.id }, 'lab hyperswitch deleted');
    });
  }

  /**
   * A HyperVM's provider VM: a namespace with a data NIC (its provider address from lab_data_cidr, as
   * a hyperswitch's) running the real agent of its user_data, which plays cloud-init here: the
   * launch file goes into the agent's directory and the command line points at it.
   */
  async launchHyperVm(args: HyperVmLaunchArgs): Promise<ProviderHyperVm> {
    return this.change(async (cloud) => {
      const id = args.name;
      const vms = cloud.hypervms ?? [];
      if (vms.some((v) => v.id === id) || cloud.hyperswitches.some((h) => h.id === id))
        throw new Error(`provider VM ${id} exists`);
      const used = [...cloud.hyperswitches.flatMap((h) => [h.mgnt_ip, h.data_ip]), ...vms.map((v) => v.provider_ip)];
      const vm: LabHyperVm = {
        id,
        hypervm_id: args.hypervm_id,
        provider_ip: freeAddress(this.c.lab_data_cidr, used),
        state: 'pending',
        ns: this.nsOf(id),
      };
      try {
        await this.plumbDataLink(id, vm.ns, [vm.provider_ip], vm.provider_ip);
        const { argv, launch } = parseHyperVmUserData(await args.user_data(vm.provider_ip));
        const file = join(this.agentDir(id), 'hypervm-launch.json');
        mkdirSync(this.agentDir(id), { recursive: true });
        writeFileSync(file, JSON.stringify(launch), { mode: 0o600 });
        const at = argv.indexOf(HYPERVM_LAUNCH_FLAG);
        if (at < 0) throw new Error(`HyperVM user_data runs the agent without ${HYPERVM_LAUNCH_FLAG}`);
        argv[at + 1] = file;
        this.startAgent({ id, ns: vm.ns, data_ip: vm.provider_ip }, argv);
      } catch (e) {
        await this.teardownHyperVm(vm);
        throw e;
      }
      vm.state = 'running';
      cloud.hypervms = [...vms, vm];
      this.o.log.info({ id, ns: vm.ns, provider_ip: vm.provider_ip }, 'lab hypervm launched');
      return stripVm(vm);
    });
  }

  async getHyperVms(filter: { ids?: string[] } = {}): Promise<ProviderHyperVm[]> {
    return (readCloud(this.file).hypervms ?? []).filter((v) => !filter.ids || filter.ids.includes(v.id)).map(stripVm);
  }

  async deleteHyperVm(id: string): Promise<void> {
    await this.change(async (cloud) => {
      const vm = (cloud.hypervms ?? []).find((v) => v.id === id);
      if (!vm) return;
      await this.teardownHyperVm(vm);
      cloud.hypervms = (cloud.hypervms ?? []).filter((v) => v !== vm);
      this.o.log.info({ id }, 'lab hypervm deleted');
    });
  }

  /** Kills the container first (LXC's command socket is in the VM's namespace), then the rest. */
  private async teardownHyperVm(vm: LabHyperVm): Promise<void> {
    const lxc = [
      'netns',
      'exec',
      vm.ns,
      'lxc-stop',
      '-n',
      `hv-${vm.hypervm_id}`,
      '-P',
      join(this.agentDir(vm.id), 'hypervm'),
    ];
    await this.o.exec('ip', [...lxc, '-k'], { allowFail: true, timeoutMs: 15_000 });
    await this.teardown(vm);
  }

  async createNetworkInterface(args: {
    port_id: string;
    device_id: string;
    tenant_id: string;
    index: number;
    subnet: string;
    security_group: string;
    tags?: Record<string, string>;
  }): Promise<ProviderNetworkInterface> {
    return this.change(async (cloud) => {
      const used = [
        ...cloud.interfaces.map((n) => n.private_ip),
        ...cloud.hyperswitches.flatMap((h) => [h.vms_ip_0, h.vms_ip_1, h.vms_ip_2] as string[]),
      ];
      const nic: ProviderNetworkInterface = {
        id: `eni-${randomBytes(6).toString('hex')}`,
        port_id: args.port_id,
        device_id: args.device_id,
        tenant_id: args.tenant_id,
        index: args.index,
        private_ip: freeAddress(args.subnet, used),
        mac_address: generateMac('fa:16:3f:00:00:00'),
        tags: { ...(args.tags ?? {}) },
      };
      const hsId = nic.tags['hypernet:hyperswitch_id'];
      const hs = cloud.hyperswitches.find((h) => h.id === hsId);
      if (hs) await this.attach(hs, nic, args.subnet);
      cloud.interfaces.push(nic);
      return nic;
    });
  }

  /** Plugs the NIC: veth from the hyperswitch's vms bridge into the VM namespace (made if missing). */
  private async attach(hs: LabHyperswitch, nic: ProviderNetworkInterface, subnet: string): Promise<void> {
    const { exec } = this.o;
    const vm = this.vmNs(nic.device_id);
    if (!(await listNetns(exec)).includes(vm)) await addNetns(exec, vm);
    const inner = `${this.c.lab_vm_nic_prefix}${nic.index}`;
    const mtu = String(this.c.underlay_mtu);
    const gw = [hs.vms_ip_0, hs.vms_ip_1, hs.vms_ip_2][nic.index];
    await exec('ip', [
      '-n',
      hs.ns,
      'link',
      'add',
      nicLink(nic.id),
      'mtu',
      mtu,
      'type',
      'veth',
      'peer',
      'name',
      inner,
      'address',
      nic.mac_address,
      'mtu',
      mtu,
      'netns',
      vm,
    ]);
    await exec('ip', ['-n', hs.ns, 'link', 'set', nicLink(nic.id), 'master', `vms${nic.index}`, 'up']);
    await exec('ip', ['-n', vm, 'addr', 'add', `${nic.private_ip}/${prefixLen(subnet)}`, 'dev', inner]);
    await exec('ip', ['-n', vm, 'link', 'set', inner, 'up']);
    // `add`, not `replace`: a second NIC (another cloud's) leaves the VM's default route alone.
    if (gw) await exec('ip', ['-n', vm, 'route', 'add', 'default', 'via', gw, 'dev', inner], { allowFail: true });
  }

  async getNetworkInterfaces(filter?: {
    names?: string[];
    port_ids?: string[];
    device_ids?: string[];
    private_ips?: string[];
    tenant_ids?: string[];
    indexes?: number[];
  }): Promise<ProviderNetworkInterface[]> {
    return filterInterfaces(readCloud(this.file).interfaces, filter);
  }

  async deleteNetworkInterface(id: string): Promise<void> {
    await this.change(async (cloud) => {
      const nic = cloud.interfaces.find((n) => n.id === id);
      if (!nic) return;
      const hs = cloud.hyperswitches.find((h) => h.id === nic.tags['hypernet:hyperswitch_id']);
      // Deleting one end of the veth removes the VM's eth<index> with it.
      if (hs) await this.o.exec('ip', ['-n', hs.ns, 'link', 'del', nicLink(nic.id)], { allowFail: true });
      cloud.interfaces = cloud.interfaces.filter((n) => n !== nic);
    });
  }
}

/** The hyperswitch-side link of a NIC. */
const nicLink = (nicId: string): string => `n${nicId.replace(/^eni-/, '').slice(0, 12)}`;

function strip(h: LabHyperswitch): ProviderHyperswitch {
  const { ns: _ns, ...rest } = h;
  return rest;
}

function stripVm(v: LabHyperVm): ProviderHyperVm {
  const { ns: _ns, ...rest } = v;
  return rest;
}
