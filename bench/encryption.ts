/**
 * Encrypted overlay benchmark (`npm run bench:encryption`, root). One lab world (real server and
 * agents, two clouds, one VM each, the default policy: the tunnel between the clouds is WireGuard).
 * Interleaved rounds of one TCP flow (iperf3 -t SECONDS) on four paths:
 *  - encrypted overlay: VM → hyperswitch → WireGuard(VXLAN) → hyperswitch → VM;
 *  - bare tunnel: a second wireguard-go pair between the same two hyperswitch namespaces, no overlay,
 *    its MTU the VMs' (the same packets' worth of payload), hyperswitch to hyperswitch;
 *  - plaintext overlay: the same VMs after the network is set to `hypernet:encryption: none`;
 *  - underlay: hyperswitch to hyperswitch on the lab internet, no tunnel at all.
 * Target: encrypted overlay ≥ 0.85 × bare tunnel (medians). Prints the medians and ratios at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { realClock } from '../src/common/clock.js';
import { realExec } from '../src/common/exec.js';
import { defaultWgIface } from '../src/agent/crypt/compile.js';
import { planLab } from '../src/lab/plan.js';
import { downLab, World } from '../src/lab/world.js';
import type { Network } from '../src/model/types.js';
import { requireRoot, runBench, Targets } from '../testkit/bench-targets.js';
import { median } from '../testkit/stats.js';
import { eventually } from '../testkit/wait.js';

const REPS = Number(process.env.BENCH_REPS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const TARGET = 0.85;
const exec = realExec;
const clock = realClock;
const prefix = `hne${process.pid}-`;
const plan = planLab({
  prefix,
  stateDir: `/tmp/hypernet-bench/${prefix.slice(0, -1)}`,
  apiPort: 0,
  vmsPerCloud: 1,
});
const world = new World(plan, { exec, clock });
const run = (n: string, cmd: string, args: string[], timeoutMs = 60_000) =>
  exec('ip', ['netns', 'exec', n, cmd, ...args], { allowFail: true, timeoutMs });
/**
 * The bare tunnel's interfaces (one per hyperswitch; names differ, as wireguard-go's control sockets
 * share one directory for the whole machine) and their addresses (inside the namespaces only).
 */
const BARE = [`hnbare${process.pid % 100000}a`, `hnbare${process.pid % 100000}b`];
const BARE_IP = ['100.126.255.1', '100.126.255.2'];

async function iperf(from: string, to: string): Promise<number> {
  const r = await run(from, 'iperf3', ['-4', '-c', to, '-t', String(SECONDS), '-J', '--connect-timeout', '3000']);
  const j = JSON.parse(r.stdout || '{}') as { end?: { sum_received?: { bits_per_second: number } }; error?: string };
  if (!j.end?.sum_received) throw new Error(`iperf3 ${from} → ${to}: ${j.error ?? r.stderr}`);
  return j.end.sum_received.bits_per_second;
}

/** A wireguard-go pair between the two hyperswitches, on its own port, MTU `mtu`. */
async function bareTunnel(mtu: number): Promise<void> {
  const [a, b] = plan.clouds;
  const keys = await Promise.all(
    [a, b].map(async () => {
      const priv = (await exec('wg', ['genkey'])).stdout.trim();
      const pub = (await exec('wg', ['pubkey'], { input: `${priv}\n` })).stdout.trim();
      return { priv, pub };
    }),
  );
  const must = async (p: ReturnType<typeof run>) => {
    const r = await p;
    if (r.code !== 0) throw new Error(`bare tunnel: ${r.stderr || r.stdout}`);
  };
  for (const [i, c] of [a, b].entries()) {
    const other = i === 0 ? b : a;
    const dev = BARE[i];
    await must(run(c.hyperswitchNs, 'wireguard-go', [dev]));
    await must(
      run(c.hyperswitchNs, 'sh', [
        '-c',
        `umask 077; f=$(mktemp); echo ${keys[i].priv} > $f; wg set ${dev} listen-port 51821 private-key $f ` +
          `peer ${keys[1 - i].pub} endpoint ${other.underlayIp}:51821 allowed-ips ${BARE_IP[1 - i]}/32; rm -f $f`,
      ]),
    );
    await must(run(c.hyperswitchNs, 'ip', ['addr', 'add', `${BARE_IP[i]}/24`, 'dev', dev]));
    await must(run(c.hyperswitchNs, 'ip', ['link', 'set', 'dev', dev, 'mtu', String(mtu), 'up']));
  }
  const ok = await eventually(
    async () => (await run(a.hyperswitchNs, 'ping', ['-c', '1', '-W', '1', BARE_IP[1]])).code === 0,
    10_000,
  );
  if (!ok) throw new Error('the bare WireGuard tunnel does not pass traffic');
}

