/**
 * The WireGuard paths of bench:agentless. A WireGuard agentless VM (vm-b9: stock wg-quick booted from
 * its port's user_data, wireguard-go in its namespace) in the agentless cloud sends to vm-a1 in the
 * other cloud: [vm-b9: iperf3 → wg-quick's interface → wireguard-go] eth0 ⇄ [hyperswitch:
 * wireguard-go → hnwa… → routed to the bridge hnb-N → VXLAN] → [inet] → [hs-a] → [vm-a1].
 * Its reference (the target's): a bare wireguard-go pair over the same hops, in the bare OpenVPN
 * tunnel's own namespaces (bench/agentless.ts, `tun-*`, no netfilter): [tun-vm-b1: iperf3 → wg] eth0
 * ⇄ n0 [tun-hs: wireguard-go → routed] data0 ⇄ [tun-inet] ⇄ [tun-hs-a, routed] ⇄ [tun-vm-a1: iperf3
 * -s], the same MTU as the agentless client's interface, the server end's socket buffers and TX queue
 * as the agent sets its own (no RPS: a stock daemon, as in bench:encryption). It lacks only what hypernet adds:
 * the bridge, VXLAN, the agents' firewalls. Target: WireGuard agentless ≥ 0.90 × that pair.
 * A reference line: a bare pair between vm-b9 and the hyperswitch itself (iperf3 -s there: the
 * WireGuard leg alone, fewer hops than the agentless path; the target's reference until 2026-12-07).
 * In the paths, the wireguard-go PIDs take the openvpn ones' place (CPU per Gbit, pinning).
 */
import type { Exec } from '../src/common/exec.js';
import { WG_TXQUEUELEN } from '../src/agent/crypt/compile.js';
import { WG_SOCKET_BUFFER, WGBUF_PATH } from '../src/agent/native/wgbuf.js';
import { addWgAgentlessVm, stopWgClient, wgClientIface } from '../src/lab/agentless-wg.js';
import type { World } from '../src/lab/world.js';
import type { AgentlessPortWire, HyperswitchWire } from '../src/model/agentless.js';
import { agentlessWgIface } from '../src/model/encryption.js';
import { newPrivateKey, publicKeyOf } from '../src/model/wg-keypair.js';
import { pidsByArgv } from '../testkit/cpu.js';
import { eventually } from '../testkit/wait.js';
// Type only (erased): bench/agentless.ts runs its benchmark when loaded.
import type { Path } from './agentless.js';

export const WG_AGENTLESS = 'wireguard agentless';
export const WG_BARE = 'bare wireguard-go';
export const WG_SAME_HOPS = 'bare wireguard-go, same hops';
const BARE_IP = ['100.126.254.1', '100.126.254.2'] as const;
const BARE_PORT = 51900;

/** The bare OpenVPN tunnel's namespaces the same-hops pair runs in, and the far VM's address for it. */
export interface SameHops {
  clientNs: string;
  serverNs: string;
  /** The server's listening address (on its provider bridge) and the far VM's namespace and address. */
  listenIp: string;
  farNs: string;
  farIp: string;
}
/**
 * The same-hops pair's tunnel addresses: inside 192.0.2.0/24, which the mirror's internet already
 * routes back to its server namespace (the OpenVPN tunnels' range), so the far VM's replies return.
 */
const SAME_HOPS_IP = ['192.0.2.33', '192.0.2.34'] as const;

type Run = (ns: string, cmd: string, args: string[]) => ReturnType<Exec>;

/**
 * A bare wireguard-go pair: [client end in ns, server end in ns], each `dev` with its tunnel address
 * (/30), MTU `mtu`, the client's peer allowing `routes` (the server's address when none). The server
 * end gets the socket buffers and TX queue the agent gives its own wireguard-go; the client end stays
 * stock.
 */
async function wgPair(
  run: Run,
  o: { ends: [[string, string], [string, string]]; ips: readonly [string, string]; port: number; serverIp: string },
  mtu: number,
  routes: string[],
): Promise<void> {
  const keys = [newPrivateKey(), newPrivateKey()];
  const must = async (p: ReturnType<Run>) => {
    const r = await p;
    if (r.code !== 0) throw new Error(`bare WireGuard pair: ${r.stderr || r.stdout}`);
  };
  // Index 0: the client (VM) end, which knows the server's endpoint; 1: the server end.
  for (const [i, [ns, dev]] of o.ends.entries()) {
    const peerEndpoint = i === 0 ? ['endpoint', `${o.serverIp}:${o.port + 1}`] : [];
    const allowed = i === 0 ? [`${o.ips[1]}/32`, ...routes] : [`${o.ips[0]}/32`];
    await must(run(ns, 'wireguard-go', [dev]));
    await must(
      run(ns, 'sh', [
        '-c',
        `umask 077; f=$(mktemp); echo ${keys[i]} > $f; wg set ${dev} listen-port ${o.port + i} private-key $f ` +
          `peer ${publicKeyOf(keys[1 - i]!)} ${peerEndpoint.join(' ')} allowed-ips ${allowed.join(',')}; rm -f $f`,
      ]),
    );
    await must(run(ns, 'ip', ['addr', 'add', `${o.ips[i]}/30`, 'dev', dev]));
    const txq = i === 1 ? ['txqueuelen', String(WG_TXQUEUELEN)] : [];
    await must(run(ns, 'ip', ['link', 'set', 'dev', dev, 'mtu', String(mtu), ...txq, 'up']));
    for (const r of i === 0 ? routes : []) await must(run(ns, 'ip', ['route', 'add', r, 'dev', dev]));
    if (i === 1) await must(run(ns, WGBUF_PATH, [dev, String(WG_SOCKET_BUFFER)]));
  }
}

