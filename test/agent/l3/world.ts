/**
 * The world of the L3 traffic tests, as root: a real `hypernet server`, an "internet" namespace with
 * one LAN (a bridge) per cloud holding the cloud's upstream and external addresses, an external host
 * (198.51.100.10) counting what it receives per source, "hyperswitch" namespaces running real agents,
 * and VMs played the way nova would (a port, a veth with the tap end on its node). Every namespace
 * starts with the run's prefix and is removed by `stop()`, also after a failure.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../../../src/client/api.js';
import { inNetns, realExec } from '../../../src/common/exec.js';
import { tapName } from '../../../src/model/kernel-names.js';
import type { Port } from '../../../src/model/types.js';
import { alive, listNetns } from '../../../testkit/runs.js';
import { addNetns, Children, eventually, sh } from '../netns.js';
import { addVethPair } from '../../../src/lab/netns.js';

const BIN = new URL('../../../../bin/hypernet.js', import.meta.url).pathname;
export const EXT_HOST = '198.51.100.10';
/** The internet's addresses on each cloud's LAN: upstream (the nodes' default gateway) and external. */
const LANS = {
  ua: { upstream: '192.0.2.1/26', external: '203.0.113.1/26' },
  ub: { upstream: '192.0.2.65/26', external: '203.0.113.65/26' },
};

export interface L3Node {
  ns: string;
  host: string;
  ip: string;
  cloud: string;
  lan: keyof typeof LANS;
}

export interface L3Vm {
  ns: string;
  node: L3Node;
  ip: string;
  gw: string;
  port?: Port;
}

/** Nodes of cloud A (two, on one LAN) and cloud B, named under `prefix`. */
export function l3Nodes(prefix: string): Record<'a1' | 'a2' | 'b1', L3Node> {
  return {
    a1: { ns: `${prefix}a1`, host: 'hostA1', ip: '192.0.2.2', cloud: 'cloud-a', lan: 'ua' },
    a2: { ns: `${prefix}a2`, host: 'hostA2', ip: '192.0.2.3', cloud: 'cloud-a', lan: 'ua' },
    b1: { ns: `${prefix}b1`, host: 'hostB1', ip: '192.0.2.66', cloud: 'cloud-b', lan: 'ub' },
  };
}

export class L3World {
  readonly dir: string;
  readonly sock: string;
  readonly api: ApiClient;
  readonly inet: string;
  readonly ext: string;
  private readonly children: Children;

  /** `prefix` must end in `<pid>-` after a fixed part (`hnC-<pid>-`): stale runs are swept by it. */
  constructor(
    readonly prefix: string,
    private readonly logName: string,
  ) {
    this.dir = join(tmpdir(), `hypernet-test-${logName}-${process.pid}`);
    this.sock = join(this.dir, 'server.sock');
    this.api = new ApiClient({ url: `unix:${this.sock}`, timeoutMs: 10_000 });
    this.inet = `${prefix}inet`;
    this.ext = `${prefix}ext`;
    this.children = new Children(this.logDir);
  }

  get logDir(): string {
    return new URL(`../../../../artifacts/${this.logName}/`, import.meta.url).pathname;
  }

