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
import { ApiClient, ApiError } from '../../src/client/api.js';
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

const AGENTS = 6;
const WRITERS = 3;
const OPS_PER_WRITER = 60;
/** The writers' acknowledged operations after which the first server is killed. */
const KILL_AFTER = 50;

interface Port {
  id: string;
  name: string;
  'binding:host_id': string;
  fixed_ips: { ip_address: string }[];
}

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

    // What the writers were told: ports created (by name), the last host acknowledged, deletions.
    const created = new Map<string, string>(); // name → id
    const hostOf = new Map<string, string>(); // id → last acknowledged binding:host_id
    const deleted = new Set<string>();
    let acked = 0;
    let killed: Promise<void> | undefined;
    const ack = () => {
      acked++;
      if (acked === KILL_AFTER) killed = killServerProcess(servers[0]);
    };
    const writer = async (w: number) => {
      const api = new ApiClient({ url: rotated(w).join(',') });
      const mine: string[] = [];
      for (let op = 0; op < OPS_PER_WRITER; op++) {
        const kind = op % 5;
        if (kind === 3 && mine.length > 0) {
          const id = mine[op % mine.length];
          const host = `node-${(op + w) % AGENTS}`;
          await api.update('ports', 'port', id, { 'binding:host_id': host });
          hostOf.set(id, host);
        } else if (kind === 4 && mine.length > 1) {
          const id = mine.shift()!;
          // A retry of a delete the killed server had already committed finds nothing: that is done too.
          await api.delete('ports', id).catch((e: unknown) => {
            if (!(e instanceof ApiError && e.status === 404)) throw e;
          });
          deleted.add(id);
        } else {
          const name = `w${w}-op${op}`;
          const host = `node-${op % AGENTS}`;
          const p = await api.create<Port>('ports', 'port', { network_id: net.id, name, 'binding:host_id': host });
          created.set(name, p.id);
          hostOf.set(p.id, host);
          mine.push(p.id);
        }
        ack();
      }
    };
    await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
    assert.ok(killed, 'the server was killed during the writes');
    await killed;
    assert.equal(servers[0].child.signalCode, 'SIGKILL');

    const survivor = new ApiClient({ url: urls[1] });
    const ports = await survivor.list<Port>('ports', { network_id: [net.id] });
    // No create lost or doubled: exactly the acknowledged, undeleted ones, each name once.
    const names = ports.map((p) => p.name).sort();
    const expected = [...created]
      .filter(([, id]) => !deleted.has(id))
      .map(([name]) => name)
      .sort();
    assert.deepEqual(names, expected);
    for (const p of ports) assert.equal(p['binding:host_id'], hostOf.get(p.id), `last move of ${p.name} kept`);
    const ips = ports.flatMap((p) => p.fixed_ips.map((f) => f.ip_address));
    assert.equal(new Set(ips).size, ips.length, 'no address held twice');

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
