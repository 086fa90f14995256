/** Golden tests for compile.ts: (node, model) → desired datapath, pure, no root. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileDatapath } from '../../../src/agent/datapath/compile.js';
import { agent, net, port, view } from '../../../testkit/model-fixtures.js';

const node = { host: 'hostA', underlayIp: '192.0.2.1', underlayMtu: 1500 };
const P1 = 'aaaaaaaa-bbbb-cccc-dddd-000000000001';

const model = view({
  networks: [net('n1', 100), net('n2', 200), net('n3', 300)],
  agents: [agent('a1', 'hostA', '192.0.2.1'), agent('a2', 'hostB', '192.0.2.2'), agent('a3', 'hostC', '198.51.100.3')],
  ports: [
    port(P1, 'n1', 'hostA', 'FA:16:3E:00:00:01', ['10.0.1.1']),
    port('p2', 'n1', 'hostB', 'fa:16:3e:00:00:02', ['10.0.1.2'], {
      allowed_address_pairs: [
        { ip_address: '10.0.1.50', mac_address: '' },
        { ip_address: '10.0.9.0/24', mac_address: '' },
      ],
    }),
    port('p3', 'n1', 'hostC', 'fa:16:3e:00:00:03', ['10.0.1.3']),
    port('p4', 'n1', '', 'fa:16:3e:00:00:04', ['10.0.1.4']),
    port('p5', 'n1', 'hostD-without-agent', 'fa:16:3e:00:00:05', ['10.0.1.5']),
    port('p6', 'n1', 'hostB', 'fa:16:3e:00:00:06', ['10.0.1.6'], { device_owner: 'network:dhcp' }),
    port('p7', 'n2', 'hostB', 'fa:16:3e:00:00:07', ['10.0.2.7']),
    port('p8', 'n3', 'hostA', 'fa:16:3e:00:00:08', ['10.0.3.8'], { admin_state_up: false }),
  ],
});

test('compile: golden desired state for a node with local and remote ports', () => {
  const d = compileDatapath(node, model);
  assert.deepEqual(d, {
    networks: [
      {
        networkId: 'n1',
        vni: 100,
        bridge: 'hnb-100',
        bridgeMac: '02:68:00:00:64:00',
        vxlan: 'hnv-100',
        mtu: 1450,
        local: '192.0.2.1',
      },
      {
        networkId: 'n3',
        vni: 300,
        bridge: 'hnb-300',
        bridgeMac: '02:68:00:01:2c:00',
        vxlan: 'hnv-300',
        mtu: 1450,
        local: '192.0.2.1',
      },
    ],
    ports: [
      {
        portId: P1,
        networkId: 'n1',
        tap: 'tapaaaaaaaa-bb',
        bridge: 'hnb-100',
        mtu: 1450,
        mac: 'fa:16:3e:00:00:01',
        up: true,
      },
      {
        portId: 'p8',
        networkId: 'n3',
        tap: 'tapp8',
        bridge: 'hnb-300',
        mtu: 1450,
        mac: 'fa:16:3e:00:00:08',
        up: false,
      },
    ],
    fdb: [
      { mac: '00:00:00:00:00:00', dev: 'hnv-100', dst: '192.0.2.2' },
      { mac: '00:00:00:00:00:00', dev: 'hnv-100', dst: '198.51.100.3' },
      { mac: 'fa:16:3e:00:00:02', dev: 'hnv-100', dst: '192.0.2.2' },
      { mac: 'fa:16:3e:00:00:02', dev: 'hnv-100', dst: null },
      { mac: 'fa:16:3e:00:00:03', dev: 'hnv-100', dst: '198.51.100.3' },
      { mac: 'fa:16:3e:00:00:03', dev: 'hnv-100', dst: null },
    ],
    neigh: [
      { ip: '10.0.1.2', mac: 'fa:16:3e:00:00:02', dev: 'hnb-100' },
      { ip: '10.0.1.3', mac: 'fa:16:3e:00:00:03', dev: 'hnb-100' },
      { ip: '10.0.1.50', mac: 'fa:16:3e:00:00:02', dev: 'hnb-100' },
    ],
  });
  assert.ok(Object.isFrozen(d) && Object.isFrozen(d.fdb) && Object.isFrozen(d.fdb[0]), 'desired state is frozen');
});

test('compile: same model in another order gives the same result (deterministic)', () => {
  const v = view({
    networks: [...model.networks.values()].reverse(),
    agents: [...model.agents.values()].reverse(),
    ports: [...model.ports.values()].reverse(),
  });
  assert.deepEqual(compileDatapath(node, v), compileDatapath(node, model));
});

test('compile: remote port on a host with the same underlay IP gets no tunnel', () => {
  const v = view({
    networks: [net('n1', 100)],
    agents: [agent('a1', 'hostA', '192.0.2.1'), agent('a9', 'hostA-twin', '192.0.2.1')],
    ports: [
      port(P1, 'n1', 'hostA', 'fa:16:3e:00:00:01', ['10.0.1.1']),
      port('p2', 'n1', 'hostA-twin', 'fa:16:3e:00:00:02', ['10.0.1.2']),
    ],
  });
  const d = compileDatapath(node, v);
  assert.equal(d.fdb.length, 0);
  assert.equal(d.neigh.length, 0);
});

test('compile: no local ports → empty desired state (teardown)', () => {
  const v = view({
    networks: [net('n1', 100)],
    agents: [agent('a2', 'hostB', '192.0.2.2')],
    ports: [port('p2', 'n1', 'hostB', 'fa:16:3e:00:00:02', ['10.0.1.2'])],
  });
  assert.deepEqual(compileDatapath(node, v), { networks: [], ports: [], fdb: [], neigh: [] });
  assert.deepEqual(compileDatapath(node, view({})), { networks: [], ports: [], fdb: [], neigh: [] });
});

test('compile: overlay MTU follows the underlay MTU', () => {
  const d = compileDatapath({ ...node, underlayMtu: 9000 }, model);
  assert.deepEqual([...new Set([...d.networks, ...d.ports].map((x) => x.mtu))], [8950]);
});
