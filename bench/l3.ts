/**
 * L3 benchmark (`npm run bench:l3`, root). On one lab world (real server and agents, two clouds, the
 * lab's router with a gateway per cloud, a second tenant subnet behind it, encryption off on both
 * networks so the flows measure routing, not WireGuard):
 *  - east-west routed across clouds: one TCP flow (iperf3 -t 5) from vm-a1 (10.0.1.0/24, cloud-a) to a
 *    VM of the second subnet in cloud-b, against the same flow routed natively over the same hops
 *    (VM → hyperswitch → internet → hyperswitch → VM) in a twin topology with no agent;
 *  - a floating-IP flow: the external host → vm-a1's floating IP, against the same flow through a plain
 *    nft DNAT on the twin's hyperswitch to the twin VM's native address;
 *  - floating-IP association: time from the API call to the first probe from the external host that
 *    reaches the new VM through it, the floating IP moved between two VMs of cloud-a, p99 of the samples;
 *  - metadata: GETs from vm-a1 to 169.254.169.254 (each on a new connection, timed by curl), through
 *    the node's proxy to the server, a batch per round, p99 of all;
 *  - SNAT: 10,000 TCP connections from vm-a2 (no floating IP: the router's SNAT) to the external
 *    host, held open together, then each must still echo a line.
 * Rounds are interleaved (native, overlay, native, …); medians. Prints a summary and exits 1 when a
 * target is missed: east-west ≥ 0.85× native, floating IP ≥ 0.90× DNAT, association p99 ≤ 300 ms,
 * metadata p99 ≤ 20 ms, all 10,000 SNAT connections held.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { realClock } from '../src/common/clock.js';
import { realExec } from '../src/common/exec.js';
import type { FloatingIp, Network, Subnet } from '../src/model/types.js';
import { planLab, planNamespaces, type LabPlan } from '../src/lab/plan.js';
import { buildExternalHost, EXTERNAL_HOST, externalCidr, externalHostNs, setUpLabRouter } from '../src/lab/router.js';
import { buildTopology, NATIVE_NEXT_HOP, plugNative, sweepNamespaces } from '../src/lab/topology.js';
import { downLab, World, type LabVm } from '../src/lab/world.js';
import { parseCidr, bigIntToIp } from '../src/model/grammar/addresses.js';
import { requireRoot, runBench, Targets } from '../testkit/bench-targets.js';
import { median, percentile } from '../testkit/stats.js';
import { iperfTcp } from '../testkit/iperf.js';
import { curlTimes } from '../testkit/curl-times.js';
import { holdThroughSnat } from '../testkit/snat-hold.js';
import { watchFirst } from '../testkit/first-packet.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { listNetns } from '../src/common/netns.js';

const REPS = Number(process.env.BENCH_REPS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const FIP_SAMPLES = 2 * Math.ceil(Number(process.env.BENCH_FIP_SAMPLES ?? 20) / 2);
const META_PER_ROUND = Number(process.env.BENCH_META ?? 100);
const SNAT_CONNS = Number(process.env.BENCH_SNAT_CONNS ?? 10_000);
const SNAT_HOLD_MS = Number(process.env.BENCH_SNAT_HOLD_MS ?? 10_000);
const PROBE = new URL('../testkit/udp-probe.js', import.meta.url).pathname;
const PROBE_PORT = 7099;
// BENCH_PREFIX: a caller sharing the machine picks its own namespace prefix (the twin's ends in `n-`).
const prefix = process.env.BENCH_PREFIX ?? 'hnL-bl3-';
const twinPrefix = `${prefix.replace(/-$/, '')}n-`;
const exec = realExec;
const clock = realClock;
const plan = planLab({ prefix, stateDir: `/tmp/${prefix}bench-l3`, clouds: 2, vmsPerCloud: 2, apiPort: 0 });
const world = new World(plan, { exec, clock, onStep: (s, ms) => console.log(`  ✓ ${s} (${ms} ms)`) });

const run = (n: string, cmd: string, args: string[], timeoutMs = 15_000) =>
  exec('ip', ['netns', 'exec', n, cmd, ...args], { allowFail: true, timeoutMs });

const iperf = (from: string, to: string): Promise<number> => iperfTcp(exec, from, to, SECONDS);

/** One ping; `wait` seconds for its reply (fractions allowed). */
const pingOnce = async (from: string, to: string, wait = '1'): Promise<boolean> =>
  (await run(from, 'ping', ['-n', '-c', '1', '-W', wait, to])).code === 0;

