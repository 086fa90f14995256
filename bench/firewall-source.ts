/**
 * bench:firewall's source-filtering part (docs/security-groups.md, "Filtering once"):
 *  - the cost of compiling remote ports' rules on a node that owns their flows: a full apply of
 *    1,000 local ports with and without 1,000 peer ports (each with a group of its own, 10 rules),
 *    its chains and set elements, and the machine's kernel slab before and after (machine-wide:
 *    other load moves it too);
 *  - a two-node VXLAN overlay (testkit/overlay-netenv.ts), one TCP flow, configurations
 *    interleaved over ROUNDS rounds: no netfilter, security groups on each node (two-sided),
 *    security groups filtered once; iperf3 throughput and new TCP connections per second
 *    (connect, one request and its echo, close; sequential, 2 s).
 */
import { readFileSync } from 'node:fs';
import { FirewallCompiler, compileFirewall } from '../src/agent/firewall/compile.js';
import { FirewallDriver } from '../src/agent/firewall/driver.js';
import type { FirewallInput, FirewallMode } from '../src/agent/firewall/model.js';
import { firewallInput } from '../src/agent/firewall/reconciler.js';
import { SOURCE_FILTERING } from '../src/agent/firewall/source.js';
import { silentLogger } from '../src/common/log.js';
import { tapName } from '../src/model/kernel-names.js';
import { defaultGroup, makePort, portId, scaleModel } from '../testkit/firewall-fixtures.js';
import { startEcho, type NodeEnv, type Workload } from '../testkit/firewall-netenv.js';
import { agent, net, view } from '../testkit/model-fixtures.js';
import { OVERLAY_VNI, OverlayEnv } from '../testkit/overlay-netenv.js';
import type { Targets } from '../testkit/bench-targets.js';
import { median } from '../testkit/stats.js';

export const OV_NATIVE = 'overlay, no netfilter';
export const OV_TWO = 'overlay, security groups on both nodes (two-sided)';
export const OV_ONCE = 'overlay, security groups filtered once (source filtering)';

export interface PeerCost {
  withoutMs: number[];
  withMs: number[];
  chains: [number, number];
  elements: [number, number];
  slabKb: [number, number];
}

const slabKb = (): number => Number(/^Slab:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);

/** Full applies (fresh driver and compiler, three each) of 1,000 local ports, without and with 1,000 owned peers. */
export async function measurePeerCost(env: NodeEnv, mode: FirewallMode): Promise<PeerCost> {
  const all = scaleModel(2000, mode);
  const local = all.localPorts.slice(0, 1000);
  const without: FirewallInput = { ...all, localPorts: local };
  const withPeers: FirewallInput = {
    ...without,
    source: {
      local: new Set(local.map((lp) => lp.port.id)),
      peers: all.localPorts.slice(1000).map((lp) => ({ port: lp.port, vni: OVERLAY_VNI, owned: true })),
    },
  };
  const out: PeerCost = { withoutMs: [], withMs: [], chains: [0, 0], elements: [0, 0], slabKb: [0, 0] };
  for (const [i, input] of [without, withPeers].entries()) {
    for (let k = 0; k < 3; k++) {
      const drv = new FirewallDriver(env.node, silentLogger());
      await drv.teardown();
      const slab0 = slabKb();
      const t0 = process.hrtime.bigint();
      const c = compileFirewall(input);
      await drv.apply(c);
      (i ? out.withMs : out.withoutMs).push(Number(process.hrtime.bigint() - t0) / 1e6);
      out.slabKb[i] = slabKb() - slab0;
      out.chains[i] = c.chains.size + c.base.length;
      out.elements[i] = [...c.sets.values()].reduce((n, s) => n + s.elements.length, 0);
    }
  }
  await new FirewallDriver(env.node, silentLogger()).teardown();
  return out;
}

/** Per configuration: Gbit/s and new connections per second, one of each per round. */
export type OverlayFigures = Map<string, { gbps: number[]; cps: number[] }>;

/** New TCP connections per second from `w` to ip:port for 2 s (one request and its echo each, closed by a reset). */
export async function connRate(w: Workload, ip: string, port: number): Promise<number> {
  const code = `
const net=require('net');const [ip,port]=process.argv.slice(1);const end=Date.now()+2000;let n=0;
const one=()=>{if(Date.now()>=end){process.stdout.write(String(n/2));return}
const s=net.connect(+port,ip,()=>s.write('x'));s.once('data',()=>{n++;s.resetAndDestroy();one()});
s.on('error',()=>{s.destroy();setTimeout(one,10)})};one();`;
  const r = await w.exec(process.execPath, ['-e', code, ip, String(port)], { timeoutMs: 10_000 });
  return Number(r.stdout);
}

