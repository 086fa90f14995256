/**
 * The custom-route world, as root, namespaces only (`<prefix>…`; stale ones of a dead run of the same
 * family swept first; all removed by `down`). A VPC router namespace stands for EC2 (NetnsVpcDataplane)
 * behind the lab's EC2 endpoint, driven by the real SDK. A hyperswitch namespace runs the real agent
 * (`--custom-route`) with its ENI plugged into the VPC, and reaches node B over VXLAN on an underlay
 * veth (192.0.2.0/24); node B's agent wires a peer VM on a tap. Custom-route VMs have nothing but their
 * VPC address (an `in-addition` VM also runs its user_data's runcmd, as cloud-init would). With
 * `standby`, a second hyperswitch `hs2` (own ENI, own underlay veth to node B) runs the agent too.
 *
 * Who makes EC2 match (`routesBy`): the test, through `CustomRoutes` (the hyper subnet → the
 * hyperswitch's ENI, the source/dest checks, the /32 of in-addition VMs, VPC security groups); or the
 * server's custom-route controller: the server gets an `agentless:` section with `provider: aws`
 * pointing at the endpoint, and each hyperswitch agent `--custom-route-interface <its ENI>`.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateNetworkInterfaceCommand, ModifyNetworkInterfaceAttributeCommand } from '@aws-sdk/client-ec2';
import { CustomRoutes } from '../src/aws/custom-route.js';
import { ApiClient } from '../src/client/api.js';
import { realClock } from '../src/common/clock.js';
import { realExec } from '../src/common/exec.js';
import { listNetns } from '../src/common/netns.js';
import { runcmdFromUserData } from '../src/lab/cloud-init.js';
import { NetnsVpcDataplane } from '../src/lab/ec2/netns-dataplane.js';
import { addNetns } from '../src/lab/netns.js';
import { sweepNamespaces } from '../src/lab/topology.js';
import { plugPort } from '../src/lab/vms.js';
import { CUSTOM_ROUTE_PROFILE_KEY, type CustomRouteMode } from '../src/model/custom-route.js';
import { customRouteUserData } from '../src/model/custom-route-userdata.js';
import type { Agent, Network, Port, Subnet } from '../src/model/types.js';
import { Children } from './children.js';
import { startEc2Lab, type Ec2Lab } from './ec2-endpoint.js';
import { alive } from './runs.js';
import { eventually } from './wait.js';

const BIN = new URL('../../bin/hypernet.js', import.meta.url).pathname;
/** The hyper subnet (only inside the namespaces). */
export const HYPER = '10.99.0.0/24';
/** The VPC subnet of the VMs and hyperswitch ENIs (the endpoint's `workload` subnet). */
export const VPC_SUBNET = '10.20.2.0/24';
export const PEER_IP = '10.99.0.7';
/** The hyperswitches' cloud (the controller's agentless cloud) and node B's. */
export const CLOUD = 'cloud-cr';
export const CLOUD_B = 'cloud-b';
/** Overlay MTU: the underlay's 1500 less VXLAN. */
const OVERLAY_MTU = 1450;
/** Underlay addresses: node B, and each hyperswitch. */
export const UNDERLAY = { nb: '192.0.2.2', hs: '192.0.2.1', hs2: '192.0.2.3' } as const;
export type Hyperswitch = 'hs' | 'hs2';

/** One custom-route VM: its namespace is `<prefix><name>`. */
export interface CrVmSpec {
  name: string;
  mode: CustomRouteMode;
  /** Its hyper IP (in HYPER). */
  ip: string;
}

export interface CustomRouteWorldOptions {
  /** Namespace prefix, `<family><pid>-` (e.g. `hncr-1234-`): a dead run's namespaces of the family are swept. */
  prefix: string;
  /** Logs go to artifacts/<artifacts>/. */
  artifacts: string;
  vms: readonly CrVmSpec[];
  /** A second hyperswitch `hs2` running the agent (the standby). */
  standby?: boolean;
  /** Who makes EC2 match: the test through CustomRoutes, or the server's custom-route controller. */
  routesBy: 'test' | 'controller';
  /** routesBy test: the VPC security groups too (default true). */
  securityGroups?: boolean;
  /** The server's agent_down_time in seconds (agents heartbeat every 3 s). */
  agentDownTime?: number;
}

