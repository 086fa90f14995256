/**
 * The HyperVM feature's pure parts: which containers a node compiles from the model (its own HyperVMs,
 * bound ports, not in ERROR), their LXC config, and the steps the diff picks (launch only while the
 * token is unspent, start a stopped one, destroy strays, leave launches under way alone).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileHyperVms, containerName } from '../../../src/agent/hypervm/compile.js';
import { diffHyperVms } from '../../../src/agent/hypervm/diff.js';
import { lxcConfig } from '../../../src/agent/hypervm/driver.js';
import { hypervm as hv, net, port, view } from '../../../testkit/model-fixtures.js';

const ID = '3f2a0c1e-0000-4000-8000-000000000001';
const bound = (id: string, host: string, device: string) =>
  port(id, 'n1', host, 'FA:16:3E:00:00:01', ['10.0.0.5'], { device_id: device, device_owner: 'compute:hypervm' });

test('compile: this node’s HyperVMs on ports bound here, none in ERROR', () => {
  const m = view({
    networks: [net('n1', 1001)],
    ports: [bound('p1aaaaaaaaaaaa', 'hv-a', ID), bound('p2', 'hv-a', 'other'), bound('p3', 'hv-b', 'x3')],
    hypervms: [
      hv(ID, 'p1aaaaaaaaaaaa', 'hv-a'),
      hv('x2', 'p2', 'hv-a'),
      hv('x3', 'p3', 'hv-b'),
      hv('x4', 'p1aaaaaaaaaaaa', 'hv-a', { status: 'ERROR' }),
    ],
  });
  const out = compileHyperVms('hv-a', m);
  assert.deepEqual(
    [...out.keys()],
    [containerName(ID)],
    'a port held by another device, another host, ERROR: left out',
  );
  const c = out.get(containerName(ID));
  assert.deepEqual(
    { tap: c?.tap, mac: c?.mac, mtu: c?.mtu, imageId: c?.imageId },
    { tap: 'tapp1aaaaaaaaa', mac: 'fa:16:3e:00:00:01', mtu: 1450, imageId: 'img' },
  );
  const cfg = lxcConfig(c!, '/r/rootfs', ['/bin/sh', '/init.sh', 'a b'], 100000, '/r');
  assert.match(cfg, /^lxc\.idmap = u 0 100000 65536$/m, 'unprivileged');
  assert.match(cfg, /^lxc\.net\.0\.veth\.pair = tapp1aaaaaaaaa$/m, 'the host side is the port’s tap');
  assert.match(cfg, /^lxc\.net\.0\.hwaddr = fa:16:3e:00:00:01$/m);
  assert.match(cfg, /^lxc\.init\.cmd = \/bin\/sh \/init\.sh 'a b'$/m);
});

test('diff: launch while the token is unspent, start, report, fail, destroy; launches under way untouched', () => {
  const m = view({
    networks: [net('n1', 1001)],
    ports: ['a', 'b', 'c', 'd', 'e'].map((x) => bound(`p${x}`, 'hv-a', `v${x}`)),
    hypervms: [
      hv('va', 'pa', 'hv-a'),
      hv('vb', 'pb', 'hv-a', { launch_token_issued: true }),
      hv('vc', 'pc', 'hv-a', { launch_token_issued: true, status: 'STARTING' }),
      hv('vd', 'pd', 'hv-a', { launch_token_issued: true, status: 'ACTIVE' }),
      hv('ve', 'pe', 'hv-a', { launch_token_issued: true }),
    ],
  });
  const desired = compileHyperVms('hv-a', m);
  const actual = [
    { name: 'hv-vc', running: true },
    { name: 'hv-vd', running: false },
    { name: 'hv-gone', running: true },
  ];
  const ops = diffHyperVms(desired, actual, new Set(['hv-ve']));
  const summary = ops.map((o) => `${o.op}:${'name' in o ? o.name : o.c.name}`).sort();
  assert.deepEqual(summary, ['active:hv-vc', 'destroy:hv-gone', 'fail:hv-vb', 'launch:hv-va', 'start:hv-vd']);
  assert.deepEqual(diffHyperVms(desired, actual, new Set(['hv-gone', ...desired.keys()])), [], 'all under way');
});