/** Two ports in Neutron's default group, one on each node of `env`, with iperf3 and echo servers on the second. */
export async function twoPorts(env: OverlayEnv, capabilities: string[]) {
  const hosts = ['bench-a', 'bench-b'];
  const macs = ['fa:16:3e:00:10:01', 'fa:16:3e:00:10:02'];
  const ips = ['10.0.9.11', '10.0.9.12'];
  const ports = [0, 1].map((i) =>
    makePort(
      { id: portId(9001 + i), mac_address: macs[i]!, security_groups: ['default'], 'binding:host_id': hosts[i]! },
      [ips[i]!],
    ),
  );
  const wa = await env.addWorkload(0, 1, tapName(ports[0]!.id), macs[0]!, ips[0]!);
  const wb = await env.addWorkload(1, 2, tapName(ports[1]!.id), macs[1]!, ips[1]!);
  const iperfSrv = env.nodes[1].spawnIn(wb.ns, 'iperf3', ['-s']);
  await startEcho(env.nodes[1], wb.ns, [5001]);
  const model = view({
    networks: [net('net1', OVERLAY_VNI)],
    ports,
    agents: hosts.map((h, i) => ({
      ...agent(`ag-${h}`, h, `192.0.2.${i + 1}`),
      configurations: { tunneling_ip: `192.0.2.${i + 1}`, cloud: 'c', capabilities },
    })),
  });
  return { hosts, model, wa, wb, iperfSrv };
}

/** The two-node overlay, interleaved over `rounds` rounds. */
export async function measureOverlay(mode: FirewallMode, rounds: number): Promise<OverlayFigures> {
  const env = new OverlayEnv(`hnG-${process.pid}-ov-`);
  try {
    await env.create();
    const { hosts, model, wa, wb, iperfSrv } = await twoPorts(env, ['vxlan', SOURCE_FILTERING]);
    const groups = [defaultGroup('default')];
    const drivers = env.nodes.map((n) => new FirewallDriver(n.node, silentLogger()));
    const compilers = env.nodes.map(() => new FirewallCompiler());
    const brnf = (on: boolean) =>
      Promise.all(
        env.nodes.map((n) => n.node('sysctl', ['-q', '-w', `net.bridge.bridge-nf-call-iptables=${on ? 1 : 0}`])),
      );
    const sg = async (source: boolean) => {
      await brnf(true);
      for (const [i, h] of hosts.entries())
        await drivers[i]!.apply(compilers[i]!.compile(firewallInput(h, model, mode, groups, source)));
    };
    const configs: Array<[string, () => Promise<unknown>]> = [
      [OV_NATIVE, () => Promise.all(drivers.map((d) => d.teardown())).then(() => brnf(false))],
      [OV_TWO, () => sg(false)],
      [OV_ONCE, () => sg(true)],
    ];
    const f: OverlayFigures = new Map(configs.map(([n]) => [n, { gbps: [], cps: [] }]));
    try {
      await new Promise((r) => setTimeout(r, 300));
      for (let round = 0; round < rounds; round++) {
        for (const [name, setup] of configs) {
          await setup();
          const r = await wa.exec('iperf3', ['-c', wb.ip, '-t', '2', '-J'], { timeoutMs: 20_000 });
          f.get(name)!.gbps.push(JSON.parse(r.stdout).end.sum_received.bits_per_second / 1e9);
          f.get(name)!.cps.push(await connRate(wa, wb.ip, 5001));
        }
      }
    } finally {
      iperfSrv.kill('SIGKILL');
    }
    return f;
  } finally {
    await env.destroy();
  }
}

/** The summary lines; records the overlay target (filtered once ≥ 0.90× of no netfilter, per round). */
export function printSource(cost: PeerCost, ov: OverlayFigures, targets: Targets): void {
  console.log(
    `source filtering, full apply 1000 local ports: median ${median(cost.withoutMs).toFixed(0)} ms ` +
      `(${cost.chains[0]} chains, ${cost.elements[0]} set elements, slab ${cost.slabKb[0]} kB); ` +
      `with 1000 owned peer ports: median ${median(cost.withMs).toFixed(0)} ms ` +
      `(${cost.chains[1]} chains, ${cost.elements[1]} set elements, slab ${cost.slabKb[1]} kB; slab is machine-wide)`,
  );
  const at = (n: string) => ov.get(n)!;
  for (const [name, { gbps, cps }] of ov)
    console.log(
      `${name}: median ${median(gbps).toFixed(2)} Gbit/s [runs: ${gbps.map((x) => x.toFixed(2)).join(' ')}]; ` +
        `median ${median(cps).toFixed(0)} new connections/s [runs: ${cps.map((x) => x.toFixed(0)).join(' ')}]`,
    );
  const paired = (a: string, b: string, k: 'gbps' | 'cps') => median(at(a)[k].map((x, i) => x / at(b)[k][i]!));
  const once = paired(OV_ONCE, OV_NATIVE, 'gbps');
  const ok = targets.check(`overlay filtered once / no netfilter (per round) ${once.toFixed(3)}x < 0.90x`, once >= 0.9);
  console.log(
    `overlay per round, median of ratios: filtered once / no netfilter ${once.toFixed(3)}x (target >= 0.90x: ${ok}); ` +
      `two-sided / no netfilter ${paired(OV_TWO, OV_NATIVE, 'gbps').toFixed(3)}x; ` +
      `connections/s filtered once / two-sided ${paired(OV_ONCE, OV_TWO, 'cps').toFixed(3)}x`,
  );
}
