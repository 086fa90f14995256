/**
 * Agentless datapath benchmark (root). One run measures, with one TCP flow (iperf3 -t 5, median of
 * REPS runs):
 *  - agentless: a lab VM with no agent (stock openvpn client from its user_data) → a VM in the other
 *    cloud, through the hyperswitch (OpenVPN TAP → bridge → VXLAN → the other cloud's agent);
 *  - bare tunnel: the same OpenVPN server (OpenVpnServers, same certificates and MTUs) and the same
 *    stock client between two namespaces joined by one veth, static IPs on the TAPs, no overlay.
 * Target: agentless ≥ 0.9 × bare tunnel. Everything lives in namespaces with a per-run prefix and is
 * removed at the end (also on failure). Run: npm run bench:agentless.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { realClock } from '../src/common/clock.js';
import { inNetns, realExec } from '../src/common/exec.js';
import { silentLogger } from '../src/common/log.js';
import { OpenVpnServers } from '../src/agentless/openvpn/driver.js';
import { CertificateAuthority } from '../src/agentless/pki/ca.js';
import { memoryStorage } from '../src/agentless/pki/storage.js';
import { buildUserData } from '../src/agentless/userdata.js';
import { bootFromUserData, CLIENT_TAP, stopClient } from '../src/lab/agentless.js';
import { addNetns } from '../src/lab/netns.js';
import { planLab } from '../src/lab/plan.js';
import { waitFor } from '../src/lab/processes.js';
import { downLab, World } from '../src/lab/world.js';

const SECONDS = 5;
const REPS = 3;
const deps = { exec: realExec, clock: realClock };
const prefix = `hnba${process.pid}-`;
const stateDir = join(tmpdir(), 'hypernet-bench', prefix.slice(0, -1));

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const gbit = (bps: number): string => `${(bps / 1e9).toFixed(2)} Gbit/s`;

async function iperf(fromNs: string, toNs: string, toIp: string): Promise<number[]> {
  const server = spawn('ip', ['netns', 'exec', toNs, 'iperf3', '-s', '-4'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 500));
    const out: number[] = [];
    for (let i = 0; i < REPS; i++) {
      const r = await realExec('ip', ['netns', 'exec', fromNs, 'iperf3', '-4', '-c', toIp, '-t', String(SECONDS), '-J', '--connect-timeout', '3000'],
        { allowFail: true, timeoutMs: (SECONDS + 15) * 1000 });
      const j = JSON.parse(r.stdout || '{}') as { end?: { sum_received?: { bits_per_second: number } }; error?: string };
      if (!j.end?.sum_received) throw new Error(`iperf3 ${fromNs} → ${toIp}: ${j.error ?? r.stderr}`);
      out.push(j.end.sum_received.bits_per_second);
    }
    return out;
  } finally {
    server.kill('SIGTERM');
  }
}

/** The agentless path in a 2-cloud lab: vm-b1 (agentless) → vm-a1 (agent mode). */
async function agentlessPath(): Promise<{ runs: number[]; mtu: number }> {
  const world = new World(planLab({ prefix, stateDir, apiPort: 0, clouds: 2, vmsPerCloud: 1, agentlessVms: 1 }), deps);
  try {
    await world.up();
    const a1 = world.state.vms.find((v) => v.name === 'vm-a1')!;
    const b1 = world.state.vms.find((v) => v.name === 'vm-b1')!;
    if (!(await world.pingRetry(b1.ns, a1.ip, 5))) throw new Error('agentless VM cannot reach vm-a1');
    return { runs: await iperf(b1.ns, a1.ns, a1.ip), mtu: world.plan.overlayMtu };
  } finally {
    await world.down();
  }
}

