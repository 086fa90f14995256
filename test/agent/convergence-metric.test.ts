/**
 * The agent's convergence time on /metrics over real HTTP: a real server process (SQLite in a temp
 * directory), the agent's watch loop and reconcile loop wired to AgentMetrics as the agent wires them,
 * one sub-reconciler that takes a known time (no kernel). A port created through the API is timed from
 * its arrival on the watch stream to the end of the pass that applied it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../../src/client/api.js';
import { realClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/log.js';
import { ModelCache } from '../../src/model/model-cache.js';
import { Reconciler } from '../../src/agent/loop/reconciler.js';
import { WatchLoop } from '../../src/agent/loop/watch-loop.js';
import { AgentMetrics } from '../../src/agent/metrics.js';
import { serveProbes } from '../../src/agent/probes.js';
import { type ServerProcess, startServerProcess, stopServerProcess } from '../../testkit/server-process.js';
import { eventually } from '../../testkit/wait.js';
import { promSeries } from '../../testkit/prometheus-text.js';

/** What the one sub-reconciler takes per pass: the convergence time of a change cannot be shorter. */
const PASS_MS = 300;

let dir = '';
let server: ServerProcess | undefined;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hn-convergence-'));
  server = await startServerProcess(['--data-dir', dir]);
});
after(async () => {
  await stopServerProcess(server);
  rmSync(dir, { recursive: true, force: true });
});

test('a port change is timed from its watch event to the end of the pass that applied it', async () => {
  const api = new ApiClient({ url: server!.url });
  const metrics = new AgentMetrics('h1');
  const cache = new ModelCache();
  const log = silentLogger();
  let appliedPorts = 0;
  let reconciler: Reconciler | null = null;
  const watch = new WatchLoop({
    api,
    cache,
    clock: realClock,
    log,
    onChange: () => reconciler?.markModelChanged(),
    onEvent: (e) => e.kind === 'port' && metrics.portChanged(e.revision, realClock.now()),
  });
  reconciler = new Reconciler(
    [
      {
        name: 'slow',
        reconcile: async (m) => {
          await realClock.sleep(PASS_MS);
          appliedPorts = m.ports.size;
        },
      },
    ],
    {
      clock: realClock,
      log,
      resyncMs: 60_000,
      model: () => (cache.ready && watch.connected ? cache.view() : null),
      onPass: (p, m) => metrics.record(p, m),
      onSkip: (m, at) => metrics.converged(m.revision, at),
    },
  );
  const probes = await serveProbes({
    host: '127.0.0.1',
    port: 0,
    registry: metrics.registry,
    notReady: () => metrics.notReady(cache.ready),
  });
  const scrape = async () => promSeries(await (await fetch(`${probes.url}/metrics`)).text());
  watch.start();
  reconciler.start();
  try {
    assert.ok(await eventually(async () => (await fetch(`${probes.url}/readyz`)).status === 200, 10_000), 'ready');
    assert.equal((await scrape()).get('hypernet_agent_convergence_seconds_count'), 0, 'nothing timed before a change');

    const net = await api.create<{ id: string }>('networks', 'network', { name: 'n' });
    await api.create('ports', 'port', { network_id: net.id, 'binding:host_id': 'h1' });
    assert.ok(await eventually(async () => appliedPorts === 1, 10_000), 'the pass applied the port');
    assert.ok(
      await eventually(async () => (await scrape()).get('hypernet_agent_convergence_seconds_count') === 1, 5_000),
      'the port create timed once (the network event is not a port change)',
    );
    const m = await scrape();
    const sum = m.get('hypernet_agent_convergence_seconds_sum')!;
    assert.ok(sum >= PASS_MS / 1000 && sum < 5, `at least one pass long, bounded: ${sum} s`);
    assert.equal(m.get('hypernet_agent_convergence_seconds_bucket{le="0.25"}'), 0, 'shorter than a pass: impossible');
    assert.equal(m.get('hypernet_agent_convergence_seconds_bucket{le="+Inf"}'), 1);
  } finally {
    await reconciler.stop();
    await watch.stop();
    await probes.close();
  }
});
