/**
 * Incremental equals recompute for the datapath (pure, as OVN tests its incremental engine): after
 * any sequence of model changes (ports appearing, moving between hosts, going; admin state flips;
 * agents' VTEPs changing), applying each step's diff to the kernel as the reader predicts it
 * (kernel-reader.ts predictAfter) leaves exactly the state that one diff from the starting kernel to
 * the last model leaves. The start is a captured kernel (network 100 wired, stale objects) with the
 * ports' taps present, and one local port stays throughout (a network without local ports is torn
 * down, and a device created is read back, not predicted), so every operation is one the predictor follows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileDatapath } from '../../../src/agent/datapath/compile.js';
import { diffDatapath } from '../../../src/agent/datapath/diff.js';
import { predictAfter } from '../../../src/agent/datapath/kernel-reader.js';
import type { ActualLink, ActualState } from '../../../src/agent/datapath/types.js';
import { tapName } from '../../../src/model/kernel-names.js';
import { agent, captured, net, port, view } from '../../../testkit/model-fixtures.js';

const node = { host: 'hostA', underlayIp: '192.0.2.1', underlayMtu: 1500 };
const HOSTS = ['hostA', 'hostB', 'hostC'] as const;
const N = 5;
const ID = (i: number) => `0000000${i}-bbbb-cccc-dddd-00000000000${i}`;
/** The local port that keeps the network on this node. */
const ANCHOR = ID(9);

/** A step of the model: per port, where it is bound (or absent) and whether it is admin up; hostC's VTEP. */
const stepArb = fc.record({
  ports: fc.array(fc.tuple(fc.constantFrom(null, ...HOSTS), fc.boolean()), { minLength: N, maxLength: N }),
  hostCIp: fc.constantFrom('192.0.2.3', '192.0.2.33'),
});
type Step = typeof stepArb extends fc.Arbitrary<infer T> ? T : never;

function modelOf(s: Step, revision: number) {
  return view(
    {
      networks: [net('n1', 100)],
      agents: [agent('a1', 'hostA', '192.0.2.1'), agent('a2', 'hostB', '192.0.2.2'), agent('a3', 'hostC', s.hostCIp)],
      ports: [
        port(ANCHOR, 'n1', 'hostA', 'fa:16:3e:00:00:09', ['10.0.1.9']),
        ...s.ports.flatMap(([host, up], i) =>
          host === null
            ? []
            : [port(ID(i), 'n1', host, `fa:16:3e:00:00:0${i}`, [`10.0.1.${10 + i}`], { admin_state_up: up })],
        ),
      ],
    },
    revision,
  );
}

/**
 * Kernel states compared as data: entries sorted; links by name, in full while they are the
 * agent's (its bridges and VXLANs, and taps in them), else only whether they are in a bridge: a tap
 * released from a deleted port keeps the MTU it was given, which is no longer the agent's to set.
 */
function normal(s: ActualState) {
  const sorted = (xs: readonly object[]) => xs.map((x) => JSON.stringify(x)).sort();
  const ours = (l: ActualLink) => /^hn[bv]-/.test(l.name) || l.master !== null;
  return {
    links: [...s.links.values()]
      .map((l) => (ours(l) ? l : { name: l.name, master: l.master }))
      .sort((a, b) => (a.name < b.name ? -1 : 1)),
    bridgePorts: [...s.bridgePorts.entries()].sort(([a], [b]) => (a < b ? -1 : 1)),
    fdb: sorted(s.fdb),
    neigh: sorted(s.neigh),
  };
}

test('datapath: incremental equals recompute over random sequences of model changes', async () => {
  const sample = await captured();
  // The taps nova made for every port, not yet enslaved, and the network's devices as compiled.
  const links = new Map(sample.links);
  for (const i of [...Array(N).keys(), 9]) {
    const tap: ActualLink = {
      name: tapName(ID(i)),
      kind: 'veth',
      mtu: 1500,
      mac: `fe:16:3e:00:00:0${i}`,
      up: false,
      master: null,
      vxlan: null,
    };
    links.set(tap.name, tap);
  }
  let start: ActualState = { ...sample, links };
  const warm = predictAfter(
    start,
    diffDatapath(compileDatapath(node, modelOf({ ports: [], hostCIp: '192.0.2.3' }, 1)), start),
  );
  assert.ok(warm, 'the captured kernel converges by predictable operations');
  start = warm;

  const apply = (state: ActualState, s: Step, rev: number): ActualState => {
    const desired = compileDatapath(node, modelOf(s, rev));
    const after = predictAfter(state, diffDatapath(desired, state));
    assert.ok(after, 'every operation is predictable');
    assert.deepEqual(diffDatapath(desired, after), [], 'converged: a second diff is empty');
    return after;
  };
  fc.assert(
    fc.property(fc.array(stepArb, { minLength: 1, maxLength: 6 }), (steps) => {
      let state = start;
      steps.forEach((s, i) => {
        state = apply(state, s, i + 2);
      });
      const fresh = apply(start, steps.at(-1)!, 100);
      assert.deepEqual(normal(state), normal(fresh));
    }),
    { numRuns: 150 },
  );
});
