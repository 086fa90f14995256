/**
 * Custom-route benchmark (`npm run bench:custom-route`, root). On the custom-route world
 * (testkit/custom-route-world.ts: the VPC router namespace behind the lab's EC2 endpoint, a
 * hyperswitch running the real agent with `--custom-route`, node B with a peer VM over VXLAN):
 *  - one TCP flow (iperf3 -t SECONDS) from vm1, a custom-route VM in mode `instead` with only its VPC
 *    address, to the peer VM's hyper IP on node B: VM → VPC router → hyperswitch (SNAT to the hyper IP,
 *    hcr/tap, bridge with the port's security groups, VXLAN) → underlay → node B → peer;
 *  - against the same flow routed natively over the same hops (testkit/custom-route-twin.ts: namespaces
 *    and veths of the same shape, addresses and MTUs, plain IP routing, no NAT, bridge, VXLAN or
 *    netfilter, checked);
 *  - the custom-route flow again with port security off on vm1's and the peer's ports (no security
 *    groups, br_netfilter off; no target): what the hop costs without them;
 *  - ping RTT on both paths (20 pings at 50 ms per round), p50: the latency the extra hop adds;
 *  - failover (FAILOVERS, default 10; a second world whose routes the server's controller makes, with a
 *    standby hyperswitch, agent_down_time 5 s): the active hyperswitch dies as a dead instance (agent
 *    killed by PID, its links down) and comes back as the next standby; p50 and max of the time from
 *    the failure to the first reply of a ping every 50 ms from the VM to the peer. Target: max ≤
 *    agent_down_time + 5 s (detection waits up to agent_down_time after the last heartbeat, which is
 *    at most 3 s before the failure; the rest is the controller's tick, its EC2 calls, and the
 *    standby's agent wiring the port).
 * Rounds are interleaved (native, custom-route, …): BENCH_WARMUP (default 1, printed, not counted) then
 * ROUNDS (default 5). iperf3's client is pinned to one CPU and its server to the other on both paths
 * (testkit/placement.ts; BENCH_PIN=0 unpins). Target: the median of the per-round ratios custom-route /
 * native ≥ 0.80; exit 1 when a target is missed. The VPC security groups are not set here: the router namespace's
 * nftables stand for EC2's fabric, whose cost at AWS is not the hyperswitch's, and with them the
 * router would track each flow's connection on the custom-route path only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { realClock } from '../src/common/clock.js';
import { realExec } from '../src/common/exec.js';
import { sweepNamespaces } from '../src/lab/topology.js';
import { requireRoot, runBench, Targets } from '../testkit/bench-targets.js';
import { CustomRouteWorld, HYPER, type Hyperswitch, PEER_IP, sweepDeadRuns } from '../testkit/custom-route-world.js';
import { buildCustomRouteTwin } from '../testkit/custom-route-twin.js';
import { iperfTcp } from '../testkit/iperf.js';
import { PingWatch } from '../testkit/ping-watch.js';
import { loadAverageLine, PINNING, pinProcess, placementLine, RECEIVER_CPU, SENDER_CPU } from '../testkit/placement.js';
import { formatRatios, median, percentile, roundRatios } from '../testkit/stats.js';
import { eventually } from '../testkit/wait.js';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 1);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const PINGS = 20;
const TARGET = 0.8;
const exec = realExec;
const prefix = `hncb-${process.pid}-`;
const twinPrefix = `hncn-${process.pid}-`;
const foPrefix = `hncv-${process.pid}-`;
/** Failovers of the active hyperswitch (0: the throughput part only). */
const FAILOVERS = Number(process.env.FAILOVERS ?? 10);
/** The server's agent_down_time in the failover part: small, so a failover is quick to detect. */
const DOWN_TIME_S = 5;
const VM_IP = '10.99.0.5';

/** The summary's lines, printed at the end. */
const summary: string[] = [];
const gb = (bps: number): string => `${(bps / 1e9).toFixed(2)} Gbit/s`;

/** RTTs (ms) of PINGS pings at 50 ms intervals from `ns` to `ip`. */
async function rtts(ns: string, ip: string): Promise<number[]> {
  const r = await exec('ip', ['netns', 'exec', ns, 'ping', '-n', '-c', String(PINGS), '-i', '0.05', '-W', '1', ip], {
    allowFail: true,
    timeoutMs: 20_000,
  });
  const ms = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  if (ms.length === 0) throw new Error(`ping ${ns} → ${ip}: no reply\n${r.stdout}${r.stderr}`);
  return ms;
}

/** br_netfilter hands bridged IP to netfilter in `ns` (the agent turns it off with no filtered port). */
async function brnfOn(ns: string): Promise<boolean> {
  const r = await exec('ip', ['netns', 'exec', ns, 'sysctl', '-n', 'net.bridge.bridge-nf-call-iptables'], {
    allowFail: true,
  });
  return r.stdout.trim() === '1';
}

