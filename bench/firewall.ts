/**
 * Security-group benchmark (root): full ruleset for 1,000 ports × 10 rules (compile + one nft -f,
 * median of 5), a single rule change and a remote-group membership change, and iperf3 throughput
 * through one bridge: unfiltered vs security groups on (200 ports × 10 rules) vs br_netfilter on with
 * the two ports unfiltered. Namespaces carry a per-run prefix and are removed at the end.
 */
import { compileFirewall } from '../src/agent/firewall/compile.js';
import { FirewallDriver } from '../src/agent/firewall/driver.js';
import { fullText } from '../src/agent/firewall/render.js';
import { tapName } from '../src/agent/names.js';
import { silentLogger } from '../src/common/log.js';
import { makePort, portId, scaleModel } from '../test/agent/firewall/fixtures.js';
import { NodeEnv, sweepStale } from '../test/agent/firewall/netenv.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = process.hrtime.bigint();
  const r = await f();
  return [r, Number(process.hrtime.bigint() - t0) / 1e6];
}

async function iperf(env: NodeEnv, client: string, server: string): Promise<number> {
  const w = env.workloads.find((x) => x.ns === client)!;
  const r = await w.exec('iperf3', ['-c', server, '-t', '2', '-J'], { timeoutMs: 20_000 });
  return JSON.parse(r.stdout).end.sum_received.bits_per_second / 1e9;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('bench:firewall needs root');
    return;
  }
  await sweepStale();
  const env = new NodeEnv();
  const out: string[] = [];
  try {
    await env.create();
    const w1 = await env.addWorkload(1, tapName(portId(1)), 'fa:16:3e:00:00:01', '10.0.0.2');
    const w2 = await env.addWorkload(2, tapName(portId(2)), 'fa:16:3e:00:00:02', '10.0.0.3');
    const mode = await new FirewallDriver(env.node, silentLogger()).detectMode();
    out.push(`mode: ${mode}`);

    // 1. full ruleset, 1,000 ports × 10 rules, fresh driver each time (no shortcut)
    const compileMs: number[] = [];
    const totalMs: number[] = [];
    for (let k = 0; k < 5; k++) {
      const drv = new FirewallDriver(env.node, silentLogger());
      const [, ms] = await timed(async () => {
        const [c, cms] = await timed(async () => compileFirewall(scaleModel(1000, mode)));
        compileMs.push(cms);
        await drv.apply(c);
      });
      totalMs.push(ms);
    }
    const big = compileFirewall(scaleModel(1000, mode));
    out.push(`full apply 1000 ports x 10 rules: median ${median(totalMs).toFixed(0)} ms (compile ${median(compileMs).toFixed(0)} ms; ${fullText(big, 1).split('\n').length} lines, ${big.chains.size + big.base.length} chains) target <= 1000 ms`);

    // 2. one rule change (full replace) and one membership change (set update only)
    const drv = new FirewallDriver(env.node, silentLogger());
    await drv.apply(big);
    const ruleMs: number[] = [];
    const setMs: number[] = [];
    for (let k = 0; k < 5; k++) {
      ruleMs.push((await timed(() => drv.apply(compileFirewall(scaleModel(1000, mode, k % 2 === 0)))))[1]);
    }
    await drv.apply(big);
    for (let k = 0; k < 5; k++) {
      const m = scaleModel(1000, mode);
      if (k % 2 === 0) m.allPorts = [...m.allPorts, makePort({ id: 'remote', mac_address: 'fa:16:3e:ff:00:01', security_groups: ['sg7'] }, ['10.9.0.1'])];
      const [kind, ms] = await timed(() => drv.apply(compileFirewall(m)));
      if (kind !== 'delta') throw new Error(`expected a set update, got ${kind}`);
      setMs.push(ms);
    }
    out.push(`single rule change (1000 ports): median ${median(ruleMs).toFixed(0)} ms; membership change (set only): median ${median(setMs).toFixed(0)} ms`);

    // 3. throughput through the same bridge
    const iperfSrv = env.spawnIn(w2.ns, 'iperf3', ['-s']);
    await new Promise((r) => setTimeout(r, 300));
    const runs = async () => median([await iperf(env, w1.ns, w2.ip), await iperf(env, w1.ns, w2.ip), await iperf(env, w1.ns, w2.ip)]);
    await drv.teardown();
    await env.node('sysctl', ['-q', '-w', 'net.bridge.bridge-nf-call-iptables=0', 'net.bridge.bridge-nf-call-ip6tables=0']);
    const base = await runs();
    await drv.prepare(mode);
    const sg200 = scaleModel(200, mode);
    await drv.apply(compileFirewall(sg200));
    const filtered = await runs();
    const off = { ...sg200, localPorts: sg200.localPorts.map((lp, i) => (i < 2 ? { ...lp, port: { ...lp.port, port_security_enabled: false } } : lp)) };
    await drv.apply(compileFirewall(off));
    const unfilteredBrnf = await runs();
    iperfSrv.kill('SIGKILL');
    out.push(`throughput unfiltered (no tables, br_netfilter off): ${base.toFixed(2)} Gbit/s`);
    out.push(`throughput security groups on (200 ports x 10 rules): ${filtered.toFixed(2)} Gbit/s = ${(filtered / base).toFixed(3)}x (target >= 0.95x)`);
    out.push(`throughput br_netfilter on, both ports port-security off: ${unfilteredBrnf.toFixed(2)} Gbit/s = ${(unfilteredBrnf / base).toFixed(3)}x`);
  } finally {
    await env.destroy();
  }
  console.log('\n== bench:firewall summary ==');
  for (const l of out) console.log(l);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