async function until(probe: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = clock.now() + ms;
  while (clock.now() < end) if (await probe()) return true;
  return false;
}

/** The twin: the lab's topology without agents, VM a → its hyperswitch → internet → hyperswitch → VM b. */
async function buildTwin(): Promise<{ twin: LabPlan; from: string; toIp: string; dnatIp: string }> {
  const twin = planLab({ prefix: twinPrefix, stateDir: plan.paths.stateDir, vmsPerCloud: 1 });
  await buildTopology(exec, twin);
  const [va, vb] = twin.vms as [LabPlan['vms'][number], LabPlan['vms'][number]];
  const aIp = await plugNative(exec, twin, va);
  const toIp = await plugNative(exec, twin, vb);
  // The floating-IP baseline: the external host → an address of cloud-a's external range, DNATed by
  // a plain nft rule on the hyperswitch to VM a's native address.
  const ext = await buildExternalHost(exec, twin);
  await run(va.ns, 'ip', ['route', 'add', EXTERNAL_HOST.ip, 'via', NATIVE_NEXT_HOP, 'dev', 'nat0']);
  const cidr = parseCidr(externalCidr(twin.clouds[0]!.workloadCidr)!);
  const dnatIp = bigIntToIp(cidr.last - 1n, 4);
  await exec('ip', ['netns', 'exec', twin.clouds[0]!.hyperswitchNs, 'nft', '-f', '-'], {
    input: `table ip bench_dnat {\n chain pre {\n  type nat hook prerouting priority dstnat; policy accept;\n  ip daddr ${dnatIp} dnat to ${aIp}\n }\n}\n`,
  });
  if (!(await until(() => pingOnce(ext, dnatIp), 5_000))) throw new Error('twin: DNAT baseline unreachable');
  if (!(await until(() => pingOnce(va.ns, toIp), 5_000))) throw new Error('twin: native path unreachable');
  return { twin, from: va.ns, toIp, dnatIp };
}

