/**
 * `hypernet lab migrate VM --to CLOUD`: the lab plays nova's live migration of a VM's attachment from
 * its cloud's hyperswitch to another cloud's, through the API's port bindings:
 *   1. POST an INACTIVE binding for the target host; the target agent prepares (bridge, filters, DHCP
 *      entry) and enslaves the new tap, which the lab plugs (veth `tap…` in the target hyperswitch, a
 *      spare interface with the same MAC, down, in the VM) — wait until it is enslaved;
 *   2. cutover in the VM in one `ip -batch`: delete the old interface (its tap goes with it), rename the
 *      spare to it, same address, MTU and routes, up — the VM now "runs" on the target;
 *   3. activate the target binding, in parallel with the cutover (every agent moves its FDB for the
 *      MAC, the target announces it), then delete the old, now inactive, binding (the old node
 *      removes its side last).
 * An agentless VM (no agent, a stock OpenVPN client) moves through its agentless port instead
 * (./agentless-migrate.ts); the same prober measures its blackout.
 * While it moves, a `Prober` pings the VM every 10 ms from another VM and reports the blackout: the
 * longest time without a reply beyond the probe interval, and the probes lost.
 */
import { spawn } from 'node:child_process';
import type { Clock } from '../common/clock.js';
import type { Exec } from '../common/exec.js';
import type { Port } from '../model/types.js';
import { bridgeName, tapName } from '../model/kernel-names.js';
import { isAgentlessVm, migrateAgentlessVm } from './agentless-migrate.js';
import type { CloudPlan } from './plan.js';
import type { LabVmRecord } from './state.js';
import { stopDhclient, vmInterface } from './vms.js';
import type { World } from './world.js';

const SPARE_IF = 'mig0';

export interface ProbeResult {
  sent: number;
  received: number;
  /** Longest time without a reply, beyond the probe interval (0 when nothing was lost), ms. */
  blackoutMs: number;
  /** Missing sequence numbers as ranges `a-b` (for post-mortems). */
  missing: string[];
}

/**
 * Pure: reads `ping -D` output (per-reply `[epoch] … icmp_seq=N` lines and the summary). The gaps
 * counted run between consecutive replies, and from the last reply to `stoppedAtMs` (a tail without
 * replies is a blackout too).
 */
export function parsePing(out: string, intervalMs: number, stoppedAtMs?: number): ProbeResult {
  const replies = [...out.matchAll(/^\[(\d+\.\d+)\] .*icmp_seq=(\d+)/gm)].map((m) => ({
    at: Number(m[1]) * 1000,
    seq: Number(m[2]),
  }));
  const sum = /(\d+) packets transmitted, (\d+) received/.exec(out);
  const sent = sum ? Number(sum[1]) : replies.length;
  const times = replies.map((r) => r.at);
  if (stoppedAtMs !== undefined && times.length) times.push(Math.max(stoppedAtMs, times[times.length - 1]));
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i] - times[i - 1]);
  const got = new Set(replies.map((r) => r.seq));
  const missing: string[] = [];
  for (let q = 1; q <= sent; q++) {
    if (got.has(q)) continue;
    let e = q;
    while (e + 1 <= sent && !got.has(e + 1)) e++;
    missing.push(e === q ? `${q}` : `${q}-${e}`);
    q = e;
  }
  return {
    sent,
    received: sum ? Number(sum[2]) : replies.length,
    blackoutMs: replies.length < 2 ? Infinity : Math.max(0, Math.round(gap - intervalMs)),
    missing,
  };
}

/** A bounded ping at `intervalMs` from namespace `ns`; `stop()` ends it (SIGINT, by its PID) and parses. */
export class Prober {
  private out = '';
  private readonly done: Promise<void>;
  private readonly child;

  constructor(
    ns: string,
    ip: string,
    private readonly intervalMs = 10,
    maxSeconds = 60,
  ) {
    this.child = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        'ping',
        '-n',
        '-D',
        '-i',
        String(intervalMs / 1000),
        '-W',
        '1',
        '-w',
        String(maxSeconds),
        ip,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child.stdout.on('data', (d: Buffer) => (this.out += d.toString()));
    this.done = new Promise((r) => this.child.once('close', () => r()));
  }

  async stop(): Promise<ProbeResult> {
    const at = Date.now();
    if (this.child.exitCode === null && this.child.pid) this.child.kill('SIGINT');
    await this.done;
    return parsePing(this.out, this.intervalMs, at);
  }
}

export interface MigrationTimings {
  /** Binding created → the target agent has enslaved the new tap. */
  prepareMs: number;
  /** Cutover in the VM + activation + old binding deleted. */
  switchMs: number;
}

