/**
 * Containment in the firewall compiler (pure): a port or group the agent cannot compile is refused
 * alone, closed (drop in both maps, in spoof_ports with no addresses) and named with its reason;
 * every other port compiles as it would without it, and remote-group sets leave the bad address out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFirewall } from '../../../src/agent/firewall/compile.js';
import { fullText } from '../../../src/agent/firewall/render.js';
import type { FirewallInput } from '../../../src/agent/firewall/model.js';
import { checkRuleText, isPlainAddress, portProblem } from '../../../src/agent/firewall/validate.js';
import { tapName } from '../../../src/model/kernel-names.js';
import type { Port, SecurityGroup } from '../../../src/model/types.js';
import { defaultGroup, makeGroup, makePort } from '../../../testkit/firewall-fixtures.js';

const good = makePort({ id: 'p-good', mac_address: 'fa:16:3e:00:00:01', security_groups: ['default'] }, ['10.0.0.1']);
const zoned = makePort(
  {
    id: 'p-zoned',
    mac_address: 'fa:16:3e:00:00:02',
    security_groups: ['default'],
    allowed_address_pairs: [{ ip_address: 'fe80::1%eth0', mac_address: 'fa:16:3e:00:00:02' }],
  },
  ['10.0.0.2'],
);
const oddGroup = makeGroup('odd', [{ direction: 'ingress', protocol: 'teleport' }]);
const odd = makePort({ id: 'p-odd', mac_address: 'fa:16:3e:00:00:03', security_groups: ['odd'] }, ['10.0.0.3']);

function input(ports: Port[], groups: SecurityGroup[] = [defaultGroup('default'), oddGroup]): FirewallInput {
  return {
    mode: 'br-netfilter',
    localPorts: ports.map((port) => ({ port, ifname: tapName(port.id), vni: 100 })),
    securityGroups: groups,
    allPorts: ports,
  };
}

test('validation: plain addresses and MACs pass, zone ids and syntax do not', () => {
  for (const a of ['10.0.0.1', '10.0.0.0/24', '2001:db8::1', 'fe80::/64']) assert.equal(isPlainAddress(a), true, a);
  for (const a of ['fe80::1%eth0', '10.0.0.1 }', '10.0.0.1;', 'x', '', '10.0.0.0/24/1'])
    assert.equal(isPlainAddress(a), false, a);
  assert.equal(portProblem(good), null);
  assert.match(portProblem(zoned) ?? '', /fe80::1%eth0/);
  assert.match(portProblem({ ...good, mac_address: 'fa:16:3e:00:00:01 }' }) ?? '', /not a MAC/);
  assert.equal(
    checkRuleText('ether type ip ip saddr 10.0.0.0/8 meta l4proto 6 th dport 22-80 accept').length > 0,
    true,
  );
  assert.throws(() => checkRuleText('ether type ip ip saddr @sg_x}; flush ruleset;_v4 accept'), /unsafe/);
});

test('a port with an address nft rejects is closed and named; the others compile as without it', () => {
  const alone = compileFirewall(input([good]));
  const both = compileFirewall(input([good, zoned]));
  assert.deepEqual([...both.rejected.keys()], ['p-zoned']);
  assert.match(both.rejected.get('p-zoned')!, /allowed_address_pairs: "fe80::1%eth0"/);
  assert.equal(alone.rejected.size, 0);
  const tap = `"${tapName('p-zoned')}"`;
  assert.ok(both.sets.get('egress_ports')!.elements.includes(`${tap} : drop`));
  assert.ok(both.sets.get('ingress_ports')!.elements.includes(`${tap} : drop`));
  assert.ok(both.sets.get('spoof_ports')!.elements.includes(tap));
  assert.ok(!both.sets.get('port_macs')!.elements.some((e) => e.startsWith(tap)), 'no address it may send from');
  // The good port's chains and elements are those it has alone.
  assert.deepEqual(both.chains, alone.chains);
  for (const name of ['port_macs', 'port_src_v4', 'port_src_v6'])
    assert.deepEqual(both.sets.get(name)!.elements, alone.sets.get(name)!.elements, name);
  // Its default group's member set keeps its plain fixed IP, not the zoned address.
  assert.deepEqual(both.sets.get('sg_default_v4')!.elements, ['10.0.0.1', '10.0.0.2']);
  assert.deepEqual(both.sets.get('sg_default_v6')!.elements, []);
  assert.doesNotMatch(fullText(both, 1), /%/);
});

test('a group with a rule the agent cannot compile refuses the ports that use it, not the node', () => {
  const c = compileFirewall(input([good, odd]));
  assert.deepEqual([...c.rejected.keys()], ['p-odd']);
  assert.match(c.rejected.get('p-odd')!, /security group odd rule .*unknown protocol teleport/);
  assert.ok(![...c.chains.keys()].some((n) => n.startsWith('sg_odd')), 'no chain of the refused group');
  assert.ok(c.chains.has('sg_default_in'));
  // Fixed: the port is wired again, no longer refused.
  const fixed = makeGroup('odd', [{ direction: 'ingress', protocol: 'tcp' }]);
  assert.equal(compileFirewall(input([good, odd], [defaultGroup('default'), fixed])).rejected.size, 0);
});
