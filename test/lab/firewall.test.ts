/** Unit tests of the lab's firewall mode: the agents' flags, a pin directory per lab and host, bad modes refused. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firewallAgentArgs } from '../../src/lab/firewall.js';
import { planLab } from '../../src/lab/plan.js';

test('nftables (the default) adds no agent flag; tc-bpf pins under a directory of its lab and host', () => {
  const def = planLab({ prefix: 'hnT-a-' });
  assert.equal(def.firewall, undefined);
  assert.deepEqual(firewallAgentArgs(def, def.clouds[0]), []);
  assert.deepEqual(firewallAgentArgs(planLab({ prefix: 'hnT-a-', firewall: 'nftables' }), def.clouds[0]), []);
  const bpf = planLab({ prefix: 'hnT-a-', firewall: 'tc-bpf' });
  assert.equal(bpf.firewall, 'tc-bpf');
  const [a, b] = bpf.clouds.map((c) => firewallAgentArgs(bpf, c));
  assert.deepEqual(a, ['--firewall', 'tc-bpf', '--bpf-pin-dir', '/sys/fs/bpf/hypernet/lab-hnT-a-hs-a']);
  assert.equal(b[3], '/sys/fs/bpf/hypernet/lab-hnT-a-hs-b');
  // Two labs never share a node's pins, though both have an hs-a.
  const other = planLab({ prefix: 'hnT-b-', firewall: 'tc-bpf' });
  assert.notEqual(firewallAgentArgs(other, other.clouds[0])[3], a[3]);
});

test('an unknown firewall mode is refused', () => {
  assert.throws(() => planLab({ firewall: 'iptables' as 'nftables' }), /firewall must be nftables or tc-bpf/);
});
