/** The lab's L3 plan (src/lab/router.ts), pure: external ranges per cloud and where the external host fits. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { externalCidr, externalHostProblem } from '../../src/lab/router.js';
import { planLab } from '../../src/lab/plan.js';

test('a cloud’s external network is the top /27 of its workload half, inside documentation ranges', () => {
  const plan = planLab({ clouds: 2 });
  assert.deepEqual(
    plan.clouds.map((c) => externalCidr(c.workloadCidr)),
    ['192.0.2.224/27', '198.51.100.224/27'],
  );
  // Native addresses (the bottom of the workload half) stay clear of it with 50 VMs per cloud.
  const big = planLab({ clouds: 2, vmsPerCloud: 50 });
  assert.ok(big.vms.every((v) => Number(v.nativeIp!.split('.')[3]) < 224));
  assert.equal(externalCidr('192.0.2.192/26'), null, 'a range too small gets no external network');
});

test('the external host needs 203.0.113.0/24 free: ≤ 2 clouds, no agentless VMs', () => {
  assert.equal(externalHostProblem(planLab({ clouds: 2 })), null);
  assert.match(externalHostProblem(planLab({ clouds: 3 }))!, /more than 2 clouds/);
  assert.match(externalHostProblem(planLab({ clouds: 2, agentlessVms: 1 }))!, /agentless/);
});
