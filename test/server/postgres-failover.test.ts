/**
 * The failure test of several servers: three `hypernet server` processes on one throwaway PostgreSQL,
 * simulated agents (the real watch loop, model cache and registration with heartbeats, no kernel)
 * and API writers all given the three URLs. While the writers create, move and delete ports, one
 * server is killed with SIGKILL by its PID. Afterwards: every acknowledged write is in the database
 * exactly once (no create lost or doubled, every acknowledged move kept), no address is held twice,
 * every agent's model equals the database, and the agents that watched the killed server resumed
 * on another one from their revision, without a new snapshot.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApiClient } from '../../src/client/api.js';
import { realClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/log.js';
import { ModelCache } from '../../src/model/model-cache.js';
import { Registration } from '../../src/agent/loop/registration.js';
import { WatchLoop } from '../../src/agent/loop/watch-loop.js';
import { hasPostgres, startTestPostgres, type TestPostgres } from '../../testkit/postgres.js';
import { skipUnless } from '../../testkit/preconditions.js';
import {
  killServerProcess,
  type ServerProcess,
  startServerProcess,
  stopServerProcess,
} from '../../testkit/server-process.js';
import { eventually } from '../../testkit/wait.js';
import { assertAcknowledged, type HaPort, runWriteStream } from '../../testkit/ha-workload.js';

const AGENTS = 6;
const WRITERS = 3;
const OPS_PER_WRITER = 60;
/** The writers' acknowledged operations after which the first server is killed. */
const KILL_AFTER = 50;

/** One simulated agent: registration + heartbeats and the watch into a model cache, counting snapshots. */
function simulatedAgent(urls: string[], host: string) {
  const api = new ApiClient({ url: urls.join(',') });
  const cache = new ModelCache();
  let snapshots = 0;
  const apply = cache.applySnapshot.bind(cache);
  cache.applySnapshot = (s) => {
    snapshots++;
    apply(s);
  };
  const log = silentLogger();
  const watch = new WatchLoop({ api, cache, clock: realClock, log, onChange: () => {}, staleMs: 5_000 });
  const registration = new Registration({
    api,
    clock: realClock,
    log,
    node: { host, underlayIp: '192.0.2.20', underlayMtu: 1500 },
    cloud: 'cloud-a',
    capabilities: ['vxlan'],
    intervalMs: 200,
  });
  watch.start();
  registration.start();
  return {
    api,
    cache,
    host,
    snapshots: () => snapshots,
    stop: () => Promise.all([watch.stop(), registration.stop()]),
  };
}

describe('three servers on PostgreSQL, one killed mid-stream', {
  skip: skipUnless(hasPostgres(), 'PostgreSQL is not installed (Debian package postgresql)'),
}, () => {
  let db: TestPostgres;
  let servers: ServerProcess[] = [];
  let agents: ReturnType<typeof simulatedAgent>[] = [];
  before(async () => {
    db = await startTestPostgres();
    servers = await Promise.all([0, 1, 2].map(() => startServerProcess(['--database', db.url])));
  });
  after(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await Promise.all(servers.map((s) => stopServerProcess(s)));
    db?.stop();
  });

  it('loses and doubles no write; agents converge and resume their watch', async () => {
    const urls = servers.map((s) => s.url);
    // Each agent and writer lists the servers from a different first one, so some use the victim.
    const rotated = (i: number) => urls.map((_, k) => urls[(i + k) % urls.length]);
    agents = Array.from({ length: AGENTS }, (_, i) => simulatedAgent(rotated(i), `node-${i}`));
    const admin = new ApiClient({ url: urls.join(',') });
    const net = await admin.create<{ id: string }>('networks', 'network', { name: 'ha' });
    await admin.create('subnets', 'subnet', { network_id: net.id, cidr: '10.30.0.0/22', ip_version: 4 });
    assert.ok(
      await eventually(async () => agents.every((a) => a.cache.ready && a.cache.view().networks.has(net.id)), 15_000),
      'agents have the network before the writes',
    );
    const onVictim = agents.filter((a) => a.api.url === urls[0]);
    assert.ok(onVictim.length > 0, 'some agents watch the server that will be killed');

    let killed: Promise<void> | undefined;
    const ack = await runWriteStream({
      urls: rotated,
      networkId: net.id,
      hosts: agents.map((a) => a.host),
      writers: WRITERS,
      opsPerWriter: OPS_PER_WRITER,
      onAck: (acked) => {
        if (acked === KILL_AFTER) killed = killServerProcess(servers[0]);
      },
    });
    assert.ok(killed, 'the server was killed during the writes');
    await killed;
    assert.equal(servers[0].child.signalCode, 'SIGKILL');

    const survivor = new ApiClient({ url: urls[1] });
    const ports = await survivor.list<HaPort>('ports', { network_id: [net.id] });
    assertAcknowledged(ports, ack);

    // Every agent converges on the database's ports, and those on the victim did not resync.
    const want = JSON.stringify(ports.map((p) => [p.id, p['binding:host_id']]).sort());
    const seen = (a: (typeof agents)[number]) =>
      JSON.stringify(
        [...a.cache.view().ports.values()]
          .filter((p) => p.network_id === net.id)
          .map((p) => [p.id, p['binding:host_id']])
          .sort(),
      );
    assert.ok(await eventually(async () => agents.every((a) => seen(a) === want), 15_000), 'agents converge');
    for (const a of onVictim) {
      assert.notEqual(a.api.url, urls[0], `${a.host} moved to another server`);
      assert.equal(a.snapshots(), 1, `${a.host} resumed from its revision, without a new snapshot`);
    }
    // Heartbeats went on: every agent is alive on the surviving servers.
    const listed = await survivor.list<{ host: string; alive: boolean }>('agents');
    for (const a of agents) assert.ok(listed.find((x) => x.host === a.host)?.alive, `${a.host} alive`);
  });
});
