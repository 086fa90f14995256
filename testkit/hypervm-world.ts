/**
 * A two-cloud HyperVM world for the LXC tests and `bench:hypervm`, as root: an underlay switch
 * namespace (192.0.2.0/24) joining a server namespace (the API and the repository on 192.0.2.254),
 * node A (an agent with --hypervm, cloud-a) and node B (an agent with --hypervm, cloud-b) with a VM
 * namespace on a tap, as nova would plug it; the busybox image built and pushed. Every namespace starts with the
 * given prefix; `down` kills the containers, stops the processes it started (by PID) and removes all.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../src/client/api.js';
import { inNetns, realExec, type ExecResult } from '../src/common/exec.js';
import { tapName } from '../src/model/kernel-names.js';
import type { HyperVm, Network, Port } from '../src/model/types.js';
import { buildHyperVmImage, canBuildHyperVmImage, pushLayout } from './hypervm-image.js';
import { isRoot, skipUnless } from './preconditions.js';
import { netnsPids } from '../src/lab/netns.js';
import { listNetns } from './runs.js';
import { eventually } from './wait.js';

const BIN = new URL('../../bin/hypernet.js', import.meta.url).pathname;
export const UNDERLAY = { srv: '192.0.2.254', a: '192.0.2.1', b: '192.0.2.2' };

/** What a test of this world needs, as a skip reason (a failure in CI), or false when all is there. */
export function hyperVmWorldReady(): false | string {
  const lxc = existsSync('/usr/bin/lxc-start') && existsSync('/usr/bin/newuidmap');
  return (
    skipUnless(isRoot(), 'needs root') ||
    skipUnless(lxc, 'needs lxc and uidmap (scripts/setup.sh)') ||
    skipUnless(canBuildHyperVmImage(), 'needs busybox-static and umoci (scripts/setup.sh)')
  );
}

/**
 * A world of its own for one test file: namespaces `<prefix>…`, files in the temp dir, logs under
 * artifacts/; `agentArgs` go to both agents (e.g. `--firewall tc-bpf`).
 */
export function worldFor(prefix: string, artifacts: string, agentArgs: readonly string[] = []): HyperVmWorld {
  return new HyperVmWorld(
    prefix,
    join(tmpdir(), `hypernet-test-${prefix.slice(0, -1)}`),
    new URL(`../../artifacts/${artifacts}/`, import.meta.url).pathname,
    agentArgs,
  );
}

export class HyperVmWorld {
  readonly ns: { u: string; srv: string; a: string; b: string; wb: string };
  readonly sock: string;
  readonly server = `http://${UNDERLAY.srv}:9696`;
  readonly api: ApiClient;
  /** Host ids of the nodes, unique per run: the agents' WireGuard interfaces (named from them) never collide. */
  readonly hostA: string;
  readonly hostB: string;
  /** Where node A's agent keeps its containers. */
  readonly lxcDir: string;
  /** Where node B's agent keeps its containers. */
  readonly lxcDirB: string;
  net!: Network;
  vmPort!: Port;
  image!: string;
  private readonly children: ChildProcess[] = [];

  constructor(
    readonly prefix: string,
    readonly dir: string,
    private readonly logDir: string,
    private readonly agentArgs: readonly string[] = [],
  ) {
    this.ns = { u: `${prefix}u`, srv: `${prefix}srv`, a: `${prefix}a`, b: `${prefix}b`, wb: `${prefix}wb` };
    this.sock = join(dir, 'server.sock');
    this.api = new ApiClient({ url: `unix:${this.sock}`, timeoutMs: 10_000 });
    this.lxcDir = join(dir, 'agent-a', 'hypervm');
    this.lxcDirB = join(dir, 'agent-b', 'hypervm');
    this.hostA = `${prefix}node-a`;
    this.hostB = `${prefix}node-b`;
  }

  /** Runs `cmd` in a namespace (bounded; never throws on exit codes). */
  inNs(n: string, cmd: readonly string[], timeoutMs = 15_000): Promise<ExecResult> {
    return realExec('ip', ['netns', 'exec', n, ...cmd], { allowFail: true, timeoutMs });
  }

  /** Runs a command inside a HyperVM's container, as its root. */
  inContainer(hypervmId: string, cmd: readonly string[], timeoutMs = 15_000, node: 'a' | 'b' = 'a') {
    const dir = node === 'a' ? this.lxcDir : this.lxcDirB;
    return this.inNs(this.ns[node], ['lxc-attach', '-n', `hv-${hypervmId}`, '-P', dir, '--', ...cmd], timeoutMs);
  }

  private start(args: string[], log: string): void {
    mkdirSync(this.logDir, { recursive: true });
    const out = openSync(join(this.logDir, `${log}.log`), 'a');
    this.children.push(spawn(args[0], args.slice(1), { stdio: ['ignore', out, out] }));
  }

  private agent(node: string, host: string, addr: string, tag: string, extra: string[] = []): void {
    const args = ['--server', this.server, '--host', host, '--underlay-ip', addr, '--cloud', `cloud-${tag}`];
    const state = ['--netns-prefix', `${this.prefix}d${tag}-`, '--state-dir', join(this.dir, `agent-${tag}`)];
    this.start(['ip', 'netns', 'exec', node, 'node', BIN, 'agent', ...args, ...state, ...extra], `agent-${tag}`);
  }

