/**
 * The WireGuard paths of bench:agentless. A WireGuard agentless VM (vm-b9: stock wg-quick booted from
 * its port's user_data, wireguard-go in its namespace) in the agentless cloud sends to vm-a1 in the
 * other cloud: [vm-b9: iperf3 → wg-quick's interface → wireguard-go] eth0 ⇄ [hyperswitch:
 * wireguard-go → hnwa… → routed to the bridge hnb-N → VXLAN] → [inet] → [hs-a] → [vm-a1].
 * Its reference: a bare wireguard-go pair between the same two namespaces, vm-b9 and the hyperswitch
 * (the WireGuard leg alone, no overlay behind it), the same MTU, the hyperswitch end's socket buffers
 * as the agent sets its own (no RPS: a stock daemon, as in bench:encryption), the VM ends stock
 * wg-quick on both, iperf3 -s in the hyperswitch namespace. Target: WireGuard agentless ≥ 0.90 × the
 * bare pair. In the paths, the wireguard-go PIDs take the openvpn ones' place (CPU per Gbit).
 */
import type { Exec } from '../src/common/exec.js';
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
const BARE_IP = ['100.126.254.1', '100.126.254.2'] as const;
const BARE_PORT = 51900;

/** The wireguard-go daemon of interface `iface` (its argv is `wireguard-go IFACE`), 0 when none. */
const wgPid = (iface: string): number => pidsByArgv(['wireguard-go', iface])[0] ?? 0;

/** Sets up both paths; `stop` takes down what the lab's own teardown would not (the client and bare pair). */
export async function setUpWgPaths(
  world: World,
  exec: Exec,
  prefix: string,
): Promise<{ paths: Path[]; stop: () => Promise<void> }> {
  const run = (ns: string, cmd: string, args: string[]) =>
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
  const stop = async () => {
    await stopWgClient(exec, site.ns, vm.config);
    await exec('ip', ['-n', site.ns, 'link', 'del', 'dev', bare[0]], { allowFail: true });
    await exec('ip', ['-n', hsNs, 'link', 'del', 'dev', bare[1]], { allowFail: true });
  };
  if (!(await eventually(async () => (await run(site.ns, 'ping', ['-c1', '-W1', a1.ip])).code === 0, 20_000)))
    throw new Error('the WireGuard agentless VM does not reach vm-a1');
  const mtu = Number(/^MTU = (\d+)$/m.exec(al.user_data)?.[1] ?? 1420);
  const keys = [newPrivateKey(), newPrivateKey()];
  for (const [i, [ns, dev]] of [
    [site.ns, bare[0]],
    [hsNs, bare[1]],
  ].entries()) {
    const must = async (p: ReturnType<typeof run>) => {
      const r = await p;
      if (r.code !== 0) throw new Error(`bare WireGuard pair: ${r.stderr || r.stdout}`);
    };
    const peerEndpoint = i === 0 ? ['endpoint', `${hs.vms_ip_0}:${BARE_PORT + 1}`] : [];
    await must(run(ns!, 'wireguard-go', [dev!]));
    await must(
      run(ns!, 'sh', [
        '-c',
        `umask 077; f=$(mktemp); echo ${keys[i]} > $f; wg set ${dev} listen-port ${BARE_PORT + i} private-key $f ` +
          `peer ${publicKeyOf(keys[1 - i]!)} ${peerEndpoint.join(' ')} allowed-ips ${BARE_IP[1 - i]}/32; rm -f $f`,
      ]),
    );
    await must(run(ns!, 'ip', ['addr', 'add', `${BARE_IP[i]}/30`, 'dev', dev!]));
    await must(run(ns!, 'ip', ['link', 'set', 'dev', dev!, 'mtu', String(mtu), 'up']));
    // The hyperswitch's end gets the socket buffers the agent gives its own wireguard-go; the VM's
    // end stays stock on both paths (wg-quick).
    if (i === 1) await must(run(ns!, WGBUF_PATH, [dev!, String(WG_SOCKET_BUFFER)]));
  }
  if (!(await eventually(async () => (await run(site.ns, 'ping', ['-c1', '-W1', BARE_IP[1]])).code === 0, 15_000)))
    throw new Error('the bare WireGuard pair does not pass traffic');
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
  ];
  for (const p of paths) if (!p.clientPid || !p.serverPid) throw new Error(`${p.name}: wireguard-go not found`);
  return { paths, stop };
}
