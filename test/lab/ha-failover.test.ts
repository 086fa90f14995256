/**
 * The failure test of issue 22 on the lab: three `hypernet server` processes on one throwaway
 * PostgreSQL, two lab clouds with their real agents (given the three servers) and a VM in each, and
 * writers creating, moving and deleting ports through all three. One server is killed with SIGKILL in
 * the middle of the stream while a bounded ping stream runs between the two VMs. Afterwards: no
 * acknowledged write lost or doubled, no address held twice, every agent has applied the database's
 * last revision with the database's ports, and the ping stream had no gap. Then PostgreSQL is stopped:
 * the surviving servers answer 503 ServiceUnavailable, the VMs still reach each other (the agents keep
 * the datapath), and once PostgreSQL is back the servers and agents recover by themselves.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { ApiClient, ApiError } from '../../src/client/api.js';
import { realExec } from '../../src/common/exec.js';
import { LAB_AGENT_METRICS } from '../../src/lab/agent-processes.js';
import { listNetnsWithPrefix } from '../../src/lab/netns.js';
import { type CloudPlan, planLab, serverSockets } from '../../src/lab/plan.js';
import { downLab, type LabVm, World } from '../../src/lab/world.js';
import type { Port } from '../../src/model/types.js';
import { assertAcknowledged, type HaPort, runWriteStream } from '../../testkit/ha-workload.js';
import { hasPostgres, startTestPostgres, type TestPostgres } from '../../testkit/postgres.js';
import { isRoot, skipOrFail } from '../../testkit/preconditions.js';
import { deps, eventually, nsRun, TEST_ROOT, teardown } from '../net/fixture.js';
import { promSeries } from '../../testkit/prometheus-text.js';

const PREFIX = 'hnC-';
const STATE_DIR = join(TEST_ROOT, 'hnC');
const WRITERS = 3;
const OPS_PER_WRITER = 40;
/** The writers' acknowledged operations after which the first server is killed. */
const KILL_AFTER = 30;
/** Ping interval (s) and the most packets a stream sends: bounded traffic even if the test hangs. */
const PING_INTERVAL = 0.05;
const PING_MAX = 2_400;
/** A stream runs at least this long (40 pings), so a failover that is over at once is still crossed by traffic. */
const MIN_STREAM_MS = 2_000;
/**
 * Losses allowed in a ping stream: none is expected (killing a server or the database changes nothing
 * in the kernel), but on a shared, loaded 2-core machine a reply can come later than ping's 1 s wait.
 * The longest run of lost packets proves traffic never stopped: 6 packets (0.3 s) at most.
 */
const MAX_LOSS_RATIO = 0.02;
const MAX_GAP = 6;

let db: TestPostgres | undefined;
let world: World | undefined;
let vms: LabVm[] = [];
const ready = () => isRoot() && hasPostgres();

before(async () => {
  if (!ready()) return;
  await downLab(STATE_DIR, PREFIX, deps); // what an earlier run that crashed left behind
  db = await startTestPostgres();
  const plan = planLab({
    prefix: PREFIX,
    stateDir: STATE_DIR,
    apiPort: 0,
    clouds: 2,
    vmsPerCloud: 1,
    database: db.url,
    servers: 3,
  });
  world = new World(plan, deps);
  vms = await world.up();
});
after(async () => {
  if (world) await teardown(world, 'ha-failover');
  db?.stop();
  if (ready()) assert.deepEqual(await listNetnsWithPrefix(realExec, PREFIX), [], 'no namespace left');
});