async function main(): Promise<void> {
  requireRoot('bench:l3');
  const targets = new Targets();
  await downLab(plan.paths.stateDir, prefix, { exec, clock });
  await sweepNamespaces(exec, clock, twinPrefix);
  const servers: ChildProcess[] = [];
  try {
    console.log(`L3 benchmark: 2 clouds, prefix ${prefix}`);
    const vms = await world.up();
    const [a1, a2] = [vms.find((v) => v.site.name === 'vm-a1')!, vms.find((v) => v.site.name === 'vm-a2')!];
    const l3 = await world.step('router, gateways, floating IP', () => setUpLabRouter(world.api, exec, world.state));
    const api = world.api;
    await api.update('networks', 'network', world.state.networkId!, { 'hypernet:encryption': 'none' });
    const net2 = await api.create<Network>('networks', 'network', {
      name: 'hyper-net-2',
      'hypernet:encryption': 'none',
    });
    const sub2 = await api.create<Subnet>('subnets', 'subnet', { network_id: net2.id, cidr: '10.0.2.0/24' });
    await api.call('PUT', `/v2.0/routers/${l3.routerId}/add_router_interface`, { subnet_id: sub2.id });
    const site = await world.newVmSite(plan.clouds[1]!, 'vm-b9');
    const b9: LabVm = await world.step('vm-b9 on the second subnet (cloud-b)', () => world.addVm(site, net2.id));
    await api.create('security-group-rules', 'security_group_rule', {
      security_group_id: a1.port.security_groups[0],
      direction: 'ingress',
      ethertype: 'IPv4',
      protocol: 'tcp',
      port_range_min: 5201,
      port_range_max: 5201,
      remote_ip_prefix: '0.0.0.0/0',
    });
    // The association probes (vm-a2 is in the same default group).
    await api.create('security-group-rules', 'security_group_rule', {
      security_group_id: a1.port.security_groups[0],
      direction: 'ingress',
      ethertype: 'IPv4',
      protocol: 'udp',
      port_range_min: PROBE_PORT,
      port_range_max: PROBE_PORT,
      remote_ip_prefix: '0.0.0.0/0',
    });
    const ext = externalHostNs(plan);
    const fip = l3.floatingips[0]!;
    if (!(await until(() => pingOnce(a1.site.ns, b9.ip), 30_000))) throw new Error('routed east-west unreachable');
    if (!(await until(() => pingOnce(ext, fip.ip), 30_000))) throw new Error('floating IP unreachable');
    const t = await world.step('native twin', () => buildTwin());
    for (const n of [b9.site.ns, a1.site.ns, t.twin.vms[1]!.ns, t.twin.vms[0]!.ns])
      servers.push(spawn('ip', ['netns', 'exec', n, 'iperf3', '-s', '-4'], { stdio: 'ignore' }));
    await new Promise((r) => setTimeout(r, 500));

    const f = { native: [] as number[], routed: [] as number[], dnat: [] as number[], fip: [] as number[] };
    const meta: number[] = [];
    const metaCodes: Record<string, number> = {};
    for (let i = 0; i < REPS; i++) {
      f.native.push(await iperf(t.from, t.toIp));
      f.routed.push(await iperf(a1.site.ns, b9.ip));
      f.dnat.push(await iperf(externalHostNs(t.twin), t.dnatIp));
      f.fip.push(await iperf(ext, fip.ip));
      const m = await curlTimes(exec, a1.site.ns, METADATA_URL, META_PER_ROUND);
      meta.push(...m.ms);
      for (const [c, n] of Object.entries(m.codes)) metaCodes[c] = (metaCodes[c] ?? 0) + n;
      console.log(
        `  round ${i + 1}: native ${gb(f.native[i]!)}, routed ${gb(f.routed[i]!)}, DNAT ${gb(f.dnat[i]!)}, floating IP ${gb(f.fip[i]!)}`,
      );
    }

    // Association: move the floating IP between vm-a1 and vm-a2, timed from the API call to the first
    // probe datagram the new VM gets (tcpdump in it, started before the call). The probes come every
    // 10 ms from the external host, each a new conntrack entry, so each meets the NAT of its moment.
    const fipObj = (await api.list<FloatingIp>('floatingips')).find((x) => x.floating_ip_address === fip.ip)!;
    // The probe runs before the first move (node's own start is no part of a sample): its datagrams
    // reach vm-a1, which holds the floating IP now.
    const warm = await watchFirst(clock, a1.site.ns, 'eth0', `udp dst port ${PROBE_PORT}`);
    const probe = spawn('ip', ['netns', 'exec', ext, process.execPath, PROBE, fip.ip, String(PROBE_PORT), '10'], {
      stdio: 'ignore',
    });
    servers.push(probe);
    await Promise.race([warm.arrived, sleep(15_000).then(() => Promise.reject(new Error('no probe reached vm-a1')))]);
    warm.stop();
    const assoc: number[] = [];
    for (let i = 0; i < FIP_SAMPLES; i++) {
      const to = i % 2 === 0 ? a2 : a1;
      const seen = await watchFirst(clock, to.site.ns, 'eth0', `udp dst port ${PROBE_PORT}`);
      try {
        const t0 = clock.now();
        await api.update('floatingips', 'floatingip', fipObj.id, { port_id: to.port.id });
        const at = await Promise.race([seen.arrived.catch(() => null), sleep(5_000).then(() => null)]);
        assoc.push(at === null ? 5_000 : at - t0);
      } finally {
        seen.stop();
      }
    }

    // SNAT: the moves (an even number) left the floating IP on vm-a1: vm-a2's connections leave through
    // the router's SNAT. After the moves, so closing 10,000 connections does not load their first one.
    // The router namespace tracks each connection; the node (cloud-a's hyperswitch) once, in the bridge
    // (security groups): its routed pass is not tracked.
    const routerNs = (await listNetns(exec)).filter((n) => n.startsWith(prefix) && n.includes('qr-'));
    const watch = [...routerNs, plan.clouds[0]!.hyperswitchNs];
    const snat = await world.step(`${SNAT_CONNS} connections through SNAT`, () =>
      holdThroughSnat(exec, {
        serverNs: ext,
        serverIp: EXTERNAL_HOST.ip,
        clientNs: a2.site.ns,
        count: SNAT_CONNS,
        holdMs: SNAT_HOLD_MS,
        watch,
      }),
    );

    const ratio = (x: number[], y: number[]) => median(x) / median(y);
    const ew = ratio(f.routed, f.native);
    const fr = ratio(f.fip, f.dnat);
    const p99 = percentile(assoc, 99);
    console.log('\n=== L3 benchmark summary ===');
    console.log(`one TCP flow (iperf3 -t ${SECONDS}, median of ${REPS}, interleaved)`);
    console.log(
      `east-west routed across clouds: ${gb(median(f.routed))} vs native ${gb(median(f.native))} = ${ew.toFixed(2)}× (target ≥ 0.85×): ${targets.check('east-west ≥ 0.85× native', ew >= 0.85)}`,
    );
    console.log(
      `floating IP: ${gb(median(f.fip))} vs plain nft DNAT ${gb(median(f.dnat))} = ${fr.toFixed(2)}× (target ≥ 0.90×): ${targets.check('floating IP ≥ 0.90× DNAT', fr >= 0.9)}`,
    );
    console.log(
      `floating-IP association, API call to first packet at the new VM: p50 ${percentile(assoc, 50).toFixed(0)} ms, p99 ${p99.toFixed(0)} ms over ${assoc.length} moves (target p99 ≤ 300 ms): ${targets.check('association p99 ≤ 300 ms', p99 <= 300)}`,
    );
    console.log(`  association samples (ms, in order): ${assoc.map((x) => x.toFixed(0)).join(' ')}`);
    const mp99 = percentile(meta, 99);
    const metaOk = mp99 <= 20 && meta.length === META_PER_ROUND * REPS && !metaCodes['000'];
    console.log(
      `metadata GET (new connection each): p50 ${percentile(meta, 50).toFixed(1)} ms, p99 ${mp99.toFixed(1)} ms over ${meta.length} requests, HTTP ${JSON.stringify(metaCodes)} (target p99 ≤ 20 ms): ${targets.check('metadata p99 ≤ 20 ms', metaOk)}`,
    );
    const held = snat.opened === SNAT_CONNS && snat.lost === 0 && snat.echoed === SNAT_CONNS;
    console.log(
      `SNAT: ${snat.opened}/${SNAT_CONNS} opened, ${snat.lost} lost during a ${SNAT_HOLD_MS / 1000} s hold, ${snat.echoed} echoed after it; peak conntrack ${JSON.stringify(snat.conntrack)} (max ${snat.conntrackMax})${snat.errors.length ? `; errors: ${snat.errors.join(' | ')}` : ''} (target all ${SNAT_CONNS} held): ${targets.check(`${SNAT_CONNS} SNAT connections held`, held)}`,
    );
  } finally {
    for (const s of servers) s.kill();
    world.copyLogs(join(process.cwd(), 'artifacts', 'bench-l3'));
    const r = await world.down();
    await sweepNamespaces(exec, clock, twinPrefix);
    console.log(`cleaned up: ${r.namespaces.length} namespaces (+ the twin's)`);
  }
  targets.finish('bench:l3');
}

const METADATA_URL = 'http://169.254.169.254/openstack/latest/meta_data.json';
const gb = (bps: number): string => `${(bps / 1e9).toFixed(2)} Gbit/s`;

runBench(main);
