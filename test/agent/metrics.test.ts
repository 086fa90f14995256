/** The agent's Prometheus text from pass records (no kernel, no HTTP): steps, errors, ports, readiness. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentMetrics } from '../../src/agent/metrics.js';
import type { PassRecord } from '../../src/agent/loop/reconciler.js';
import { port, view } from '../../testkit/model-fixtures.js';

const pass = (o: Partial<PassRecord>): PassRecord => ({
  full: true,
  ok: true,
  revision: 7,
  endedAt: 1_800_000_000_000,
  steps: {},
  failed: [],
  ...o,
});

test('agent metrics: a pass record becomes histogram, counter and gauge lines', async () => {
  const m = new AgentMetrics('h1');
  const model = view(
    {
      ports: [
        port('a', 'n', 'h1', 'fa:16:3e:00:00:01', [], { status: 'ACTIVE' }),
        port('b', 'n', 'h1', 'fa:16:3e:00:00:02', [], { status: 'ACTIVE' }),
        port('c', 'n', 'h1', 'fa:16:3e:00:00:03', [], { status: 'DOWN' }),
        port('d', 'n', 'h2', 'fa:16:3e:00:00:04', [], { status: 'ERROR' }),
      ],
    },
    7,
  );
  assert.equal(m.notReady(false), 'model not synced');
  m.record(pass({ ok: false, steps: { datapath: 12, dhcp: 3 }, failed: ['dhcp'] }), model);
  assert.equal(m.notReady(true), 'no full reconcile pass has succeeded yet', 'a failed full pass is not ready');
  m.record(pass({ full: false, revision: 8, endedAt: 1_800_000_001_000, steps: { datapath: 2 } }), model);
  assert.equal(m.notReady(true), 'no full reconcile pass has succeeded yet', 'a pass that is not full is not enough');

  const text = await m.registry.metrics();
  const line = (l: string): void => assert.ok(text.split('\n').includes(l), `missing: ${l}\n${text}`);
  line('hypernet_agent_reconcile_duration_seconds_count{reconciler="datapath",full="true"} 1');
  line('hypernet_agent_reconcile_duration_seconds_sum{reconciler="datapath",full="true"} 0.012');
  line('hypernet_agent_reconcile_duration_seconds_bucket{le="0.01",reconciler="datapath",full="true"} 0');
  line('hypernet_agent_reconcile_duration_seconds_bucket{le="0.025",reconciler="datapath",full="true"} 1');
  line('hypernet_agent_reconcile_duration_seconds_count{reconciler="datapath",full="false"} 1');
  line('hypernet_agent_apply_errors_total{reconciler="dhcp"} 1');
  assert.ok(!text.includes('apply_errors_total{reconciler="datapath"}'), 'no error counted for a step that succeeded');
  line('hypernet_agent_ports{status="ACTIVE"} 2');
  line('hypernet_agent_ports{status="DOWN"} 1');
  line('hypernet_agent_ports{status="ERROR"} 0');
  line('hypernet_agent_ports{status="BUILD"} 0');
  // Only the successful pass sets the timestamp; the revision is the last pass's.
  line('hypernet_agent_last_successful_pass_timestamp_seconds 1800000001');
  line('hypernet_agent_watch_revision 8');
  assert.ok(text.includes('hypernet_agent_process_resident_memory_bytes'), 'process metrics under the agent prefix');

  m.record(pass({ revision: 9 }), model);
  assert.equal(m.notReady(true), null, 'ready once a full pass succeeded');
});

test('agent metrics: convergence is timed per port change, up to the revision a pass applied', async () => {
  const m = new AgentMetrics('h1');
  const model = view({ ports: [] }, 7);
  m.portChanged(5, 1_000);
  m.portChanged(9, 1_100);
  m.record(pass({ ok: false, revision: 9, endedAt: 1_500 }), model);
  m.record(pass({ revision: 7, endedAt: 1_400 }), model);
  let text = await m.registry.metrics();
  assert.ok(text.includes('hypernet_agent_convergence_seconds_count 1\n'), `only revision 5 applied:\n${text}`);
  assert.ok(text.includes('hypernet_agent_convergence_seconds_sum 0.4\n'), text);
  m.converged(9, 1_350); // a skipped pass at revision 9: nothing to do for it, converged
  text = await m.registry.metrics();
  assert.ok(text.includes('hypernet_agent_convergence_seconds_count 2\n'), text);
  assert.ok(text.includes('hypernet_agent_convergence_seconds_sum 0.65\n'), text);
});