/** The same OpenVPN server and stock client across one veth, no overlay. */
async function bareTunnel(mtu: number): Promise<number[]> {
  const tmp = mkdtempSync(join(tmpdir(), 'hypernet-bench-vpn-'));
  const [s, c] = [`${prefix}bare-s`, `${prefix}bare-c`];
  const portId = '00000000-0000-4000-8000-00000000beef';
  try {
    await addNetns(realExec, s);
    await addNetns(realExec, c);
    await realExec('ip', ['-n', s, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', c]);
    for (const [ns, ip] of [[s, '203.0.113.1'], [c, '203.0.113.2']] as const) {
      await realExec('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
      await realExec('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    }
    const ca = await CertificateAuthority.open(memoryStorage());
    const server = await ca.issueServer({ name: 'hs-bare', ips: ['203.0.113.1'] });
    const client = await ca.issueClient({ portId, providerIp: '203.0.113.2' });
    const servers = new OpenVpnServers({ exec: realExec, log: silentLogger(), dir: join(tmp, 'hs'), netns: s });
    await servers.setCredentials({ caPem: server.caPem, certPem: server.certPem, keyPem: server.keyPem, crlPem: await ca.crlPem() });
    const mac = 'fa:16:3e:00:be:ef';
    await servers.ensure({ portId, providerIp: '203.0.113.2', macAddress: mac, listenIp: '203.0.113.1', listenPort: 1194, mtu, underlayMtu: 1500 });
    await inNetns(realExec, s)('ip', ['addr', 'add', '10.9.0.1/24', 'dev', `tap${portId.slice(0, 11)}`]);
    const dir = join(tmp, 'client');
    await bootFromUserData(realExec, c, dir, buildUserData({ portId, macAddress: mac, remoteIp: '203.0.113.1', remotePort: 1194, mtu, underlayMtu: 1500,
      serverName: 'hs-bare', caPem: client.caPem, certPem: client.certPem, keyPem: client.keyPem }));
    await waitFor('the bare client TAP', async () => (await realExec('ip', ['-n', c, 'link', 'show', CLIENT_TAP], { allowFail: true })).code === 0, realClock, 20_000);
    await realExec('ip', ['-n', c, 'addr', 'add', '10.9.0.2/24', 'dev', CLIENT_TAP]);
    await waitFor('the bare tunnel', async () => (await realExec('ip', ['netns', 'exec', c, 'ping', '-c', '1', '-W', '1', '10.9.0.1'], { allowFail: true })).code === 0, realClock, 20_000);
    try {
      return await iperf(c, s, '10.9.0.1');
    } finally {
      await stopClient(dir, realClock);
      await servers.sync([]);
    }
  } finally {
    for (const ns of [s, c]) {
      const pids = (await realExec('ip', ['netns', 'pids', ns], { allowFail: true })).stdout.split(/\s+/).filter(Boolean).map(Number);
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL'); // only processes this benchmark started live in its namespaces
        } catch {
          /* gone */
        }
      }
      await realExec('ip', ['netns', 'del', ns], { allowFail: true });
    }
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error('bench:agentless needs root (network namespaces)');
    process.exit(2);
  }
  await downLab(stateDir, prefix, deps);
  try {
    const agentless = await agentlessPath();
    const bare = await bareTunnel(agentless.mtu);
    const ratio = median(agentless.runs) / median(bare);
    console.log(`\nagentless datapath, one TCP flow (iperf3 -t ${SECONDS}, median of ${REPS}), TAP MTU ${agentless.mtu}`);
    console.log(`  agentless VM → VM in the other cloud : ${gbit(median(agentless.runs))}  (runs: ${agentless.runs.map(gbit).join(', ')})`);
    console.log(`  bare OpenVPN tunnel, no overlay      : ${gbit(median(bare))}  (runs: ${bare.map(gbit).join(', ')})`);
    console.log(`  ratio agentless / bare               : ${ratio.toFixed(2)}×  (target ≥ 0.90×: ${ratio >= 0.9 ? 'met' : 'NOT met'})`);
  } finally {
    await downLab(stateDir, prefix, deps);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