/**
 * Port security of vm1's and the peer's ports on or off (API), then waits until the hyperswitch's and
 * node B's agents set br_netfilter to match (as bench:datapath measures its pure overlay).
 */
async function portSecurity(world: CustomRouteWorld, on: boolean): Promise<void> {
  for (const k of ['vm1', 'peer']) {
    const p = world.ports[k]!;
    await world.api.update(
      'ports',
      'port',
      p.id,
      on
        ? { port_security_enabled: true, security_groups: p.security_groups }
        : { port_security_enabled: false, security_groups: [] },
    );
  }
  const nodes = [world.ns.hs!, world.ns.nb!];
  if (!(await eventually(async () => (await Promise.all(nodes.map(brnfOn))).every((v) => v === on), 20_000)))
    throw new Error(`br_netfilter not ${on ? 'on' : 'off'} on both nodes after 20 s`);
  await new Promise((r) => setTimeout(r, 200));
}

/** The throughput and RTT part: custom-route against native, interleaved rounds. */
async function throughput(targets: Targets): Promise<void> {
  const world = new CustomRouteWorld({
    prefix,
    artifacts: 'bench-custom-route',
    routesBy: 'test',
    securityGroups: false,
    vms: [{ name: 'vm1', mode: 'instead', ip: VM_IP }],
  });
  const servers: ChildProcess[] = [];
  try {
    console.log(
      `custom-route benchmark, prefix ${prefix} (twin ${twinPrefix}), ${WARMUP} warm-up + ${ROUNDS} rounds of ` +
        `${SECONDS} s; ${placementLine()}; at start: ${loadAverageLine()}`,
    );
    await world.up();
    await sweepDeadRuns(twinPrefix);
    const twin = await buildCustomRouteTwin(exec, twinPrefix);
    const vm = world.ns.vm1!;
    if (!(await eventually(() => world.pings(vm, PEER_IP, 1), 15_000))) throw new Error('vm1 cannot reach the peer');
    if (!(await eventually(() => world.pings(twin.vm, twin.peerIp, 1), 5_000))) throw new Error('native: no path');
    for (const n of [world.ns.peer!, twin.peer]) {
      const s = spawn('ip', ['netns', 'exec', n, 'iperf3', '-s', '-4'], { stdio: 'ignore' });
      servers.push(s);
      await new Promise((r) => setTimeout(r, 300));
      await pinProcess(exec, s.pid ?? 0, RECEIVER_CPU);
    }
    const cpu = PINNING ? SENDER_CPU : undefined;

    const bps = { native: [] as number[], cr: [] as number[], pure: [] as number[] };
    const rtt = { native: [] as number[], cr: [] as number[] };
    for (let i = 0; i < WARMUP + ROUNDS; i++) {
      const native = await iperfTcp(exec, twin.vm, twin.peerIp, SECONDS, cpu);
      const cr = await iperfTcp(exec, vm, PEER_IP, SECONDS, cpu);
      await portSecurity(world, false);
      const pure = await iperfTcp(exec, vm, PEER_IP, SECONDS, cpu);
      await portSecurity(world, true);
      const rn = await rtts(twin.vm, twin.peerIp);
      const rc = await rtts(vm, PEER_IP);
      const warm = i < WARMUP;
      if (!warm) {
        bps.native.push(native);
        bps.cr.push(cr);
        bps.pure.push(pure);
        rtt.native.push(...rn);
        rtt.cr.push(...rc);
      }
      const label = warm ? `warm-up ${i + 1} (not counted)` : `round ${i + 1 - WARMUP}`;
      console.log(
        `  ${label}: native ${gb(native)}, custom-route ${gb(cr)} (${(cr / native).toFixed(2)}×), ` +
          `without security groups ${gb(pure)} (${(pure / native).toFixed(2)}×); ` +
          `ping p50 native ${percentile(rn, 50).toFixed(3)} ms, custom-route ${percentile(rc, 50).toFixed(3)} ms`,
      );
    }
    console.log(`at end: ${loadAverageLine()}`);

    const r = roundRatios(bps.cr, bps.native);
    const [pn, pc] = [percentile(rtt.native, 50), percentile(rtt.cr, 50)];
    summary.push(
      'method: vm1 (mode instead, VPC address only) → the peer on node B by hyper IP, through the VPC router ' +
        'namespace, the hyperswitch (SNAT, hcr/tap, bridge, VXLAN) and the underlay; native: the same hops as ' +
        'namespaces and veths of the same shape and MTUs, plain IP routing, no NAT, bridge, VXLAN or netfilter; ' +
        'interleaved rounds, one iperf3 TCP flow each, median of per-round ratios',
    );
    summary.push(
      `one TCP flow (iperf3 -t ${SECONDS}, ${ROUNDS} rounds): custom-route ${gb(median(bps.cr))} vs native ` +
        `${gb(median(bps.native))}; custom-route / native ${formatRatios(r)} (target ≥ ${TARGET.toFixed(2)}×): ` +
        `${targets.check(`custom-route ≥ ${TARGET}× native`, r.median >= TARGET)}`,
    );
    summary.push(
      `custom-route with port security off on both ports (no security groups, br_netfilter off): ` +
        `${gb(median(bps.pure))}; / native ${formatRatios(roundRatios(bps.pure, bps.native))} (no target: ` +
        'what the hyperswitch hop costs without the security groups)',
    );
    summary.push(
      `ping RTT p50 over ${rtt.cr.length} pings each: custom-route ${pc.toFixed(3)} ms, native ${pn.toFixed(3)} ms: ` +
        `the hyperswitch adds ${((pc - pn) * 1000).toFixed(0)} µs`,
    );
  } finally {
    for (const s of servers) s.kill();
    await world.down();
    await sweepNamespaces(exec, realClock, twinPrefix);
  }
}