/** A ping stream from one VM to another's IP, stopped by PID; reports sent, received and the longest gap. */
function pingStream(from: LabVm, to: LabVm) {
  const child: ChildProcess = spawn(
    'ip',
    [
      'netns',
      'exec',
      from.site.ns,
      'ping',
      '-n',
      '-i',
      String(PING_INTERVAL),
      '-W',
      '1',
      '-c',
      String(PING_MAX),
      to.ip,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const started = Date.now();
  return {
    async stop(): Promise<{ sent: number; received: number; maxGap: number }> {
      const left = started + MIN_STREAM_MS - Date.now();
      if (left > 0) await delay(left);
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGINT');
      await exited;
      const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
      assert.ok(m, `ping printed its summary:\n${out.slice(-500)}`);
      const seqs = [...out.matchAll(/icmp_seq=(\d+)/g)].map((x) => Number(x[1]));
      // The last request may still be in flight when ping is interrupted: ping counts it as sent
      // and not received, but nothing says it was lost.
      const sent = Number(m[1]) > 0 && !seqs.includes(Number(m[1])) ? Number(m[1]) - 1 : Number(m[1]);
      let maxGap = 0;
      let last = 0;
      for (const s of [...seqs, sent + 1]) {
        maxGap = Math.max(maxGap, s - last - 1);
        last = s;
      }
      return { sent, received: Number(m[2]), maxGap };
    },
  };
}

function assertTraffic(what: string, r: { sent: number; received: number; maxGap: number }): void {
  assert.ok(r.sent >= 20, `${what}: the stream ran (${r.sent} sent)`);
  const lost = r.sent - r.received;
  assert.ok(lost <= r.sent * MAX_LOSS_RATIO, `${what}: ${lost} of ${r.sent} lost`);
  assert.ok(r.maxGap <= MAX_GAP, `${what}: traffic stopped for ${r.maxGap} packets in a row`);
}

/** A cloud's agent's /metrics, read inside its hyperswitch namespace. */
async function agentMetrics(c: CloudPlan): Promise<Map<string, number>> {
  const r = await nsRun(c.hyperswitchNs, 'curl', ['-sf', '--max-time', '3', `http://${LAB_AGENT_METRICS}/metrics`]);
  return r.code === 0 ? promSeries(r.stdout) : new Map();
}

/** A server's /metrics over its Unix socket (the store revision it has heard of). */
async function storeRevision(socket: string): Promise<number> {
  const r = await realExec('curl', ['-sf', '--max-time', '3', '--unix-socket', socket, 'http://lab/metrics'], {
    allowFail: true,
  });
  return promSeries(r.stdout).get('hypernet_store_revision') ?? -1;
}

/** Every agent applied the database's last revision, and counts the ports the database binds to it. */
async function agentsConverged(survivor: ApiClient, socket: string): Promise<boolean> {
  const revision = await storeRevision(socket);
  const ports = await survivor.list<Port>('ports');
  for (const c of world!.plan.clouds) {
    const m = await agentMetrics(c);
    if ((m.get('hypernet_agent_watch_revision') ?? -1) < revision) return false;
    const counted = [...m].filter(([k]) => k.startsWith('hypernet_agent_ports{')).reduce((n, [, v]) => n + v, 0);
    if (counted !== ports.filter((p) => p['binding:host_id'] === c.hostId).length) return false;
  }
  return true;
}

test('three servers on PostgreSQL, two clouds: a server killed, then the database restarted', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  if (!hasPostgres()) return skipOrFail(t, 'PostgreSQL is not installed (Debian package postgresql)');
  const w = world!;
  const sockets = serverSockets(w.plan);
  const urls = sockets.map((s) => `unix:${s}`);
  const [a, b] = vms;
  assert.ok(await w.pingRetry(a.site.ns, b.ip, 10), 'the VMs reach each other before the failure');

  // Server 0 is first in every agent's list: both agents watch the server that dies.
  const stream = pingStream(a, b);
  const rotated = (i: number) => urls.map((_, k) => urls[(i + k) % urls.length]);
  let killed: Promise<void> | undefined;
  const ack = await runWriteStream({
    urls: rotated,
    networkId: w.state.networkId!,
    hosts: w.plan.clouds.map((c) => c.hostId),
    writers: WRITERS,
    opsPerWriter: OPS_PER_WRITER,
    onAck: (n) => {
      if (n === KILL_AFTER) killed = w.stopServerAt(0, 'SIGKILL');
    },
  });
  assert.ok(killed, 'the server was killed during the writes');
  await killed;

  const survivor = new ApiClient({ url: urls[1] });
  const ports = await survivor.list<HaPort>('ports', { network_id: [w.state.networkId!] });
  assertAcknowledged(
    ports,
    ack,
    ports.filter((p) => !p.name.startsWith('w')).map((p) => p.id),
  );
  assert.ok(
    await eventually(() => agentsConverged(survivor, sockets[1]), 30_000),
    'every agent applied the last revision and the database ports bound to it',
  );
  const killTraffic = await stream.stop();
  t.diagnostic(`ping across the kill: ${JSON.stringify(killTraffic)}`);
  assertTraffic('across the server kill', killTraffic);
  for (const c of w.plan.clouds) {
    const m = await agentMetrics(c);
    assert.ok((m.get('hypernet_agent_convergence_seconds_count') ?? 0) > 0, `${c.hostId} timed its convergence`);
    t.diagnostic(
      `${c.hostId} convergence: ${m.get('hypernet_agent_convergence_seconds_count')} changes, ` +
        `${m.get('hypernet_agent_convergence_seconds_sum')?.toFixed(2)} s in all`,
    );
  }

  // The database goes away: both surviving servers say so, the datapath carries on.
  const outage = pingStream(a, b);
  db!.pause();
  try {
    for (const s of sockets.slice(1)) {
      const api = new ApiClient({ url: `unix:${s}`, timeoutMs: 20_000 });
      await assert.rejects(api.list('networks'), (e: unknown) => {
        assert.ok(e instanceof ApiError, String(e));
        assert.equal(e.status, 503);
        assert.equal(e.type, 'ServiceUnavailable');
        assert.match(e.message, /cannot reach its database/);
        return true;
      });
    }
    await w.clock.sleep(2_000); // the agents lose their watch streams meanwhile
  } finally {
    db!.resume();
  }
  // Back by themselves: both servers answer, a new port reaches both agents.
  for (const s of sockets.slice(1)) {
    const api = new ApiClient({ url: `unix:${s}` });
    assert.ok(
      await eventually(
        () =>
          api.list('networks').then(
            () => true,
            () => false,
          ),
        30_000,
      ),
      `${s} back`,
    );
  }
  const after = await survivor.create<HaPort>('ports', 'port', {
    network_id: w.state.networkId!,
    name: 'after-outage',
    'binding:host_id': w.plan.clouds[1].hostId,
  });
  assert.ok(after.id);
  assert.ok(
    await eventually(() => agentsConverged(survivor, sockets[1]), 30_000),
    'the agents resumed their watch after the outage and applied the new port',
  );
  const outageTraffic = await outage.stop();
  t.diagnostic(`ping across the database outage: ${JSON.stringify(outageTraffic)}`);
  assertTraffic('across the database outage', outageTraffic);
});