  /** Sweeps namespaces of crashed runs of this file, starts the server, the internet and the external host. */
  async start(): Promise<void> {
    const fixed = this.prefix.replace(/\d+-$/, '');
    for (const ns of await listNetns()) {
      const m = new RegExp(`^${fixed}(\\d+)-`).exec(ns);
      if (m && !alive(Number(m[1]))) await realExec('ip', ['netns', 'del', ns], { allowFail: true });
    }
    rmSync(this.dir, { recursive: true, force: true });
    rmSync(this.logDir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
    this.children.start(
      ['node', BIN, 'server', '--host', '127.0.0.1', '--port', '0', '--unix-socket', this.sock, '--data-dir', this.dir],
      'server',
    );
    const up = async () =>
      existsSync(this.sock) && (await this.api.list('networks').catch(() => undefined)) !== undefined;
    assert.ok(await eventually(up, 15_000), 'server up');

    const ei = await addNetns(this.inet);
    await sh(ei, ['sysctl -qw net.ipv4.ip_forward=1']);
    for (const [lan, a] of Object.entries(LANS))
      await sh(ei, [
        `ip link add ${lan} type bridge`,
        `ip addr add ${a.upstream} dev ${lan}`,
        `ip addr add ${a.external} dev ${lan}`,
        `ip link set ${lan} up`,
      ]);
    const ee = await addNetns(this.ext);
    await realExec('ip', [
      '-n',
      this.inet,
      'link',
      'add',
      'ie',
      'type',
      'veth',
      'peer',
      'name',
      'e0',
      'netns',
      this.ext,
    ]);
    await sh(ei, ['ip addr add 198.51.100.1/24 dev ie', 'ip link set ie up']);
    await sh(ee, [`ip addr add ${EXT_HOST}/24 dev e0`, 'ip link set e0 up', 'ip route add default via 198.51.100.1']);
    await ee('nft', ['-f', '-'], {
      input: 'table ip seen {\n chain input {\n  type filter hook input priority 0; policy accept;\n }\n}\n',
    });
  }

  /** A node's namespace on its cloud's LAN (its agent starts with startAgents). */
  async addNode(n: L3Node): Promise<void> {
    const e = await addNetns(n.ns);
    const link = `l${n.host.slice(-2)}`;
    await realExec('ip', ['-n', this.inet, 'link', 'add', link, 'type', 'veth', 'peer', 'name', 'u0', 'netns', n.ns]);
    await sh(inNetns(realExec, this.inet), [`ip link set ${link} master ${n.lan} up`]);
    await sh(e, [
      'sysctl -qw net.ipv4.ip_forward=1',
      `ip addr add ${n.ip}/26 dev u0`,
      'ip link set u0 up',
      `ip route add default via ${LANS[n.lan].upstream.split('/')[0]}`,
    ]);
  }

  startAgents(nodes: readonly L3Node[]): void {
    for (const n of nodes) {
      const tag = n.host.slice(-2).toLowerCase();
      this.children.start(
        [
          'ip',
          'netns',
          'exec',
          n.ns,
          'node',
          BIN,
          'agent',
          '--server',
          `unix:${this.sock}`,
          '--host',
          n.host,
          '--underlay-ip',
          n.ip,
          '--cloud',
          n.cloud,
          '--encryption',
          'off',
          '--netns-prefix',
          `${this.prefix}d${tag}-`,
          '--state-dir',
          join(this.dir, `agent-${tag}`),
        ],
        `agent-${tag}`,
      );
    }
  }

  /** Plays nova: a port on `subnetId` bound to the VM's node, a veth with the tap on the node. */
  async plugVm(vm: L3Vm, networkId: string, subnetId: string, extra: Record<string, unknown> = {}): Promise<Port> {
    vm.port = await this.api.create<Port>('ports', 'port', {
      network_id: networkId,
      'binding:host_id': vm.node.host,
      fixed_ips: [{ subnet_id: subnetId, ip_address: vm.ip }],
      ...extra,
    });
    await addNetns(vm.ns);
    await addVethPair(realExec, vm.node.ns, tapName(vm.port.id), vm.ns, 'eth0');
    await sh(inNetns(realExec, vm.ns), [
      `ip link set eth0 address ${vm.port.mac_address} mtu 1450 up`,
      `ip addr add ${vm.ip}/24 dev eth0`,
      `ip route add default via ${vm.gw}`,
    ]);
    return vm.port;
  }

  /** Counts, at the external host, packets from `src` (read back with seenFrom). */
  async countFrom(src: string): Promise<void> {
    await realExec('ip', [
      'netns',
      'exec',
      this.ext,
      'nft',
      'add',
      'rule',
      'ip',
      'seen',
      'input',
      'ip',
      'saddr',
      src,
      'counter',
    ]);
  }

  /** Packets the external host got from `src` since countFrom(src). */
  async seenFrom(src: string): Promise<number> {
    const r = await inNs(this.ext, 'nft', ['list', 'chain', 'ip', 'seen', 'input']);
    const m = new RegExp(`ip saddr ${src.replaceAll('.', '\\.')} counter packets (\\d+)`).exec(r.stdout);
    return m ? Number(m[1]) : 0;
  }

  async stop(): Promise<void> {
    await this.children.stopAll();
    for (const ns of await listNetns())
      if (ns.startsWith(this.prefix)) await realExec('ip', ['netns', 'del', ns], { allowFail: true });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export const inNs = (ns: string, cmd: string, args: string[]) =>
  realExec('ip', ['netns', 'exec', ns, cmd, ...args], { allowFail: true, timeoutMs: 15_000 });

/** One bounded ping; true when answered. */
export const pings = async (ns: string, ip: string): Promise<boolean> =>
  (await inNs(ns, 'ping', ['-c', '1', '-W', '1', ip])).code === 0;