  async up(): Promise<void> {
    const { ns } = this;
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
    const add = async (n: string) => {
      await realExec('ip', ['netns', 'add', n]);
      const e = inNetns(realExec, n);
      await e('ip', ['link', 'set', 'lo', 'up']);
      return e;
    };
    const u = await add(ns.u);
    await u('ip', ['link', 'add', 'sw', 'type', 'bridge']);
    await u('ip', ['link', 'set', 'sw', 'up']);
    for (const [n, addr] of [
      [ns.srv, UNDERLAY.srv],
      [ns.a, UNDERLAY.a],
      [ns.b, UNDERLAY.b],
    ] as const) {
      const e = await add(n);
      const port = `p-${n.slice(-3)}`;
      await realExec('ip', ['link', 'add', 'u0', 'netns', n, 'type', 'veth', 'peer', 'name', port, 'netns', ns.u]);
      await u('ip', ['link', 'set', port, 'master', 'sw', 'up']);
      await e('ip', ['addr', 'add', `${addr}/24`, 'dev', 'u0']);
      await e('ip', ['link', 'set', 'u0', 'up']);
    }
    const wb = await add(ns.wb);
    const serverArgs = ['--host', UNDERLAY.srv, '--port', '9696', '--insecure-noauth', '--unix-socket', this.sock];
    this.start(
      ['ip', 'netns', 'exec', ns.srv, 'node', BIN, 'server', ...serverArgs, '--data-dir', join(this.dir, 'data')],
      'server',
    );
    const serving = async () => existsSync(this.sock) && (await this.api.list('networks')) !== undefined;
    if (!(await eventually(serving, 20_000))) throw new Error('the server did not come up');
    this.image = await pushLayout(this.sock, buildHyperVmImage(join(this.dir, 'image')), 'busybox');

    this.net = await this.api.create<Network>('networks', 'network', { name: 'hv' });
    await this.api.create('subnets', 'subnet', { network_id: this.net.id, cidr: '10.70.0.0/24' });
    // The VM on node B: a veth whose node end is the port's tap, a static address in its namespace.
    this.vmPort = await this.api.create<Port>('ports', 'port', {
      network_id: this.net.id,
      'binding:host_id': this.hostB,
      device_owner: 'compute:nova',
      device_id: 'vm-b',
    });
    await realExec('ip', ['-n', ns.b, 'link', 'add', tapName(this.vmPort.id), 'type', 'veth', 'peer', 'name', 'eth0']);
    await realExec('ip', ['-n', ns.b, 'link', 'set', 'eth0', 'netns', ns.wb]);
    await wb('ip', ['link', 'set', 'eth0', 'address', this.vmPort.mac_address, 'mtu', '1450', 'up']);
    await wb('ip', ['addr', 'add', `${this.vmIp}/24`, 'dev', 'eth0']);
    this.agent(ns.a, this.hostA, UNDERLAY.a, 'a', ['--hypervm', ...this.agentArgs]);
    this.agent(ns.b, this.hostB, UNDERLAY.b, 'b', ['--hypervm', ...this.agentArgs]);
    const alive = async () => (await this.api.list<{ alive: boolean }>('agents')).filter((a) => a.alive).length === 2;
    if (!(await eventually(alive, 20_000))) throw new Error('the agents did not register');
  }

  get vmIp(): string {
    return this.vmPort.fixed_ips[0].ip_address;
  }

  /** Creates a HyperVM (node A's cloud unless told; a new port on the network) and waits for ACTIVE. */
  async launch(timeoutMs = 60_000, cloud = 'cloud-a'): Promise<HyperVm> {
    const hv = await this.api.create<HyperVm>('hypervms', 'hypervm', {
      image_id: this.image,
      network_id: this.net.id,
      cloud,
    });
    return this.waitActive(hv, timeoutMs);
  }

  /** Waits until a HyperVM is ACTIVE with no task under way; throws on ERROR. */
  async waitActive(hv: HyperVm, timeoutMs = 60_000): Promise<HyperVm> {
    const active = await eventually(async () => {
      const now = await this.api.show<HyperVm>('hypervms', 'hypervm', hv.id);
      if (now.status === 'ERROR') throw new Error(`HyperVM failed: ${now.status_reason}`);
      return now.status === 'ACTIVE' && now.task === '';
    }, timeoutMs);
    if (!active) throw new Error(`HyperVM ${hv.id} did not become ACTIVE`);
    return this.api.show<HyperVm>('hypervms', 'hypervm', hv.id);
  }

  /** The hyper IP of a HyperVM's port. */
  async hyperIp(hv: HyperVm): Promise<string> {
    return (await this.api.show<Port>('ports', 'port', hv.port_id)).fixed_ips[0].ip_address;
  }

  /** Kills every container of this world (an agent leaves them running when it stops, as it leaves taps). */
  private async killContainers(): Promise<void> {
    for (const [n, dir] of [
      [this.ns.a, this.lxcDir],
      [this.ns.b, this.lxcDirB],
    ] as const) {
      if (!existsSync(dir)) continue;
      for (const name of readdirSync(dir).filter((x) => x.startsWith('hv-')))
        await this.inNs(n, ['lxc-stop', '-n', name, '-P', dir, '-k']);
    }
  }

  async down(): Promise<void> {
    await this.killContainers();
    for (const c of this.children.splice(0)) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 3_000))]);
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
    await this.killContainers();
    // What the agents started ends with them: dnsmasq (by its files under this world's directory, as its
    // namespace may be gone already) and whatever runs in the namespaces (wireguard-go).
    for (const pid of pidsMentioning(this.dir)) killQuietly(pid);
    for (const n of await listNetns()) {
      if (!n.startsWith(this.prefix)) continue;
      for (const pid of await netnsPids(realExec, n)) if (pid !== process.pid) killQuietly(pid);
      await realExec('ip', ['netns', 'del', n], { allowFail: true });
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    /* gone already */
  }
}

/** PIDs of processes whose command line names `path` (this world's dnsmasq instances), never our own. */
function pidsMentioning(path: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`${path}/`)) out.push(pid);
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}
