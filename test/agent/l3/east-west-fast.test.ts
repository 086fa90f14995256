/**
 * The east-west fast path, pure: routed frames to remote ports pass the node's bridge by (the netdev
 * table), east-west in the router namespace is not tracked unless a floating IP's fixed address
 * sends it, the router's MAC is pinned on its bridge port, and a stale forward is rewritten.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileL3 } from '../../../src/agent/l3/compile.js';
import { commandsOf } from '../../../src/agent/l3/ops.js';
import { L3Driver } from '../../../src/agent/l3/driver.js';
import type { Exec } from '../../../src/common/exec.js';
import { port } from '../../../testkit/model-fixtures.js';
import { l3Model, nodeA } from './fixtures.js';

const fip1: [string, string, string, string] = ['f1', '203.0.113.20', '0e100000-0001', '10.0.1.10'];
const netdevOf = (text: string): string => /table netdev hypernet_l3 \{[\s\S]*\n\}\n/.exec(text)?.[0] ?? '';

test('routed frames to remote ports leave each interface veth straight for the VXLAN', () => {
  // A second remote port, an unbound one and a local one: only bound-elsewhere MACs are remote.
  const ports = [
    port('0e300000-0003', 'n1', 'hostB', 'FA:16:3E:00:03:30', []),
    port('0e400000-0004', 'n1', '', 'fa:16:3e:00:04:40', []),
    port('0e500000-0005', 'n1', 'hostA', 'fa:16:3e:00:05:50', []),
  ];
  const t = netdevOf(compileL3(nodeA, l3Model({ ports })).bridgeNft);
  assert.match(t, /set remote_100 \{\n\t\ttype ether_addr;\n\t\telements = \{ fa:16:3e:00:02:20, fa:16:3e:00:03:30 \}/);
  for (const outer of ['hrpa1000000-00', 'hrpa2000000-00'])
    assert.match(
      t,
      new RegExp(
        `chain ${outer} \\{\\n\\t\\ttype filter hook ingress device "${outer}" priority filter; policy accept;\\n` +
          '\\t\\tether daddr @remote_100 fwd to "hnv-100"',
      ),
    );
  for (const local of ['fa:16:3e:00:01:10', 'fa:16:3e:00:05:50', 'fa:16:3e:00:04:40', 'fa:16:3e:aa:00:01'])
    assert.ok(!t.includes(local), `${local} is not remote`);
});

test('no remote port, or the router down: no netdev table, and the key follows it', () => {
  const alone = compileL3({ ...nodeA, host: 'hostB' }, l3Model());
  // hostB's only remote port is on hostA: it gets a table; a model without that port does not.
  assert.match(netdevOf(alone.bridgeNft), /elements = \{ fa:16:3e:00:01:10 \}/);
  const down = compileL3(nodeA, l3Model({ up: false }));
  assert.equal(netdevOf(down.bridgeNft), '');
  assert.notEqual(down.bridgeNftKey, compileL3(nodeA, l3Model()).bridgeNftKey);
});

test('east-west in the router namespace is not tracked, except from a floating IP’s fixed address', () => {
  const plain = compileL3(nodeA, l3Model()).routers[0]!.nft;
  assert.match(
    plain,
    new RegExp(
      'chain raw \\{\\n\\t\\ttype filter hook prerouting priority raw; policy accept;\\n' +
        '\\t\\tiifname "qr-\\*" ip daddr \\{ 10\\.0\\.1\\.0/24, 10\\.0\\.2\\.0/24 \\} notrack\\n',
    ),
  );
  const withFip = compileL3(nodeA, l3Model({ fips: [fip1] })).routers[0]!.nft;
  assert.match(withFip, /ip daddr \{ 10\.0\.1\.0\/24, 10\.0\.2\.0\/24 \} ip saddr != \{ 10\.0\.1\.10 \} notrack/);
  // The reply of a flow DNATed here is un-DNATed: its DNAT stays in the same table.
  assert.match(withFip, /ip daddr 203\.0\.113\.20 dnat to 10\.0\.1\.10/);
});

test('the router’s MAC is pinned on its bridge port; the netdev table is replaced with the others', () => {
  const set = commandsOf({ op: 'outer-set', outer: 'hrpx', bridge: 'hnb-100', mac: 'fa:16:3e:aa:00:01' }, null);
  assert.deepEqual(
    set.map((c) => [c.cmd, ...c.args].join(' ')),
    ['ip link set hrpx master hnb-100 up', 'bridge fdb replace fa:16:3e:aa:00:01 dev hrpx master static'],
  );
  const gw = commandsOf({ op: 'outer-set', outer: 'hrgx', bridge: null, mac: 'fa:16:3e:bb:00:0a' }, null);
  assert.deepEqual(
    gw.map((c) => c.args.join(' ')),
    ['link set hrgx nomaster up'],
  );
  const [nft] = commandsOf({ op: 'bridge-nft', text: '' }, null);
  assert.match(nft!.input!, /delete table netdev hypernet_l3\n/);
});

test('a VXLAN made again leaves `fwd to` on a stale ifindex: the read forces the node tables out', async () => {
  const bridge = 'table bridge hypernet_l3 {\n\tcomment "0abc"\n}';
  const read = async (netdev: string) => {
    const exec: Exec = async (cmd, args) => {
      const line = [cmd, ...args].join(' ');
      if (line === 'nft list table bridge hypernet_l3') return { code: 0, stdout: bridge, stderr: '' };
      if (line === 'nft list table netdev hypernet_l3') return { code: 0, stdout: netdev, stderr: '' };
      return { code: 0, stdout: line.startsWith('ip netns list') ? '' : '[]', stderr: '' };
    };
    return (await new L3Driver(exec, 'hn-', '192.0.2.2').read()).bridgeNftKey;
  };
  const rule = (to: string) =>
    `table netdev hypernet_l3 {\n\tchain hrpx {\n\t\tether daddr @remote_100 fwd to ${to}\n\t}\n}`;
  assert.equal(await read(rule('"hnv-100"')), '0abc');
  assert.equal(await read(rule('17')), null);
});
