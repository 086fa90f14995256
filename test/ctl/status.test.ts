/** Unit tests of `hypernet status`'s computation and text (pure). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeStatus } from '../../src/ctl/status.js';
import { renderStatus } from '../../src/ctl/status-render.js';
import { agent, network, port, subnet } from './fixtures.js';

test('status: clouds, agents, networks spanning clouds, problems', () => {
  const now = Date.parse('2026-11-21T05:01:00Z');
  const report = computeStatus(
    {
      agents: [
        agent('hs-a', 'cloud-a', true, '2026-11-21T05:00:58Z'),
        agent('hs-b', 'cloud-b', false, '2026-11-21T05:00:00Z'),
        agent('hs-c', 'cloud-a', true),
      ],
      networks: [network('n1', 'blue', ['s1']), network('n2', 'empty')],
      subnets: [subnet('s1', 'n1', '10.0.1.0/24')],
      ports: [
        port('p1', 'n1', 'hs-a', 'ACTIVE'),
        port('p2', 'n1', 'hs-b', 'DOWN'),
        port('p3', 'n1', '', 'DOWN'),
        { ...port('fip', 'n1', '', 'DOWN'), device_owner: 'network:floatingip' },
        {
          ...port('p4', 'n1', 'hs-c', 'ERROR'),
          'binding:vif_details': { error: 'allowed_address_pairs: "fe80::1%eth0" is not a plain IP address or CIDR' },
        },
      ],
    },
    now,
  );
  assert.deepEqual(report.clouds, [
    { cloud: 'cloud-a', agents: 2, agents_up: 2, ports: 2, ports_active: 1 },
    { cloud: 'cloud-b', agents: 1, agents_up: 0, ports: 1, ports_active: 0 },
  ]);
  assert.deepEqual(
    report.agents.map((a) => [a.host, a.alive, a.silent_seconds]),
    [
      ['hs-a', true, 2],
      ['hs-c', true, 60],
      ['hs-b', false, 60],
    ],
  );
  assert.deepEqual(report.networks[0], {
    id: 'n1',
    name: 'blue',
    vni: 100,
    cidrs: ['10.0.1.0/24'],
    ports: 5,
    ports_active: 1,
    ports_down: 3,
    clouds: ['cloud-a', 'cloud-b'],
  });
  assert.equal(report.networks[1].ports, 0);
  assert.deepEqual(
    report.problems.map((p) => p.message),
    [
      'port p2 (p2) on network blue is DOWN, on host hs-b (cloud-b)',
      'port p3 (p3) on network blue is DOWN, unbound',
      'port p4 (p4) on network blue is ERROR, on host hs-c (cloud-a): allowed_address_pairs: "fe80::1%eth0" is not a plain IP address or CIDR',
      'agent hs-b (cloud-b) is down: silent for 60s (last heartbeat 2026-11-21T05:00:00Z)',
    ],
  );
  const text = renderStatus(report);
  assert.match(text, /Clouds \(2\)/);
  assert.match(text, /\| cloud-b +\| 0\/1 +\| 0\/1 +\|/);
  assert.match(text, /\| hs-b +\| cloud-b +\| 192\.0\.2\.4 +\| DOWN +\| 2026-11-21T05:00:00Z \(60s ago\) \|/);
  assert.match(text, /Problems \(4\)\n {2}- port p2/);
  assert.match(
    renderStatus(computeStatus({ agents: [], networks: [], subnets: [], ports: [] }, now)),
    /Problems: none/,
  );
});

test('status: hyperswitches with their agent and ports; one without an agent is a problem', () => {
  const now = Date.parse('2026-11-21T05:01:00Z');
  const hs = (id: string, device: string | null, status = 'running') => ({
    id,
    flavor: '1G' as const,
    device_id: device,
    tenant_id: 't1',
    project_id: 't1',
    instance_id: 'i-1',
    instance_type: 'lab.1G',
    private_ip: '203.0.113.1',
    mgnt_ip: '203.0.113.1',
    data_ip: '203.0.113.2',
    vms_ip_0: '203.0.113.65',
    vms_ip_1: null,
    vms_ip_2: null,
    status,
    cloud: 'agentless',
  });
  const eni = {
    id: 'eni-1',
    port_id: 'p1',
    flavor: '1G',
    device_id: 'vm-1',
    index: 0,
    user_data: '',
    project_id: 't1',
    tenant_id: 't1',
    private_ip: '203.0.113.70',
    hyperswitch_id: 'hst-1',
    cloud: 'agentless',
    vpn_type: 'openvpn',
  } as const;
  const report = computeStatus(
    {
      agents: [agent('hst-1', 'agentless', true, '2026-11-21T05:00:59Z')],
      networks: [network('n1', 'blue')],
      subnets: [],
      ports: [port('p1', 'n1', 'hst-1', 'ACTIVE'), port('p2', 'n1', 'hst-1', 'BUILD')],
      hyperswitches: [hs('hst-1', null), hs('hsv-2', 'vm-9', 'pending')],
      agentlessPorts: [eni],
    },
    now,
  );
  assert.deepEqual(
    report.hyperswitches.map((h) => [h.id, h.serves, h.agent, h.agentless_ports, h.ports_active, h.ports]),
    [
      ['hst-1', 'tenant t1', 'UP', 1, 1, 2],
      ['hsv-2', 'vm vm-9', 'missing', 0, 0, 0],
    ],
  );
  assert.deepEqual(
    report.problems.map((p) => p.kind),
    ['hyperswitch-no-agent'],
  );
  const text = renderStatus(report);
  assert.match(text, /Hyperswitches \(2\)/);
  assert.match(text, /\| hsv-2 +\| vm vm-9 +\| 1G +\| 203\.0\.113\.2 +\| pending +\| missing +\| 0 +\| 0\/0 +\|/);
  assert.doesNotMatch(
    renderStatus(computeStatus({ agents: [], networks: [], subnets: [], ports: [] }, now)),
    /Hyperswitches/,
  );
});