/** Removes the namespaces of dead runs of `prefix`'s family (`<family><pid>-`: their PID is gone). */
export async function sweepDeadRuns(prefix: string): Promise<void> {
  const family = prefix.replace(/\d+-$/, '');
  for (const n of await listNetns(realExec)) {
    const m = new RegExp(`^${family}(\\d+)-`).exec(n);
    if (m && !alive(Number(m[1]))) await sweepNamespaces(realExec, realClock, m[0]);
  }
}

export class CustomRouteWorld {
  readonly prefix: string;
  readonly ns: Record<string, string>;
  readonly hyperswitches: Hyperswitch[];
  readonly api: ApiClient;
  readonly dir: string;
  readonly children: Children;
  lab!: Ec2Lab;
  vpc!: NetnsVpcDataplane;
  routes!: CustomRoutes;
  /** The route table of the VPC subnet. */
  table = '';
  /** ENI ids: of each hyperswitch and each VM. */
  readonly eni: Record<string, string> = {};
  /** Ports: `peer` and each VM's. */
  readonly ports: Record<string, Port> = {};
  /** Hyper IPs: `peer` and each VM's. */
  readonly ip: Record<string, string> = { peer: PEER_IP };
  network!: Network;
  subnet!: Subnet;
  private readonly sock: string;
  /** The processes' logs (one run's: emptied by `up`). */
  private readonly logDir: string;
  private readonly agents = new Map<string, ChildProcess>();

  constructor(readonly o: CustomRouteWorldOptions) {
    this.prefix = o.prefix;
    const P = o.prefix;
    this.hyperswitches = o.standby ? ['hs', 'hs2'] : ['hs'];
    this.ns = { router: `${P}router`, nb: `${P}nb`, peer: `${P}peer` };
    for (const h of this.hyperswitches) this.ns[h] = `${P}${h}`;
    for (const v of o.vms) {
      this.ns[v.name] = `${P}${v.name}`;
      this.ip[v.name] = v.ip;
    }
    this.dir = join(tmpdir(), `hypernet-test-${P.slice(0, -1)}`);
    this.sock = join(this.dir, 'server.sock');
    this.api = new ApiClient({ url: `unix:${this.sock}`, timeoutMs: 5_000 });
    this.logDir = new URL(`../../artifacts/${o.artifacts}/`, import.meta.url).pathname;
    this.children = new Children(this.logDir);
  }

  /** A VM's VPC address (its ENI's primary private address). */
  vpcIp(name: string): string {
    return this.lab.state.interfaces.get(this.eni[name]!)!.privateIpAddress;
  }

  /** Runs a command in a namespace (bounded; never throws on its exit code). */
  inNs(ns: string, cmd: string[], timeoutMs = 15_000) {
    return realExec('ip', ['netns', 'exec', ns, ...cmd], { allowFail: true, timeoutMs });
  }

  /** Whether `count` pings from `ns` to `ip` are answered within 5 s. */
  async pings(ns: string, ip: string, count = 2): Promise<boolean> {
    return (await this.inNs(ns, ['ping', '-c', String(count), '-w', '5', ip])).code === 0;
  }

  /** The route table's routes to ENIs: destination → ENI id (DescribeRouteTables). */
  async hyperRoutes(): Promise<Map<string, string>> {
    return new Map((await this.routes.routes(this.table)).map((r) => [r.cidr, r.networkInterfaceId ?? '']));
  }

  async up(): Promise<void> {
    const { o, ns } = this;
    await sweepDeadRuns(this.prefix);
    rmSync(this.dir, { recursive: true, force: true });
    rmSync(this.logDir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });

    // The VPC: router namespace, endpoint, ENIs of the hyperswitches and the VMs.
    this.vpc = new NetnsVpcDataplane(realExec, ns.router!);
    await this.vpc.create();
    this.lab = await startEc2Lab({ dataplane: this.vpc });
    const ec2 = this.lab.client();
    this.routes = new CustomRoutes(ec2, this.lab.vpcId);
    this.table = await this.routes.routeTableOf(this.lab.subnets.workload);
    for (const k of [...this.hyperswitches, ...o.vms.map((v) => v.name)]) {
      const made = await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: this.lab.subnets.workload }));
      this.eni[k] = made.NetworkInterface!.NetworkInterfaceId!;
      await addNetns(realExec, ns[k]!);
      await this.vpc.plug(this.lab.state.interfaces.get(this.eni[k]!)!, VPC_SUBNET, ns[k]!);
    }
    // The underlay: a veth from each hyperswitch to node B (hs2's reaches node B's address by a /32).
    await addNetns(realExec, ns.nb!);
    await addNetns(realExec, ns.peer!);
    for (const [i, h] of this.hyperswitches.entries()) {
      const nbLink = `u${i}`;
      await realExec('ip', [
        'link',
        'add',
        'u0',
        'netns',
        ns[h]!,
        'type',
        'veth',
        'peer',
        'name',
        nbLink,
        'netns',
        ns.nb!,
      ]);
      await realExec('ip', ['-n', ns[h]!, 'addr', 'add', `${UNDERLAY[h]}/24`, 'dev', 'u0']);
      await realExec('ip', ['-n', ns[h]!, 'link', 'set', 'u0', 'up']);
      if (i === 0) await realExec('ip', ['-n', ns.nb!, 'addr', 'add', `${UNDERLAY.nb}/24`, 'dev', nbLink]);
      await realExec('ip', ['-n', ns.nb!, 'link', 'set', nbLink, 'up']);
      if (i > 0)
        await realExec('ip', ['-n', ns.nb!, 'route', 'add', `${UNDERLAY[h]}/32`, 'dev', nbLink, 'src', UNDERLAY.nb]);
    }

    // The server: a config when it runs the controller (agentless cloud on the endpoint) or needs one.
    const config: Record<string, unknown> = { encryption: 'none' };
    if (o.agentDownTime !== undefined) config.agent_down_time = o.agentDownTime;
    if (o.routesBy === 'controller') config.agentless = this.lab.config({ cloud: CLOUD });
    const configFile = join(this.dir, 'server.json');
    writeFileSync(configFile, JSON.stringify(config));
    this.children.start(
      [
        ...['node', BIN, 'server', '--host', '127.0.0.1', '--port', '0', '--unix-socket', this.sock],
        ...['--data-dir', this.dir, '--config', configFile],
      ],
      'server',
    );
    if (!(await eventually(async () => existsSync(this.sock), 15_000))) throw new Error('server did not start');

    this.network = await this.api.create<Network>('networks', 'network', { name: 'cr' });
    this.subnet = await this.api.create<Subnet>('subnets', 'subnet', {
      network_id: this.network.id,
      cidr: HYPER,
      ip_version: 4,
      enable_dhcp: false,
    });
    this.ports.peer = await this.api.create<Port>('ports', 'port', {
      network_id: this.network.id,
      'binding:host_id': 'nb',
      fixed_ips: [{ subnet_id: this.subnet.id, ip_address: PEER_IP }],
    });
    for (const v of o.vms)
      this.ports[v.name] = await this.api.create<Port>('ports', 'port', {
        network_id: this.network.id,
        'binding:host_id': 'hs',
        'binding:profile': this.profile(v.name),
        fixed_ips: [{ subnet_id: this.subnet.id, ip_address: v.ip }],
      });
    await this.plugTap(ns.nb!, this.ports.peer, ns.peer!, PEER_IP);

    for (const h of this.hyperswitches) this.startAgent(h);
    this.startAgent('nb');

    if (o.routesBy === 'test') await this.makeEc2Match();
    else await this.awaitController();
    for (const v of o.vms) if (v.mode === 'in-addition') await this.runUserData(v.name);

    const up = await eventually(async () => {
      const all = await Promise.all(Object.values(this.ports).map((p) => this.api.show<Port>('ports', 'port', p.id)));
      return all.every((p) => p.status === 'ACTIVE');
    }, 30_000);
    if (!up) throw new Error('the ports did not all go ACTIVE');
  }

  /** The custom-route binding:profile of VM `name`. */
  profile(name: string): Record<string, unknown> {
    const v = this.o.vms.find((x) => x.name === name)!;
    return { [CUSTOM_ROUTE_PROFILE_KEY]: { mode: v.mode, interface: this.eni[name], vpc_ip: this.vpcIp(name) } };
  }

  /** Starts the agent of host `h` (hs, hs2: custom-route hyperswitches; nb: node B). */
  startAgent(h: Hyperswitch | 'nb'): ChildProcess {
    const hyperswitch = h !== 'nb';
    const extra = hyperswitch
      ? ['--custom-route', ...(this.o.routesBy === 'controller' ? ['--custom-route-interface', this.eni[h]!] : [])]
      : [];
    const c = this.children.start(
      [
        ...['ip', 'netns', 'exec', this.ns[h]!, 'node', BIN, 'agent', '--server', `unix:${this.sock}`, '--host', h],
        ...['--underlay-ip', UNDERLAY[h], '--cloud', hyperswitch ? CLOUD : CLOUD_B],
        ...['--netns-prefix', `${this.prefix}d${h}-`, '--state-dir', join(this.dir, `agent-${h}`)],
        ...['--encryption', 'off', ...extra],
      ],
      `agent-${h}`,
    );
    this.agents.set(h, c);
    return c;
  }

  /**
   * Kills hyperswitch `h` as a dead instance: its agent by PID (SIGKILL), then its links down (the
   * ENI and the underlay). Returns when it failed (before the kill) and when its links were down (no
   * reply through it can come after that), ms since the epoch.
   */
  async killHyperswitch(h: Hyperswitch): Promise<{ failedAt: number; downAt: number }> {
    const failedAt = Date.now();
    const agent = this.agents.get(h);
    if (agent) await this.children.kill(agent);
    for (const l of ['eth0', 'u0']) await realExec('ip', ['-n', this.ns[h]!, 'link', 'set', l, 'down']);
    return { failedAt, downAt: Date.now() };
  }

  /** Brings a killed hyperswitch back (links up, its default route into the VPC, its agent). */
  async reviveHyperswitch(h: Hyperswitch): Promise<void> {
    for (const l of ['eth0', 'u0']) await realExec('ip', ['-n', this.ns[h]!, 'link', 'set', l, 'up']);
    // A link taken down loses its routes; the VPC's router address is the subnet's first.
    await realExec('ip', ['-n', this.ns[h]!, 'route', 'replace', 'default', 'via', '10.20.2.1', 'dev', 'eth0']);
    this.startAgent(h);
  }

  /** Whether the server sees the agent of `host` alive (a heartbeat within agent_down_time). */
  async agentAlive(host: string): Promise<boolean> {
    return (await this.api.list<Agent>('agents')).some((a) => a.host === host && a.alive);
  }

  /** The hyperswitch a port is bound to (its binding:host_id). */
  async boundTo(name: string): Promise<string> {
    return (await this.api.show<Port>('ports', 'port', this.ports[name]!.id))['binding:host_id'] ?? '';
  }

  /** Removes VM `name`'s interface (the VPC ENI's veth, or its tap on node B): the VM left that place. */
  async unplugVm(name: string): Promise<void> {
    await realExec('ip', ['-n', this.ns[name]!, 'link', 'del', 'eth0']);
  }

  /** Plugs VM `name` into the VPC again (its ENI, its VPC address only), as a VM restored there. */
  async plugVmIntoVpc(name: string): Promise<void> {
    await this.vpc.plug(this.lab.state.interfaces.get(this.eni[name]!)!, VPC_SUBNET, this.ns[name]!);
  }

  /** Plugs VM `name` into node B on a tap with its port's MAC and hyper IP, as nova would. */
  async plugVmIntoNodeB(name: string): Promise<void> {
    await this.plugTap(this.ns.nb!, this.ports[name]!, this.ns[name]!, this.ip[name]!);
  }

  /** Plays cloud-init for an in-addition VM: its user_data's runcmd (hyper IP, routes to the hyper subnet). */
  async runUserData(name: string): Promise<void> {
    for (const argv of runcmdFromUserData(await this.userData(name))) {
      const r = await this.inNs(this.ns[name]!, argv);
      if (r.code !== 0) throw new Error(`${name} runcmd ${argv.join(' ')}: ${r.stderr}`);
    }
  }

  async down(): Promise<void> {
    await this.children.stopAll();
    await this.lab?.close();
    await sweepNamespaces(realExec, realClock, this.prefix);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A VM's user_data: the test's own, or what the server hands out (binding:vif_details). */
  private async userData(name: string): Promise<string> {
    if (this.o.routesBy === 'test') return customRouteUserData(this.ip[name]!, [HYPER]);
    let ud = '';
    await eventually(async () => {
      const p = await this.api.show<Port>('ports', 'port', this.ports[name]!.id);
      const details = (p['binding:vif_details'] ?? {}) as Record<string, unknown>;
      ud = typeof details['hypernet:user_data'] === 'string' ? (details['hypernet:user_data'] as string) : '';
      return ud !== '';
    }, 15_000);
    if (!ud) throw new Error(`${name}: no hypernet:user_data in binding:vif_details`);
    return ud;
  }

  /** A veth `tap<port>` on `node` whose other end is `eth0` in `vmNs`, with the port's MAC and `ip`. */
  private async plugTap(node: string, port: Port, vmNs: string, ip: string): Promise<void> {
    await plugPort(realExec, { name: vmNs, ns: vmNs, hyperswitchNs: node, hostId: node }, port);
    await realExec('ip', ['-n', vmNs, 'link', 'set', 'eth0', 'mtu', String(OVERLAY_MTU)]);
    await realExec('ip', ['-n', vmNs, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
  }

  /** What the controller does, done by the test: routes, source/dest checks, VPC security groups. */
  private async makeEc2Match(): Promise<void> {
    const { routes, eni } = this;
    const vms = this.o.vms;
    if (this.o.securityGroups ?? true) {
      // The VMs take traffic only from the hyperswitches and the hyper subnet (what they forward), not
      // from each other; the hyperswitches from the VMs and the hyper subnet.
      const any = (x: { group?: string; cidr?: string }) => ({ protocol: '-1', ...x });
      let hsSg = await routes.ensureSecurityGroup('hn-cr-hyperswitch', 'custom-route hyperswitch', []);
      const vmSg = await routes.ensureSecurityGroup('hn-cr-vms', 'custom-route VMs', [
        any({ group: hsSg }),
        any({ cidr: HYPER }),
      ]);
      hsSg = await routes.ensureSecurityGroup('hn-cr-hyperswitch', 'custom-route hyperswitch', [
        any({ group: vmSg }),
        any({ cidr: HYPER }),
      ]);
      const ec2 = this.lab.client();
      for (const [k, g] of [...this.hyperswitches.map((h) => [h, hsSg]), ...vms.map((v) => [v.name, vmSg])])
        await ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eni[k!], Groups: [g!] }));
    }
    // The hyper subnet behind the hyperswitch, which may then forward what is not its own.
    await routes.setRoute(this.table, HYPER, eni.hs!);
    for (const h of this.hyperswitches) await routes.setSourceDestCheck(eni[h]!, false);
    // in-addition: the VM sends from an address EC2 does not know, and gets packets for it.
    for (const v of vms.filter((x) => x.mode === 'in-addition')) {
      await routes.setRoute(this.table, `${v.ip}/32`, eni[v.name]!);
      await routes.setSourceDestCheck(eni[v.name]!, false);
    }
  }

  /** Waits until the controller's routes are in the table: the hyper subnet → hs, each in-addition /32. */
  private async awaitController(): Promise<void> {
    const want = new Map([[HYPER, this.eni.hs!]]);
    for (const v of this.o.vms.filter((x) => x.mode === 'in-addition')) want.set(`${v.ip}/32`, this.eni[v.name]!);
    const ok = await eventually(async () => {
      const have = await this.hyperRoutes();
      return [...want].every(([c, e]) => have.get(c) === e);
    }, 30_000);
    if (!ok) throw new Error(`the controller did not make the routes ${JSON.stringify([...want])}`);
  }
}