/**
 * The failover part, on a world whose routes the server's controller makes, with a standby: FAILOVERS
 * times the active hyperswitch dies as a dead instance (agent killed by PID, its ENI's and underlay's
 * links down) and comes back as the next round's standby; the sample is the time from the failure to
 * the first reply of a ping every 50 ms from vm1 to the peer.
 */
async function failover(targets: Targets): Promise<void> {
  const world = new CustomRouteWorld({
    prefix: foPrefix,
    artifacts: 'bench-custom-route-failover',
    routesBy: 'controller',
    standby: true,
    agentDownTime: DOWN_TIME_S,
    vms: [{ name: 'vm1', mode: 'instead', ip: VM_IP }],
  });
  let ping: PingWatch | undefined;
  try {
    await world.up();
    const vm = world.ns.vm1!;
    if (!(await eventually(() => world.pings(vm, PEER_IP, 1), 15_000))) throw new Error('vm1 cannot reach the peer');
    ping = new PingWatch(vm, PEER_IP, { deadlineS: FAILOVERS * 40 });
    const samples: number[] = [];
    for (let i = 0; i < FAILOVERS; i++) {
      const active = (await world.boundTo('vm1')) as Hyperswitch;
      const standby: Hyperswitch = active === 'hs' ? 'hs2' : 'hs';
      // A revived agent may take a while to register on a loaded machine (up to ~25 s seen at load 11).
      if (!(await eventually(() => world.agentAlive(standby), 60_000))) throw new Error(`${standby} is not alive`);
      const now = Date.now();
      if ((await ping.firstReplyAfter(now, 10_000)) < 0) throw new Error(`round ${i + 1}: no traffic before it`);
      const { failedAt, downAt } = await world.killHyperswitch(active);
      const first = await ping.firstReplyAfter(downAt, 40_000);
      if (first < 0)
        throw new Error(`round ${i + 1}: no reply within 40 s of ${active}'s failure; ping: ${ping.other}`);
      samples.push(first - failedAt);
      const to = await world.boundTo('vm1');
      const route = (await world.hyperRoutes()).get(HYPER);
      console.log(
        `  failover ${i + 1}: ${active} → ${to} (route → ${route === world.eni[to] ? to : route}), first reply ` +
          `${((first - failedAt) / 1000).toFixed(2)} s after the failure`,
      );
      await world.reviveHyperswitch(active);
    }
    const [p50, max] = [percentile(samples, 50) / 1000, Math.max(...samples) / 1000];
    summary.push(
      `failover of the active hyperswitch (agent_down_time ${DOWN_TIME_S} s, agents heartbeat every 3 s; ` +
        `ping every 50 ms), failure → first reply, over ${samples.length}: p50 ${p50.toFixed(2)} s, max ` +
        `${max.toFixed(2)} s (target max ≤ agent_down_time + 5 s = ${DOWN_TIME_S + 5} s): ` +
        `${targets.check(`failover max ≤ ${DOWN_TIME_S + 5} s`, max <= DOWN_TIME_S + 5)}`,
    );
  } finally {
    ping?.stop();
    await world.down();
  }
}

async function main(): Promise<void> {
  requireRoot('bench:custom-route');
  const targets = new Targets();
  await throughput(targets);
  if (FAILOVERS > 0) await failover(targets);
  console.log('\n=== custom-route benchmark summary ===');
  for (const l of summary) console.log(l);
  targets.finish('bench:custom-route');
}

runBench(main);
