/** Unit tests of the lab's pure world plan: names, subnets carved from the documentation ranges, MTUs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  carveUnderlays,
  DOC_RANGES,
  labServerUrl,
  networkOfIp,
  planLab,
  planNamespaces,
  serverSockets,
  tenantCidrs,
  tenantNetworks,
} from '../../src/lab/plan.js';

test('default plan: two clouds, two VMs each, /24 underlays, overlay MTU = underlay - 50', () => {
  const p = planLab();
  assert.equal(p.prefix, 'hnlab-');
  assert.equal(p.clouds.length, 2);
  assert.deepEqual(
    p.clouds.map((c) => c.subnet),
    ['192.0.2.0/24', '198.51.100.0/24'],
  );
  assert.deepEqual(
    p.clouds.map((c) => c.label),
    ['cloud-a', 'cloud-b'],
  );
  assert.deepEqual(
    p.vms.map((v) => v.name),
    ['vm-a1', 'vm-a2', 'vm-b1', 'vm-b2'],
  );
  assert.equal(p.underlayMtu, 1500);
  // Two clouds under the default policy: 1500 − 50 (VXLAN) − 60 (WireGuard over IPv4).
  assert.equal(p.overlayMtu, 1390);
  const a = p.clouds[0];
  assert.equal(a.gatewayIp, '192.0.2.1');
  assert.equal(a.underlayIp, '192.0.2.2');
  assert.equal(a.transitCidr, '192.0.2.0/25');
  assert.equal(a.workloadCidr, '192.0.2.128/25');
  assert.equal(a.hostId, 'hs-a');
  assert.equal(a.hyperswitchNs, 'hnlab-hs-a');
  assert.equal(a.agentNetnsPrefix, 'hnlab-a-');
  assert.equal(p.vms[0].nativeIp, '192.0.2.129');
  assert.equal(p.vms[3].nativeIp, '198.51.100.130');
  assert.equal(p.paths.socket, '/var/lib/hypernet-lab/server.sock');
  assert.equal(p.paths.marker, '/var/lib/hypernet-lab/');
  assert.equal(p.hyperCidr, '10.0.1.0/24');
});

test('the plan is frozen all the way down', () => {
  const p = planLab();
  assert.ok(
    Object.isFrozen(p) && Object.isFrozen(p.clouds) && Object.isFrozen(p.clouds[0].vms[0]) && Object.isFrozen(p.paths),
  );
  assert.throws(() => {
    (p.clouds[0] as { label: string }).label = 'x';
  });
});

test('every name the lab creates starts with the prefix, is unique, and interface names fit 15 chars', () => {
  const p = planLab({ prefix: 'hnt12345-', clouds: 5, vmsPerCloud: 3, stateDir: '/tmp/x' });
  const ns = planNamespaces(p);
  assert.equal(ns.length, 1 + 5 + 15);
  assert.equal(new Set(ns).size, ns.length);
  for (const n of ns) assert.ok(n.startsWith('hnt12345-'), n);
  for (const c of p.clouds) {
    assert.ok(c.agentNetnsPrefix.startsWith('hnt12345-'));
    assert.ok(c.internetIf.length <= 15 && c.hyperswitchIf.length <= 15);
    for (const v of c.vms) assert.ok(v.nativeHostIf.length <= 15);
  }
  // Agent DHCP namespaces (`agentNetnsPrefix` + VNI) never collide with the plan's own names.
  for (const c of p.clouds)
    for (const n of ns)
      assert.ok(!/^\d+$/.test(n.slice(c.agentNetnsPrefix.length)) || !n.startsWith(c.agentNetnsPrefix));
});

test('more clouds carve smaller subnets out of the three documentation ranges, without overlap', () => {
  assert.deepEqual(carveUnderlays(3), DOC_RANGES);
  assert.deepEqual(carveUnderlays(4), ['192.0.2.0/25', '192.0.2.128/25', '198.51.100.0/25', '198.51.100.128/25']);
  const twelve = carveUnderlays(12);
  assert.equal(twelve.length, 12);
  assert.ok(twelve.every((s) => s.endsWith('/26')));
  assert.equal(new Set(twelve).size, 12);
  const p = planLab({ clouds: 7, vmsPerCloud: 1 });
  assert.equal(p.clouds[6].subnet, '198.51.100.128/26');
  assert.equal(p.clouds[6].workloadCidr, '198.51.100.160/27');
  assert.equal(p.clouds[6].underlayIp, '198.51.100.130');
  assert.throws(() => carveUnderlays(0));
  assert.throws(() => carveUnderlays(49), /too many clouds/);
});

test('native addresses run out gracefully in small clouds', () => {
  const p = planLab({ clouds: 24, vmsPerCloud: 15 });
  const c = p.clouds[0];
  assert.equal(c.subnet, '192.0.2.0/27');
  assert.equal(c.workloadCidr, '192.0.2.16/28');
  assert.equal(c.vms[0].nativeIp, '192.0.2.17');
  assert.equal(c.vms[13].nativeIp, '192.0.2.30');
  assert.equal(c.vms[14].nativeIp, null); // a /28 holds 14 workloads
});

test("agentless VMs (the last cloud's last ones) keep a native address, routed by their cloud's hyperswitch, apart from the agentless provider's range", () => {
  const p = planLab({ clouds: 2, vmsPerCloud: 2, agentlessVms: 1 });
  const b2 = p.vms.find((v) => v.name === 'vm-b2')!;
  assert.equal(b2.agentless, true);
  assert.equal(p.vms.filter((v) => v.agentless).length, 1);
  assert.equal(b2.nativeIp, '198.51.100.130');
  assert.equal(b2.hyperswitchNs, 'hnlab-hs-b');
  assert.equal(b2.nativeHostIf, 'nat-b2');
  assert.ok(p.agentless && [p.agentless.dataCidr, ...p.agentless.vmsCidr].every((c) => c.startsWith('203.0.113.')));
});

test('bad options are refused', () => {
  assert.throws(() => planLab({ prefix: '' }), /prefix/);
  assert.throws(() => planLab({ prefix: 'Bad_Prefix' }), /prefix/);
  assert.throws(() => planLab({ vmsPerCloud: -1 }), /vms per cloud/);
  assert.throws(() => planLab({ underlayMtu: 500 }), /MTU/);
  assert.throws(() => planLab({ apiPort: 70000 }), /port/);
});

test('overlay MTU follows the server policy and the clouds the hyperswitches are in', () => {
  assert.equal(planLab({ prefix: 'hnF-t-' }).overlayMtu, 1390, 'cross-cloud: two clouds are an encrypted pair');
  assert.equal(planLab({ encryption: 'none' }).overlayMtu, 1450);
  assert.equal(planLab({ clouds: 1 }).overlayMtu, 1450, 'one node: no pair');
  assert.equal(planLab({ cloudLabels: ['one', 'one'] }).overlayMtu, 1450, 'a same-cloud pair is plain');
  assert.equal(planLab({ cloudLabels: ['one', 'one'], encryption: 'all' }).overlayMtu, 1390);
  const p = planLab({ clouds: 3, cloudLabels: ['x', 'y', 'y'] });
  assert.deepEqual(
    p.clouds.map((c) => c.label),
    ['x', 'y', 'y'],
  );
  assert.equal(p.encryption, 'cross-cloud');
});

test('--networks: consecutive tenant subnets, a cloud’s VMs take them in turn, so each cloud has one of each', () => {
  const p = planLab({ networks: 2 });
  assert.deepEqual(p.networks, [
    { name: 'hyper-net', cidr: '10.0.1.0/24' },
    { name: 'hyper-net-2', cidr: '10.0.2.0/24' },
  ]);
  assert.deepEqual(
    p.vms.map((v) => `${v.name}:${v.network}`),
    ['vm-a1:0', 'vm-a2:1', 'vm-b1:0', 'vm-b2:1'],
  );
  assert.equal(networkOfIp(p, '10.0.2.7')?.name, 'hyper-net-2');
  assert.equal(networkOfIp(planLab(), '10.0.1.7'), null, 'one network: no network column');
  assert.deepEqual(tenantCidrs('10.0.0.0/23', 3), ['10.0.0.0/23', '10.0.2.0/23', '10.0.4.0/23']);
  assert.equal(planLab().vms[0]!.network, undefined, 'one network: the VMs carry no index');
  assert.throws(() => planLab({ networks: 0 }), /networks/);
  assert.throws(() => tenantCidrs('255.255.255.0/24', 2), /do not fit/);
  // A lab.json written before --networks has only hyperCidr.
  const { networks: _, ...old } = planLab();
  assert.deepEqual(tenantNetworks(old), [{ name: 'hyper-net', cidr: '10.0.1.0/24' }]);
});

test('several servers: one socket each, every client given all of them; they need a shared database', () => {
  const one = planLab({ stateDir: '/s' });
  assert.deepEqual(serverSockets(one), ['/s/server.sock']);
  assert.equal(labServerUrl(one), 'unix:/s/server.sock');
  assert.equal(one.database, undefined, 'SQLite in the state directory by default');
  const three = planLab({ stateDir: '/s', database: 'postgresql://h/db', servers: 3 });
  assert.deepEqual(serverSockets(three), ['/s/server.sock', '/s/server-1.sock', '/s/server-2.sock']);
  assert.equal(labServerUrl(three), 'unix:/s/server.sock,unix:/s/server-1.sock,unix:/s/server-2.sock');
  assert.throws(() => planLab({ servers: 2 }), /need a shared database/);
  assert.throws(() => planLab({ database: 'postgresql://h/db', servers: 0 }), /servers must be 1…5/);
});

test('--custom-route-vms: a vpc cloud with its own underlay, two hyperswitches, VMs alternating modes', () => {
  const p = planLab({ prefix: 'hnv-', stateDir: '/tmp/l', customRouteVms: 3 });
  const vpc = p.vpc!;
  // The other clouds keep their underlays; the vpc cloud's is the next one, halved for its two nodes.
  assert.deepEqual(
    p.clouds.map((c) => c.subnet),
    ['192.0.2.0/24', '198.51.100.0/24'],
  );
  assert.deepEqual(
    vpc.hyperswitches.map((h) => [h.hostId, h.label, h.hyperswitchNs, h.subnet, h.underlayIp, h.gatewayIp]),
    [
      ['hs-vpc1', 'vpc', 'hnv-hs-vpc1', '203.0.113.0/25', '203.0.113.2', '203.0.113.1'],
      ['hs-vpc2', 'vpc', 'hnv-hs-vpc2', '203.0.113.128/25', '203.0.113.130', '203.0.113.129'],
    ],
  );
  assert.deepEqual(
    vpc.vms.map((v) => [v.name, v.ns, v.mode]),
    [
      ['vm-vpc1', 'hnv-vm-vpc1', 'instead'],
      ['vm-vpc2', 'hnv-vm-vpc2', 'in-addition'],
      ['vm-vpc3', 'hnv-vm-vpc3', 'instead'],
    ],
  );
  assert.equal(vpc.routerNs, 'hnv-vpc');
  assert.equal(vpc.dir, '/tmp/l/vpc');
  for (const ns of ['hnv-vpc', 'hnv-hs-vpc1', 'hnv-hs-vpc2', 'hnv-vm-vpc3'])
    assert.ok(planNamespaces(p).includes(ns), ns);
  // Not among the clouds' VMs: they have no agent and no DHCP.
  assert.equal(p.vms.length, 4);
  assert.equal(planLab({ customRouteVms: 0 }).vpc, undefined);
});

test('--custom-route-vms is refused outside 0…8 and with what cannot share the vpc cloud', () => {
  for (const n of [-1, 9, 1.5, Number.NaN])
    assert.throws(() => planLab({ customRouteVms: n }), /custom-route VMs must be 0…8/);
  assert.throws(() => planLab({ customRouteVms: 1, networks: 2 }), /single tenant network/);
  assert.throws(() => planLab({ customRouteVms: 1, agentlessVms: 1 }), /at most 2 clouds, the vpc cloud/);
  // One cloud and the vpc cloud leave 203.0.113.0/24 to the agentless addresses.
  assert.ok(planLab({ clouds: 1, customRouteVms: 1, agentlessVms: 1 }).agentless);
});
