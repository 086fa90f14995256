/** The agent's control loops with fakes (no root): model cache, watch resume/resync, reconcile loop, port status. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../../src/client/api.js';
import { realClock } from '../../../src/common/clock.js';
import { silentLogger } from '../../../src/common/log.js';
import { ModelCache } from '../../../src/model/model-cache.js';
import { PortStatusReporter, portStatusUpdates } from '../../../src/agent/status-reporter.js';
import { compileDatapath } from '../../../src/agent/datapath/compile.js';
import { Reconciler, type PassStep, type SubReconciler } from '../../../src/agent/loop/reconciler.js';
import { WatchLoop } from '../../../src/agent/loop/watch-loop.js';
import { Registration } from '../../../src/agent/loop/registration.js';
import type { Snapshot, WatchMessage } from '../../../src/model/watch.js';
import type { ActualLink } from '../../../src/agent/datapath/types.js';
import { agent, net, port, view } from '../../../testkit/model-fixtures.js';
import { eventually } from '../netns.js';

const snap = (revision: number, ports = [port('p1', 'n1', 'h', 'fa:16:3e:00:00:01', [])]): Snapshot => ({
  type: 'snapshot',
  revision,
  networks: [net('n1', 100)],
  subnets: [],
  ports,
  security_groups: [],
  security_group_rules: [],
  agents: [],
});

test('model cache: snapshot, events in order, stale events ignored, delete', () => {
  const c = new ModelCache();
  assert.equal(c.ready, false);
  c.applySnapshot(snap(5));
  assert.equal(c.ready, true);
  const p2 = port('p2', 'n1', 'h', 'fa:16:3e:00:00:02', []);
  assert.equal(c.applyEvent({ type: 'event', revision: 6, kind: 'port', op: 'create', id: 'p2', object: p2 }), true);
  assert.equal(c.applyEvent({ type: 'event', revision: 6, kind: 'port', op: 'delete', id: 'p2', object: p2 }), false);
  assert.equal(c.view().ports.size, 2);
  c.applyEvent({ type: 'event', revision: 7, kind: 'port', op: 'delete', id: 'p1', object: p2 });
  assert.deepEqual([...c.view().ports.keys()], ['p2']);
  assert.equal(c.revision, 7);
});

test('watch loop: resumes since the last revision, resyncs from a snapshot on 410', async () => {
  const calls: (number | undefined)[] = [];
  const cache = new ModelCache();
  let changes = 0;
  const api = {
    async watch(since: number | undefined, on: (m: WatchMessage) => void, signal?: AbortSignal): Promise<void> {
      calls.push(since);
      if (calls.length === 1) {
        on(snap(5));
        on({ type: 'event', revision: 6, kind: 'port', op: 'delete', id: 'p1', object: snap(5).ports[0] });
        throw new ApiError(0, 'ConnectionFailed', 'gone');
      }
      if (calls.length === 2) throw new ApiError(410, 'WatchRevisionCompacted', 'too old');
      on(snap(10, []));
      await new Promise<void>((r) => signal?.addEventListener('abort', () => r()));
    },
  };
  const w = new WatchLoop({ api, cache, clock: realClock, log: silentLogger(), onChange: () => changes++ });
  w.start();
  try {
    assert.ok(await eventually(async () => calls.length === 3 && w.connected, 5_000), `calls ${JSON.stringify(calls)}`);
    assert.deepEqual(calls, [undefined, 6, undefined]);
    assert.equal(cache.revision, 10);
    assert.equal(changes, 3);
  } finally {
    await w.stop();
  }
  assert.equal(w.connected, false);
});

test('watch loop: a retry waiting out its backoff goes at once when the server is back (retryNow)', async () => {
  const at: number[] = [];
  let up = false;
  const api = {
    async watch(_since: number | undefined, on: (m: WatchMessage) => void, signal?: AbortSignal): Promise<void> {
      at.push(Date.now());
      if (!up) throw new ApiError(0, 'ConnectionFailed', 'down');
      on(snap(5));
      await new Promise<void>((r) => signal?.addEventListener('abort', () => r()));
    },
  };
  const w = new WatchLoop({ api, cache: new ModelCache(), clock: realClock, log: silentLogger(), onChange: () => {} });
  w.start();
  try {
    // After five failures the loop sleeps 4 s (± 20 %) before the sixth attempt.
    assert.ok(await eventually(async () => at.length === 5, 10_000), `attempts ${at.length}`);
    up = true;
    const woken = Date.now();
    w.retryNow();
    assert.ok(await eventually(async () => w.connected, 10_000));
    assert.ok(
      at[5]! - woken < 2_000,
      `the sixth attempt came ${at[5]! - woken} ms after retryNow, not after the backoff`,
    );
    w.retryNow(); // connected: nothing to cut short
    assert.equal(at.length, 6);
  } finally {
    await w.stop();
  }
});

test('registration: the first heartbeat answered after failures says the server is back, once', async () => {
  let failing = 0;
  let backs = 0;
  const api = {
    async create<T>(): Promise<T> {
      return { id: 'a1', host: 'h' } as T;
    },
    async update<T>(): Promise<T> {
      if (failing > 0) {
        failing--;
        throw new ApiError(0, 'ConnectionFailed', 'down');
      }
      return {} as T;
    },
  };
  const r = new Registration({
    api,
    clock: realClock,
    log: silentLogger(),
    node: { host: 'h', underlayIp: '192.0.2.1', underlayMtu: 1500 },
    cloud: 'c',
    capabilities: [],
    intervalMs: 20,
    onServerBack: () => backs++,
  });
  r.start();
  try {
    assert.ok(await eventually(async () => r.agentId === 'a1', 5_000));
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(backs, 0, 'no failure yet: nothing to report');
    failing = 3;
    assert.ok(await eventually(async () => failing === 0 && backs === 1, 10_000), `backs ${backs}`);
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(backs, 1);
  } finally {
    await r.stop();
  }
});

test('reconcile loop: nothing before the model is ready; a failing sub-reconciler does not stop the next', async () => {
  let ready = false;
  const seen: string[] = [];
  const subs: SubReconciler[] = [
    {
      name: 'bad',
      reconcile: async () => {
        seen.push('bad');
        throw new Error('boom');
      },
    },
    { name: 'good', reconcile: async () => void seen.push('good') },
  ];
  const m = view({});
  const r = new Reconciler(subs, {
    clock: realClock,
    log: silentLogger(),
    model: () => (ready ? m : null),
    resyncMs: 50,
  });
  r.start();
  try {
    await new Promise((res) => setTimeout(res, 150));
    assert.deepEqual(seen, [], 'no run before the first snapshot');
    ready = true;
    r.markDirty();
    assert.ok(
      await eventually(async () => seen.filter((s) => s === 'good').length >= 2, 3_000),
      'retried with backoff',
    );
    assert.deepEqual(seen.slice(0, 2), ['bad', 'good']);
  } finally {
    await r.stop();
  }
});

test('reconcile loop: a model change that leaves the compiled inputs alone costs no pass; kernel wake-ups and full passes still run', async () => {
  let runs = 0;
  let key = 'a';
  const m = view({});
  const r = new Reconciler([{ name: 'count', reconcile: async () => void runs++ }], {
    clock: realClock,
    log: silentLogger(),
    model: () => m,
    resyncMs: 400,
    inputKey: () => key,
  });
  r.start();
  try {
    assert.ok(await eventually(async () => runs === 1, 2_000), 'first (full) pass');
    r.markModelChanged();
    await new Promise((res) => setTimeout(res, 60));
    assert.equal(runs, 1, 'same inputs: skipped');
    assert.ok(r.skipped >= 1);
    key = 'b';
    r.markModelChanged();
    assert.ok(await eventually(async () => runs === 2, 1_000), 'changed inputs: a pass');
    r.markDirty();
    assert.ok(await eventually(async () => runs === 3, 1_000), 'a kernel wake-up: a pass even with the same inputs');
    assert.ok(await eventually(async () => runs >= 4, 2_000), 'the periodic full pass runs anyway');
  } finally {
    await r.stop();
  }
});

test('reconcile loop: passes say whether the compiled inputs changed since the last good pass', async () => {
  const seen: { full: boolean; modelChanged: boolean }[] = [];
  let key = 'a';
  const m = view({});
  const r = new Reconciler(
    [{ name: 'see', reconcile: async (_m, p) => void seen.push({ full: p!.full, modelChanged: p!.modelChanged }) }],
    {
      clock: realClock,
      log: silentLogger(),
      model: () => m,
      resyncMs: 60_000,
      inputKey: () => key,
    },
  );
  r.start();
  try {
    assert.ok(await eventually(async () => seen.length === 1, 2_000));
    assert.deepEqual(seen[0], { full: true, modelChanged: true }, 'first pass');
    r.markDirty();
    assert.ok(await eventually(async () => seen.length === 2, 1_000));
    assert.deepEqual(seen[1], { full: false, modelChanged: false }, 'a tap woke it, same inputs');
    key = 'b';
    r.markModelChanged();
    assert.ok(await eventually(async () => seen.length === 3, 1_000));
    assert.deepEqual(seen[2], { full: false, modelChanged: true }, 'new inputs');
  } finally {
    await r.stop();
  }
});

test('reconcile loop: a full pass that is due is prepared first, alongside passes that are not full, and follows once ready', async () => {
  const seen: string[] = [];
  let prepares = 0;
  let release!: () => void;
  const sub: SubReconciler = {
    name: 'prep',
    reconcile: async (_m, p) => void seen.push(p!.full ? 'full' : 'light'),
    prepareFull: () => {
      prepares++;
      seen.push('prepare');
      return new Promise<void>((res) => (release = res));
    },
  };
  const r = new Reconciler([sub], { clock: realClock, log: silentLogger(), model: () => view({}), resyncMs: 150 });
  r.start();
  try {
    assert.ok(await eventually(async () => seen.length === 1, 2_000));
    assert.deepEqual(seen, ['full'], 'the first pass reads inline: nothing to overlap');
    assert.ok(await eventually(async () => prepares === 1, 2_000), 'the next full pass is prepared once due');
    // Due but not prepared: nothing runs by itself; a wake-up gets a pass that is not full.
    await new Promise((res) => setTimeout(res, 300));
    assert.deepEqual(seen, ['full', 'prepare']);
    r.markDirty();
    assert.ok(await eventually(async () => seen.length === 3, 1_000));
    assert.equal(seen[2], 'light');
    assert.equal(prepares, 1, 'one preparation at a time');
    release();
    assert.ok(await eventually(async () => seen.length === 4, 1_000));
    assert.equal(seen[3], 'full', 'the full pass follows its preparation');
  } finally {
    release?.();
    await r.stop();
  }
});

test('reconcile loop: sub-reconcilers listed together run at the same time, the next step after both', async () => {
  const order: string[] = [];
  let releaseA!: () => void;
  const aWaits = new Promise<void>((res) => (releaseA = res));
  const subs: PassStep[] = [
    [
      // a finishes only once b has started: run one after the other, this pass would never end.
      {
        name: 'a',
        reconcile: async () => {
          order.push('a start');
          await aWaits;
          order.push('a end');
        },
      },
      {
        name: 'b',
        reconcile: async () => {
          order.push('b start');
          releaseA();
          throw new Error('b fails');
        },
      },
    ],
    { name: 'c', reconcile: async () => void order.push('c') },
  ];
  const r = new Reconciler(subs, { clock: realClock, log: silentLogger(), model: () => view({}) });
  const ok = await Promise.race([
    r.runOnce(view({})),
    new Promise<string>((res) => setTimeout(() => res('stuck'), 2_000)),
  ]);
  assert.equal(ok, false, 'b failed: the pass reports it');
  assert.deepEqual(order, ['a start', 'b start', 'a end', 'c']);
});

test('port status: ACTIVE once the tap is enslaved and up; DOWN when it goes', () => {
  const P = 'aaaaaaaa-bbbb-cccc-dddd-000000000001';
  const model = view({
    networks: [net('n1', 100)],
    agents: [agent('a', 'h', '192.0.2.1')],
    ports: [
      port(P, 'n1', 'h', 'fa:16:3e:00:00:01', []),
      port('pB', 'n1', 'h', 'fa:16:3e:00:00:0b', [], { status: 'ACTIVE', 'binding:vif_type': 'tap' }),
    ],
  });
  const d = compileDatapath({ host: 'h', underlayIp: '192.0.2.1', underlayMtu: 1500 }, model);
  const tap: ActualLink = {
    name: 'tapaaaaaaaa-bb',
    kind: 'veth',
    mtu: 1450,
    mac: null,
    up: true,
    master: 'hnb-100',
    vxlan: null,
  };
  const actual = { links: new Map([[tap.name, tap]]), bridgePorts: new Map(), fdb: [], neigh: [] };
  assert.deepEqual(portStatusUpdates(d, actual, model), [
    { portId: P, status: 'ACTIVE', vifType: 'tap' },
    { portId: 'pB', status: 'DOWN' },
  ]);
});

test('port status: a port served without a tap (a WireGuard agentless peer) is ACTIVE while served', () => {
  const P = 'aaaaaaaa-bbbb-cccc-dddd-000000000002';
  const model = view({
    networks: [net('n1', 100)],
    agents: [agent('a', 'h', '192.0.2.1')],
    ports: [port(P, 'n1', 'h', 'fa:16:3e:00:00:02', [])],
  });
  const d = compileDatapath({ host: 'h', underlayIp: '192.0.2.1', underlayMtu: 1500 }, model);
  const none = { links: new Map(), bridgePorts: new Map(), fdb: [], neigh: [] };
  assert.deepEqual(portStatusUpdates(d, none, model), [], 'no tap, not served: stays as it is (DOWN)');
  assert.deepEqual(portStatusUpdates(d, none, model, undefined, new Set([P])), [
    { portId: P, status: 'ACTIVE', vifType: 'tap' },
  ]);
  const active = view({
    networks: [net('n1', 100)],
    agents: [agent('a', 'h', '192.0.2.1')],
    ports: [port(P, 'n1', 'h', 'fa:16:3e:00:00:02', [], { status: 'ACTIVE', 'binding:vif_type': 'tap' })],
  });
  assert.deepEqual(
    portStatusUpdates(d, none, active, undefined, new Set()),
    [{ portId: P, status: 'DOWN' }],
    'peer gone',
  );
});

test('port status reporter: holds back a repeat until the model moves past it with another status', async () => {
  const sent: string[] = [];
  const api = {
    update: async (_kind: string, _one: string, id: string, body: { status: string }) => {
      sent.push(`${id} ${body.status}`);
      return {};
    },
  } as unknown as ConstructorParameters<typeof PortStatusReporter>[0];
  const r = new PortStatusReporter(api, realClock, silentLogger(), 60_000);
  const at = (revision: number, status: 'ACTIVE' | 'DOWN') =>
    view({
      networks: [net('n1', 100)],
      ports: [port('p1', 'n1', 'h', 'fa:16:3e:00:00:01', [], { status, revision_number: revision })],
    });
  const active = [{ portId: 'p1', status: 'ACTIVE' as const, vifType: 'tap' as const }];
  r.submit(active, at(3, 'DOWN'));
  await r.idle();
  // The model has not caught up with the report yet (same revision): no repeat.
  r.submit(active, at(3, 'DOWN'));
  await r.idle();
  assert.deepEqual(sent, ['p1 ACTIVE']);
  // Another node's DOWN landed after ours (a later revision, still not ACTIVE): said again at once.
  r.submit(active, at(5, 'DOWN'));
  await r.idle();
  assert.deepEqual(sent, ['p1 ACTIVE', 'p1 ACTIVE']);
  // Without a model, only the quiet window counts.
  r.submit(active);
  await r.idle();
  assert.equal(sent.length, 2);
});

test('port status reporter: a port deleted meanwhile (404) is no failure and calls for no retry; a server error does', async () => {
  const sent: string[] = [];
  let down = false;
  const api = {
    update: async (_kind: string, _one: string, id: string) => {
      if (id === 'gone') throw new ApiError(404, 'PortNotFound', `Port ${id} could not be found.`);
      if (down) throw new ApiError(503, 'ServiceUnavailable', 'busy');
      sent.push(id);
      return {};
    },
  } as unknown as ConstructorParameters<typeof PortStatusReporter>[0];
  let retries = 0;
  const r = new PortStatusReporter(api, realClock, silentLogger(), 5_000, () => retries++, 10);
  r.submit([
    { portId: 'gone', status: 'DOWN' },
    { portId: 'p1', status: 'ACTIVE', vifType: 'tap' },
  ]);
  await r.idle();
  await new Promise((res) => setTimeout(res, 50));
  assert.deepEqual(sent, ['p1'], 'the port that exists is reported, after the one that is gone');
  assert.equal(retries, 0, 'nothing to retry');
  down = true;
  r.submit([{ portId: 'p2', status: 'ACTIVE', vifType: 'tap' }]);
  await r.idle();
  await eventually(async () => retries === 1, 1_000);
});
