/**
 * The agent's `--metrics-listen` endpoint over real HTTP, fed by a real reconcile loop whose
 * sub-reconciler fails until told (no kernel): /readyz waits for the model and a good full pass.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostPort } from '../../src/agent/command.js';
import { startAgent } from '../../src/agent/main.js';
import { Reconciler } from '../../src/agent/loop/reconciler.js';
import { AgentMetrics } from '../../src/agent/metrics.js';
import { serveProbes } from '../../src/agent/probes.js';
import { realClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/log.js';
import { port, view } from '../../testkit/model-fixtures.js';
import { eventually } from '../../testkit/wait.js';

test('--metrics-listen: HOST:PORT and [IPv6]:PORT, anything else refused', () => {
  assert.deepEqual(hostPort('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
  assert.deepEqual(hostPort('[::1]:0'), { host: '::1', port: 0 });
  for (const bad of ['9464', '127.0.0.1', '::1:9464', 'h:70000', 'h:p'])
    assert.throws(() => hostPort(bad), /expected HOST:PORT/, bad);
});

test('agent probes: healthz at once, readyz after sync and a good full pass, metrics of the loop', async () => {
  const metrics = new AgentMetrics('h1');
  const model = view({ ports: [port('a', 'n', 'h1', 'fa:16:3e:00:00:01', [], { status: 'ACTIVE' })] }, 4);
  let synced = false;
  let calls = 0;
  let failing = true;
  const r = new Reconciler(
    [
      {
        name: 'flaky',
        reconcile: async () => {
          calls++;
          if (failing) throw new Error('fails until the test says');
        },
      },
    ],
    {
      clock: realClock,
      log: silentLogger(),
      model: () => (synced ? model : null),
      resyncMs: 100,
      onPass: (p, m) => metrics.record(p, m),
    },
  );
  const probes = await serveProbes({
    host: '127.0.0.1',
    port: 0,
    registry: metrics.registry,
    notReady: () => metrics.notReady(synced),
  });
  const get = async (path: string): Promise<{ code: number; body: string }> => {
    const res = await fetch(`${probes.url}${path}`);
    return { code: res.status, body: await res.text() };
  };
  r.start();
  try {
    assert.equal((await get('/healthz')).code, 200);
    assert.deepEqual(await get('/readyz'), {
      code: 503,
      body: JSON.stringify({ status: 'unavailable', reason: 'model not synced' }),
    });
    synced = true;
    r.markDirty();
    assert.ok(await eventually(async () => calls >= 1, 2_000), 'first pass ran');
    assert.deepEqual(await get('/readyz'), {
      code: 503,
      body: JSON.stringify({ status: 'unavailable', reason: 'no full reconcile pass has succeeded yet' }),
    });
    failing = false;
    assert.ok(await eventually(async () => (await get('/readyz')).code === 200, 5_000), 'ready after a good full pass');

    const m = await get('/metrics');
    assert.equal(m.code, 200);
    const lines = m.body.split('\n');
    const errors = lines.find((l) => l.startsWith('hypernet_agent_apply_errors_total{reconciler="flaky"}'));
    assert.ok(errors && Number(errors.split(' ')[1]) >= 1, `failed passes counted: ${errors}`);
    assert.ok(lines.includes('hypernet_agent_ports{status="ACTIVE"} 1'), m.body);
    assert.ok(lines.includes('hypernet_agent_watch_revision 4'), m.body);
    const count = lines.find((l) => l.startsWith('hypernet_agent_reconcile_duration_seconds_count{reconciler="flaky"'));
    assert.ok(count && Number(count.split(' ')[1]) >= 2, `both passes timed: ${count}`);
    assert.equal((await get('/nope')).code, 404);
  } finally {
    await r.stop();
    await probes.close();
  }
  await assert.rejects(fetch(`${probes.url}/healthz`), 'the listener is gone after close');
});

test('startAgent with metricsListen: probes bound, not ready while no server answers, closed on stop', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'hn-probes-'));
  // No kernel: every program fails; no sub-reconciler runs anyway while the model is not synced.
  const exec = async (cmd: string): Promise<never> => {
    throw new Error(`no ${cmd} in this test`);
  };
  const agent = startAgent(
    {
      // Port 1 on loopback: refused at once, so the agent never gets a model.
      server: 'http://127.0.0.1:1',
      node: { host: 'h1', underlayIp: '192.0.2.10', underlayMtu: 1500 },
      cloud: 'c',
      netnsPrefix: 'hni-',
      stateDir,
      encryption: 'off',
      linkMonitor: false,
      metricsListen: { host: '127.0.0.1', port: 0 },
    },
    { exec, log: silentLogger() },
  );
  let url = '';
  try {
    url = (await agent.probes!).url;
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    const ready = await fetch(`${url}/readyz`);
    assert.equal(ready.status, 503);
    assert.deepEqual(await ready.json(), { status: 'unavailable', reason: 'model not synced' });
    const text = await (await fetch(`${url}/metrics`)).text();
    assert.ok(text.includes('# TYPE hypernet_agent_reconcile_duration_seconds histogram'), text);
    assert.equal(agent.reconciler.runs, 0, 'no pass without a model');
  } finally {
    await agent.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
  await assert.rejects(fetch(`${url}/healthz`), 'the listener closes with the agent');
});
