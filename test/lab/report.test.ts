/** Unit tests of what `lab up` prints: step lines, the VM table, the ping matrix, the openstack hint. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planLab } from '../../src/lab/plan.js';
import { countFailures, openstackHint, pingMatrixTable, stepLine, vmTable } from '../../src/lab/report.js';
import { renderStatus } from '../../src/lab/status.js';

test('step lines carry the elapsed time and the step duration', () => {
  assert.equal(stepLine('server', 412, 1234), '[  1.23s] ✓ server (412 ms)');
});

test('the VM table shows cloud, hyper IP, MAC, hyperswitch and its underlay IP', () => {
  const plan = planLab();
  const t = vmTable(plan, [
    {
      name: 'vm-b1',
      cloud: 'cloud-b',
      ns: 'hnlab-vm-b1',
      hostId: 'hs-b',
      portId: 'p',
      mac: 'fa:16:3e:00:00:01',
      ip: '10.0.1.4',
      tap: 'tapp',
    },
  ]);
  assert.match(t, /VM\s+│?.*cloud.*hyper IP.*MAC.*hyperswitch.*underlay IP/);
  assert.match(t, /vm-b1 .*cloud-b .*10\.0\.1\.4 .*fa:16:3e:00:00:01 .*hs-b .*198\.51\.100\.2/);
  // An agentless VM's hyperswitch is no cloud's: its own recorded underlay (data) IP.
  const u = vmTable(plan, [
    {
      name: 'vm-b2',
      cloud: 'cloud-b',
      ns: 'hnlab-vm-b2',
      hostId: 'hst-1',
      portId: 'q',
      mac: 'fa:16:3e:00:00:02',
      ip: '10.0.1.5',
      tap: 'tap0',
      underlayIp: '203.0.113.2',
    },
  ]);
  assert.match(u, /vm-b2 .*hst-1 .*203\.0\.113\.2/);
  assert.doesNotMatch(t, /network/, 'one tenant network: no network column');
  // With --networks 2 each VM's row names the network its address is in.
  const rec = { name: 'vm-a2', cloud: 'cloud-a', ns: 'n', hostId: 'hs-a', portId: 'p', mac: 'm', tap: 't' };
  const two = vmTable(planLab({ networks: 2 }), [{ ...rec, ip: '10.0.2.5' }]);
  assert.match(two, /hyper IP.*network.*MAC/);
  assert.match(two, /vm-a2 .*10\.0\.2\.5 .*hyper-net-2 /);
});

test('the ping matrix marks reached, failed and self, and failures are counted', () => {
  const m = [
    [true, true, false],
    [true, true, true],
    [true, true, true],
  ];
  const t = pingMatrixTable(['a', 'b', 'c'], m);
  assert.match(t, /\| a +\| · +\| ✓ +\| ✗ +\|/);
  assert.equal(countFailures(m), 1);
  assert.equal(countFailures([[false]]), 0); // the diagonal does not count
});

test('the openstack hint points at the TCP endpoint', () => {
  assert.equal(
    openstackHint('http://127.0.0.1:9696'),
    'openstack --os-auth-type none --os-endpoint http://127.0.0.1:9696 network list',
  );
  assert.match(openstackHint(null), /Unix socket/);
});

test('lab status with two networks: a network column, and the router interface of each subnet', () => {
  const l3 = {
    routerId: 'r1',
    gateways: [{ cloud: 'cloud-a', ip: '192.0.2.225' }],
    floatingips: [],
    externalHost: null,
    interfaces: [
      { ip: '10.0.1.1', network: 'hyper-net', cidr: '10.0.1.0/24' },
      { ip: '10.0.2.1', network: 'hyper-net-2', cidr: '10.0.2.0/24' },
    ],
  };
  const vm = { expectedIp: '10.0.2.5', ifname: 'eth0', ip: '10.0.2.5', ok: true };
  const base = { processes: [], namespaces: [], extraNamespaces: [], agents: [], hypervms: [], apiError: null };
  const text = renderStatus({ ...base, healthy: true, l3, vms: [{ ...vm, name: 'vm-a2', network: 'hyper-net-2' }] });
  assert.match(text, /VM .*hyper IP \(API\) .*network .*interface/);
  assert.match(text, /vm-a2 .*10\.0\.2\.5 .*hyper-net-2 .*eth0/);
  assert.match(text, /interface .*10\.0\.1\.1 .*hyper-net \(10\.0\.1\.0\/24\)/);
  assert.match(text, /interface .*10\.0\.2\.1 .*hyper-net-2 \(10\.0\.2\.0\/24\)/);
  assert.match(text, /gateway \(SNAT\) .*192\.0\.2\.225 .*cloud-a/);
  const one = renderStatus({ ...base, healthy: true, vms: [{ ...vm, name: 'vm-a1' }] });
  assert.doesNotMatch(one, /network/, 'one network: no network column');
});
