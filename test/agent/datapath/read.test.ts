/** read.ts parses real `ip -json` / `bridge -json` output captured on this kernel (samples/). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseBridgePorts,
  parseDevFdb,
  parseFdb,
  parseLinks,
  parseNeigh,
  parseSlaveBridgePorts,
} from '../../../src/agent/datapath/kernel-parse.js';
import { sample } from '../../../testkit/model-fixtures.js';

test('read: links with kind, mtu, up, master and vxlan attributes', async () => {
  const links = parseLinks(await sample('ip-link.json'));
  assert.deepEqual(links.get('hnb-100'), {
    name: 'hnb-100',
    kind: 'bridge',
    mtu: 1450,
    mac: '02:68:00:00:64:00',
    up: true,
    master: null,
    vxlan: null,
  });
  assert.deepEqual(links.get('hnv-100'), {
    name: 'hnv-100',
    kind: 'vxlan',
    mtu: 1450,
    mac: '6e:a8:9e:dc:88:9a',
    up: true,
    master: 'hnb-100',
    vxlan: { vni: 100, local: '192.0.2.1', port: 4789, learning: false },
  });
  assert.deepEqual(links.get('hnv-200')?.vxlan, { vni: 200, local: '192.0.2.1', port: 4789, learning: true });
  assert.equal(links.get('hnv-200')?.up, false);
  assert.deepEqual(links.get('tapaaaaaaaa-bb'), {
    name: 'tapaaaaaaaa-bb',
    kind: 'veth',
    mtu: 1450,
    mac: 'b2:17:60:6d:ab:1e',
    up: true,
    master: 'hnb-100',
    vxlan: null,
  });
  assert.equal(links.get('lo')?.kind, null);
});

test('read: bridge ports with learning and neigh_suppress', async () => {
  const bp = parseBridgePorts(await sample('bridge-link.json'));
  assert.deepEqual(bp.get('hnv-100'), { name: 'hnv-100', master: 'hnb-100', learning: false, neighSuppress: true });
  assert.deepEqual(bp.get('tapaaaaaaaa-bb'), {
    name: 'tapaaaaaaaa-bb',
    master: 'hnb-100',
    learning: true,
    neighSuppress: false,
  });
});

test('read: fdb entries of the vxlan device (self with dst, bridge master static)', async () => {
  const fdb = parseFdb(await sample('bridge-fdb.json')).filter((e) => e.dev === 'hnv-100');
  const key = (e: { mac: string; dst: string | null; master: boolean; state: string }): string =>
    `${e.mac} ${e.dst} ${e.master} ${e.state}`;
  const keys = fdb.map(key).sort();
  for (const k of [
    '00:00:00:00:00:00 192.0.2.2 false permanent',
    '00:00:00:00:00:00 198.51.100.7 false permanent',
    'fa:16:3e:00:00:02 192.0.2.2 false static',
    'fa:16:3e:00:00:02 null true static',
  ]) {
    assert.ok(keys.includes(k), `missing ${k} in ${keys.join(', ')}`);
  }
  // The bridge's own local entry for the vxlan port's address is "permanent", not ours.
  assert.ok(fdb.some((e) => e.master && e.state === 'permanent'));
});

test('read: neighbours, permanent and not', async () => {
  const n = parseNeigh(await sample('ip-neigh.json'));
  assert.deepEqual(
    n.find((x) => x.dev === 'hnb-100'),
    { ip: '10.0.1.2', dev: 'hnb-100', mac: 'fa:16:3e:00:00:02', permanent: true },
  );
  assert.deepEqual(
    n.find((x) => x.ip === '192.0.2.9'),
    { ip: '192.0.2.9', dev: 'u0', mac: null, permanent: false },
  );
});

test('read: empty output parses to empty state', () => {
  assert.equal(parseLinks('').size, 0);
  assert.deepEqual(parseFdb('[]'), []);
  assert.deepEqual(parseNeigh(''), []);
});

test('read: bridge-port flags from a detailed link listing (info_slave_data); fdb of one device', async () => {
  const bp = parseSlaveBridgePorts(await sample('ip-link.json'));
  assert.deepEqual(bp.get('hnv-100'), { name: 'hnv-100', master: 'hnb-100', learning: false, neighSuppress: true });
  assert.equal(bp.has('hnb-100'), false, 'a bridge is no bridge port');
  const fdb = parseDevFdb(
    '[{"mac":"00:00:00:00:00:00","dst":"192.0.2.2","flags":["self"],"state":"permanent"},{"mac":"FA:16:3E:00:00:03","flags":[],"master":"hnb-100","state":"static"}]',
    'hnv-100',
  );
  assert.deepEqual(fdb, [
    { mac: '00:00:00:00:00:00', dev: 'hnv-100', dst: '192.0.2.2', master: false, state: 'permanent' },
    { mac: 'fa:16:3e:00:00:03', dev: 'hnv-100', dst: null, master: true, state: 'static' },
  ]);
});
