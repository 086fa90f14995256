/**
 * Incremental equals recompute for L3 (pure): after any sequence of model changes (floating IPs
 * associated, moved or dropped, of this cloud or another, the router's admin state, SNAT, its
 * interfaces, extra routes, the VMs moving between nodes and clouds), on the cloud's gateway node and
 * on another node of the cloud (whose egress and floating IPs take the transit), carrying out each step's diff from the last kernel state leaves
 * the same state as one diff from nothing to the last model, and nothing more to do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileL3 } from '../../../src/agent/l3/compile.js';
import { diffL3 } from '../../../src/agent/l3/diff.js';
import { appliedActual } from '../../../src/agent/l3/applied.js';
import { emptyActual, type ActualL3 } from '../../../src/agent/l3/types.js';
import type { Port } from '../../../src/model/types.js';
import { port } from '../../../testkit/model-fixtures.js';
import { l3Model, nodeA } from './fixtures.js';

const nodeA2 = { ...nodeA, host: 'hostA2', underlayIp: '192.0.2.3' };
import { plain, simulate } from './kernel-sim.js';

const stepArb = fc.record({
  fip1: fc.constantFrom(null, '0e100000-0001', '0e300000-0003'),
  fip2: fc.constantFrom(null, '0e200000-0002'),
  /** A floating IP of cloud B on a port of cloud A: served by cloud B's gateway node. */
  fip3: fc.constantFrom(null, '0e100000-0001', '0e300000-0003'),
  up: fc.boolean(),
  snat: fc.boolean(),
  interfaces: fc.constantFrom<('s1' | 's2')[]>(['s1', 's2'], ['s1'], ['s2'], []),
  routes: fc.constantFrom([], [{ destination: '10.9.0.0/24', nexthop: '10.0.2.20' }]),
  vm3Host: fc.constantFrom('hostA', 'hostA2', 'hostB', ''),
});
type Step = typeof stepArb extends fc.Arbitrary<infer T> ? T : never;

function modelOf(s: Step) {
  const vm3: Port = { ...port('0e300000-0003', 'n1', s.vm3Host, 'fa:16:3e:00:03:30', []) };
  const fips: [string, string, string, string][] = [];
  if (s.fip1) fips.push(['f1', '203.0.113.20', s.fip1, s.fip1 === '0e100000-0001' ? '10.0.1.10' : '10.0.1.11']);
  if (s.fip2) fips.push(['f2', '203.0.113.90', s.fip2, '10.0.2.20']);
  if (s.fip3) fips.push(['f3', '203.0.113.91', s.fip3, s.fip3 === '0e100000-0001' ? '10.0.1.10' : '10.0.1.11']);
  return l3Model({
    fips,
    up: s.up,
    snat: s.snat,
    interfaces: s.interfaces,
    routes: [...s.routes],
    ports: [{ ...vm3, fixed_ips: [{ subnet_id: 's1', ip_address: '10.0.1.11' }] }],
  });
}

test('L3 incremental equals recompute', () => {
  fc.assert(
    fc.property(fc.constantFrom(nodeA, nodeA2), fc.array(stepArb, { minLength: 1, maxLength: 6 }), (node, steps) => {
      let k = emptyActual();
      for (const s of steps) k = simulate(k, diffL3(compileL3(node, modelOf(s)), k));
      const last = compileL3(node, modelOf(steps.at(-1)!));
      const fresh = simulate(emptyActual(), diffL3(last, emptyActual()));
      assert.deepEqual(plain(k), plain(fresh));
      assert.deepEqual(diffL3(last, k), [], 'nothing left to do');
    }),
    { numRuns: 300 },
  );
});

test('L3 appliedActual is the kernel each step leaves', () => {
  const uplink = { name: 'u0', mac: '02:00:00:00:00:01' };
  fc.assert(
    fc.property(fc.constantFrom(nodeA, nodeA2), fc.array(stepArb, { minLength: 1, maxLength: 6 }), (node, steps) => {
      let k: ActualL3 = { ...emptyActual(), uplink };
      let known = k;
      for (const s of steps) {
        const desired = compileL3(node, modelOf(s));
        // The reconciler diffs against what the last step left, not a read: the same operations.
        assert.deepEqual(diffL3(desired, known), diffL3(desired, k));
        k = simulate(k, diffL3(desired, k));
        known = appliedActual(desired, uplink);
        assert.deepEqual(plain(known), plain(k));
      }
    }),
    { numRuns: 300 },
  );
});