async function setPolicy(networkId: string, p: 'none' | null): Promise<void> {
  await world.api.update<Network>('networks', 'network', networkId, { 'hypernet:encryption': p });
  const [a] = plan.clouds;
  const wg = defaultWgIface(a.hostId);
  const want = p === 'none' ? 0 : 1;
  const ok = await eventually(async () => {
    const d = await run(a.hyperswitchNs, 'wg', ['show', wg, 'peers']);
    return d.stdout.split('\n').filter(Boolean).length === want;
  }, 15_000);
  if (!ok) throw new Error(`the agents did not converge to policy ${p ?? 'default'}`);
}

async function main(): Promise<void> {
  requireRoot('bench:encryption');
  console.log(`encryption benchmark: 2 clouds, prefix ${prefix}, ${REPS} rounds of ${SECONDS} s`);
  await downLab(plan.paths.stateDir, prefix, { exec, clock });
  const targets = new Targets();
  const servers: ChildProcess[] = [];
  const got: Record<'encrypted' | 'bare' | 'plain' | 'underlay', number[]> = {
    encrypted: [],
    bare: [],
    plain: [],
    underlay: [],
  };
  try {
    const [va, vb] = await world.up();
    const [a, b] = plan.clouds;
    const netId = world.state.networkId!;
    await bareTunnel(plan.overlayMtu);
    for (const n of [vb.site.ns, b.hyperswitchNs])
      servers.push(spawn('ip', ['netns', 'exec', n, 'iperf3', '-s', '-4'], { stdio: 'ignore' }));
    await new Promise((r) => setTimeout(r, 500));
    for (let i = 0; i < REPS; i++) {
      await setPolicy(netId, null);
      got.encrypted.push(await iperf(va.site.ns, vb.ip));
      got.bare.push(await iperf(a.hyperswitchNs, BARE_IP[1]));
      await setPolicy(netId, 'none');
      got.plain.push(await iperf(va.site.ns, vb.ip));
      got.underlay.push(await iperf(a.hyperswitchNs, b.underlayIp));
      const g = (k: keyof typeof got) => (got[k][i] / 1e9).toFixed(2);
      console.log(
        `round ${i + 1}: encrypted ${g('encrypted')}, bare wg ${g('bare')}, plain ${g('plain')}, ` +
          `underlay ${g('underlay')} Gbit/s`,
      );
    }
    const m = Object.fromEntries(Object.entries(got).map(([k, v]) => [k, median(v)])) as Record<
      keyof typeof got,
      number
    >;
    const gb = (x: number) => `${(x / 1e9).toFixed(2)} Gbit/s`;
    console.log('\n=== encryption benchmark summary (medians, one TCP flow) ===');
    console.log(`encrypted overlay (VM → VM, WireGuard between clouds): ${gb(m.encrypted)}`);
    console.log(`bare wireguard-go tunnel (hyperswitch → hyperswitch):   ${gb(m.bare)}`);
    console.log(`plaintext overlay (VM → VM, policy none):               ${gb(m.plain)}`);
    console.log(`underlay (hyperswitch → hyperswitch, no tunnel):        ${gb(m.underlay)}`);
    const r = m.encrypted / m.bare;
    console.log(
      `encrypted / bare tunnel: ${r.toFixed(2)} (target ≥ ${TARGET}: ` +
        `${targets.check(`encrypted overlay ≥ ${TARGET}× bare tunnel`, r >= TARGET)})`,
    );
    console.log(`encrypted / plaintext overlay: ${(m.encrypted / m.plain).toFixed(2)}`);
    console.log(`encrypted / underlay: ${(m.encrypted / m.underlay).toFixed(2)}`);
    console.log('not measured here: CPU seconds per Gbit at each end, `all` inside one cloud');
  } finally {
    for (const s of servers) s.kill();
    world.copyLogs(join(process.cwd(), 'artifacts', 'bench-encryption'));
    // The bare tunnel's wireguard-go ends with its interface (the lab's down also ends what lives in its namespaces).
    for (const [i, c] of plan.clouds.entries()) await run(c.hyperswitchNs, 'ip', ['link', 'del', 'dev', BARE[i]]);
    const r = await world.down();
    console.log(`cleaned up: ${r.namespaces.length} namespaces, ${r.processes.size} processes`);
  }
  targets.finish('bench:encryption');
}

runBench(main);