async function waitUntil(clock: Clock, what: string, ms: number, probe: () => Promise<boolean>): Promise<void> {
  const t0 = clock.now();
  while (!(await probe())) {
    if (clock.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await clock.sleep(10);
  }
}

/** Routes of the VM's interface other than the kernel's own, as `ip route add` arguments. */
async function vmRoutes(exec: Exec, ns: string, ifname: string): Promise<string[]> {
  const r = await exec('ip', ['-n', ns, '-json', 'route', 'show', 'dev', ifname]);
  const routes = JSON.parse(r.stdout || '[]') as { dst: string; gateway?: string; protocol?: string }[];
  return routes
    .filter((x) => x.protocol !== 'kernel')
    .map((x) => `route add ${x.dst} ${x.gateway ? `via ${x.gateway} ` : ''}dev ${ifname}`);
}

/** Moves one lab VM's attachment to `to` (see the module comment). Updates lab.json. */
export async function migrateVm(
  world: World,
  vm: LabVmRecord,
  to: CloudPlan,
  ifname = 'eth0',
): Promise<MigrationTimings> {
  if (isAgentlessVm(vm)) {
    const { prepareMs, switchMs } = await migrateAgentlessVm(world, vm, to);
    return { prepareMs, switchMs };
  }
  const { api, exec, clock } = world;
  const from = vm.hostId;
  if (from === to.hostId) throw new Error(`${vm.name} is already on ${to.label}`);
  const port = await api.show<Port>('ports', 'port', vm.portId);
  const net = await api.show<{ 'provider:segmentation_id': number }>('networks', 'network', port.network_id);
  const bridge = bridgeName(net['provider:segmentation_id']);
  const tap = tapName(port.id);
  const iface = await vmInterface(exec, vm.ns, ifname);
  if (!iface.ip || !iface.prefixLen) throw new Error(`${vm.name} has no address on ${ifname}`);
  const routes = await vmRoutes(exec, vm.ns, ifname);

  const t0 = clock.now();
  await api.call('POST', `/v2.0/ports/${port.id}/bindings`, { binding: { host: to.hostId } });
  await exec('ip', [
    '-n',
    to.hyperswitchNs,
    'link',
    'add',
    tap,
    'type',
    'veth',
    'peer',
    'name',
    SPARE_IF,
    'address',
    port.mac_address,
    'mtu',
    String(iface.mtu ?? 1450),
    'netns',
    vm.ns,
  ]);
  await waitUntil(clock, `${to.hostId} to prepare ${tap}`, 15_000, async () => {
    const r = await exec('ip', ['-n', to.hyperswitchNs, '-json', 'link', 'show', 'dev', tap], { allowFail: true });
    return r.code === 0 && (JSON.parse(r.stdout) as { master?: string }[])[0]?.master === bridge;
  });
  const t1 = clock.now();

  // The VM "resumes" on the target: the DHCP client of the old interface goes with it.
  await stopDhclient(world.plan.paths, vm.name, clock);
  const batch = [
    `link del ${ifname}`,
    `link set ${SPARE_IF} name ${ifname}`,
    `addr add ${iface.ip}/${iface.prefixLen} dev ${ifname}`,
    `link set ${ifname} up`,
    ...routes,
  ];
  // The VM resumes on the target while the binding is activated (as nova does once the guest runs there).
  await Promise.all([
    exec('ip', ['-n', vm.ns, '-batch', '-'], { input: `${batch.join('\n')}\n` }),
    api.call('PUT', `/v2.0/ports/${port.id}/bindings/${encodeURIComponent(to.hostId)}/activate`),
  ]);
  await api.call('DELETE', `/v2.0/ports/${port.id}/bindings/${encodeURIComponent(from)}`);
  const t2 = clock.now();

  vm.hostId = to.hostId;
  vm.cloud = to.label;
  world.save();
  return { prepareMs: t1 - t0, switchMs: t2 - t1 };
}

/** A VM to probe from: another VM, preferably in a cloud that is neither source nor target. */
export function pickProbe(vms: readonly LabVmRecord[], moving: LabVmRecord, to: CloudPlan): LabVmRecord | undefined {
  const others = vms.filter((v) => v.name !== moving.name);
  return others.find((v) => v.hostId !== moving.hostId && v.hostId !== to.hostId) ?? others[0];
}

export interface MigrationReport extends MigrationTimings {
  probe: (ProbeResult & { from: string }) | null;
}

/** Migrates with a 10 ms prober running from `probeVm` (if any), settling `settleMs` after the move. */
export async function migrateMeasured(
  world: World,
  vm: LabVmRecord,
  to: CloudPlan,
  probeVm: LabVmRecord | undefined,
  settleMs = 500,
): Promise<MigrationReport> {
  if (!probeVm) return { ...(await migrateVm(world, vm, to)), probe: null };
  if (!(await world.pingRetry(probeVm.ns, vm.ip, 5)))
    throw new Error(`${probeVm.name} cannot reach ${vm.name} before the move`);
  const prober = new Prober(probeVm.ns, vm.ip);
  await world.clock.sleep(200);
  try {
    const t = await migrateVm(world, vm, to);
    await world.clock.sleep(settleMs);
    return { ...t, probe: { ...(await prober.stop()), from: probeVm.name } };
  } finally {
    await prober.stop();
  }
}
