/**
 * The agentless feature's compile and diff (pure): which ports get a server (bound or being
 * prepared here), their config texts, and the start/restart/keep/remove decision. Incremental
 * equals recompute, through the driver, is incremental.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileVpnConfigs, compileVpnSpecs } from '../../../src/agent/vpn/compile.js';
import { diffVpn, type VpnActual } from '../../../src/agent/vpn/diff.js';
import type { VpnServerFiles } from '../../../src/agent/vpn/server-config.js';
import type { VpnAgentConfig } from '../../../src/model/agentless.js';
import { net, port, view } from '../../../testkit/model-fixtures.js';

const ID = (i: number) => `0000000${i}-aaaa-4000-8000-00000000000${i}`;
const entry = (i: number, listenPort = 1194 + i) => ({
  port_id: ID(i),
  provider_ip: `198.51.100.${10 + i}`,
  mac_address: `fa:16:3e:00:00:0${i}`,
  listen_ip: '203.0.113.5',
  listen_port: listenPort,
  mtu: 1450,
  underlay_mtu: 1500,
});
const cfg = (entries: VpnAgentConfig['ports']): VpnAgentConfig => ({
  hyperswitch_id: 'hs1',
  ca_pem: 'ca',
  cert_pem: 'cert',
  key_pem: 'key',
  crl_pem: 'crl',
  ports: entries,
});
const files = (id: string): VpnServerFiles => ({
  ca: '/s/ca.crt',
  cert: '/s/server.crt',
  key: '/s/server.key',
  crl: '/s/crl.pem',
  hook: '/s/admit.sh',
  management: `/s/mgmt/${id.slice(0, 11)}.sock`,
});

test('specs: only ports bound to this host, actively or as a move target', () => {
  const model = view({
    networks: [net('n1', 100)],
    ports: [
      port(ID(1), 'n1', 'hs1', 'fa:16:3e:00:00:01', []),
      port(ID(2), 'n1', 'other', 'fa:16:3e:00:00:02', []),
      port(ID(3), 'n1', 'other', 'fa:16:3e:00:00:03', [], {
        'binding:inactive': [
          { host: 'hs1', vif_type: 'tap', vif_details: {}, vnic_type: 'normal', profile: {}, status: 'INACTIVE' },
        ],
      }),
    ],
  });
  const specs = compileVpnSpecs(cfg([entry(1), entry(2), entry(3), entry(4)]), model, 'hs1');
  assert.deepEqual(
    specs.map((s) => [s.portId, s.listenPort, s.providerIp]),
    [
      [ID(1), 1195, '198.51.100.11'],
      [ID(3), 1197, '198.51.100.13'],
    ],
  );
  const confs = compileVpnConfigs(specs, files, 'fp1');
  assert.deepEqual([...confs.keys()], [ID(1), ID(3)]);
  assert.match(confs.get(ID(1))!, /^port 1195$/m);
  assert.match(confs.get(ID(1))!, /^# server-cert fp1$/m);
});

test('diff: start what does not run, restart what changed, keep the rest, remove the unwanted', () => {
  const have = new Map<string, VpnActual>([
    ['a', { conf: 'A', running: true }],
    ['b', { conf: 'B-old', running: true }],
    ['c', { conf: 'C', running: false }],
    ['z', { conf: 'Z', running: true }],
    ['y', { conf: '', running: false }],
  ]);
  const want = new Map([
    ['a', 'A'],
    ['b', 'B'],
    ['c', 'C'],
    ['d', 'D'],
  ]);
  assert.deepEqual(diffVpn(want, have), [
    { portId: 'a', action: 'keep' },
    { portId: 'b', action: 'restart' },
    { portId: 'c', action: 'start' },
    { portId: 'd', action: 'start' },
    { portId: 'y', action: 'remove' },
    { portId: 'z', action: 'remove' },
  ]);
  assert.deepEqual(diffVpn(new Map(), new Map()), []);
});