/** The wireguard-go daemon of interface `iface` (its argv is `wireguard-go IFACE`), 0 when none. */
const wgPid = (iface: string): number => pidsByArgv(['wireguard-go', iface])[0] ?? 0;

/** Sets up both paths; `stop` takes down what the lab's own teardown would not (the client and bare pair). */
export async function setUpWgPaths(
  world: World,
  exec: Exec,
  prefix: string,
  mirror: SameHops,
): Promise<{ paths: Path[]; stop: () => Promise<void> }> {
  const run: Run = (ns, cmd, args) =>
    exec('ip', ['netns', 'exec', ns, cmd, ...args], { allowFail: true, timeoutMs: 20_000 });
  const cloud = world.plan.clouds[world.plan.clouds.length - 1]!;
  const a1 = world.state.vms.find((v) => v.name === 'vm-a1')!;
  const site = await world.newVmSite(cloud, 'vm-b9');
  const vm = await addWgAgentlessVm({ api: world.api, exec, plan: world.plan }, site, world.state.networkId!);
  const al = vm.agentlessPort as AgentlessPortWire;
  const hs = await world.api.show<HyperswitchWire>('hyperswitches', 'hyperswitch', al.hyperswitch_id);
  const hsNs = `${prefix}${hs.id}`;
  const clientIf = wgClientIface(site.ns);
  const bare = [`hnbw${process.pid % 100000}c`, `hnbw${process.pid % 100000}s`] as const;
  const hop = [`hnbh${process.pid % 100000}c`, `hnbh${process.pid % 100000}s`] as const;
  const stop = async () => {
    await stopWgClient(exec, site.ns, vm.config);
    for (const [ns, dev] of [
      [site.ns, bare[0]],
      [hsNs, bare[1]],
      [mirror.clientNs, hop[0]],
      [mirror.serverNs, hop[1]],
    ] as const)
      await exec('ip', ['-n', ns, 'link', 'del', 'dev', dev], { allowFail: true });
  };
  if (!(await eventually(async () => (await run(site.ns, 'ping', ['-c1', '-W1', a1.ip])).code === 0, 20_000)))
    throw new Error('the WireGuard agentless VM does not reach vm-a1');
  // The MTU wg-quick gave the agentless client's interface (user_data is YAML: its config is indented).
  const shown = await run(site.ns, 'ip', ['-j', 'link', 'show', 'dev', clientIf]);
  const mtu = (JSON.parse(shown.stdout || '[]') as { mtu?: number }[])[0]?.mtu;
  if (!mtu) throw new Error(`no MTU on the agentless client's ${clientIf}`);
  if (!hs.vms_ip_0) throw new Error(`hyperswitch ${hs.id} has no VM-side address`);
  const wgBare = { ips: BARE_IP, port: BARE_PORT, serverIp: hs.vms_ip_0 };
  await wgPair(
    run,
    {
      ends: [
        [site.ns, bare[0]],
        [hsNs, bare[1]],
      ],
      ...wgBare,
    },
    mtu,
    [],
  );
  const wgHops = { ips: SAME_HOPS_IP, port: BARE_PORT + 2, serverIp: mirror.listenIp };
  await wgPair(
    run,
    {
      ends: [
        [mirror.clientNs, hop[0]],
        [mirror.serverNs, hop[1]],
      ],
      ...wgHops,
    },
    mtu,
    [`${mirror.farIp}/32`],
  );
  if (!(await eventually(async () => (await run(site.ns, 'ping', ['-c1', '-W1', BARE_IP[1]])).code === 0, 15_000)))
    throw new Error('the bare WireGuard pair does not pass traffic');
  const reachesFar = async () => (await run(mirror.clientNs, 'ping', ['-c1', '-W1', mirror.farIp])).code === 0;
  if (!(await eventually(reachesFar, 15_000))) throw new Error('the same-hops WireGuard pair does not pass traffic');
  const paths: Path[] = [
    {
      name: WG_AGENTLESS,
      fromNs: site.ns,
      toNs: a1.ns,
      toIp: a1.ip,
      iperfPort: 5211,
      clientTap: clientIf,
      serverNs: hsNs,
      clientPid: wgPid(clientIf),
      serverPid: wgPid(agentlessWgIface(hs.id)),
    },
    {
      name: WG_BARE,
      fromNs: site.ns,
      toNs: hsNs,
      toIp: BARE_IP[1],
      iperfPort: 5212,
      clientTap: bare[0],
      serverNs: hsNs,
      clientPid: wgPid(bare[0]),
      serverPid: wgPid(bare[1]),
    },
    {
      name: WG_SAME_HOPS,
      fromNs: mirror.clientNs,
      toNs: mirror.farNs,
      toIp: mirror.farIp,
      iperfPort: 5213,
      clientTap: hop[0],
      serverNs: mirror.serverNs,
      clientPid: wgPid(hop[0]),
      serverPid: wgPid(hop[1]),
    },
  ];
  for (const p of paths) if (!p.clientPid || !p.serverPid) throw new Error(`${p.name}: wireguard-go not found`);
  return { paths, stop };
}
