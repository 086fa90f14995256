/**
 * compileFirewall and render without root: golden nft text for both conntrack modes (the files are
 * only read here: a missing one fails; `npm run update-goldens` rewrites them), rule translation, remote-group membership, port-security
 * exemptions, determinism, deltas (a rule change touches one chain), removals, zones, stateless.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { compileFirewall, FirewallCompiler, groupMembers } from '../../../src/agent/firewall/compile.js';
import { deltaText, elementChanges, hasRemovals } from '../../../src/agent/firewall/diff.js';
import { fullText } from '../../../src/agent/firewall/render.js';
import { zonesFor } from '../../../src/agent/firewall/conntrack.js';
import type { CompiledFirewall, FirewallInput, FirewallMode } from '../../../src/agent/firewall/model.js';
import { tapName } from '../../../src/model/kernel-names.js';
import { ruleText } from '../../../src/agent/firewall/rules.js';
import { linkLocalOf, mergeCidrs } from '../../../src/agent/firewall/addresses.js';
import { defaultGroup, makeGroup, makePort, makeRule } from '../../../testkit/firewall-fixtures.js';
import { goldenFile, goldenModel as model, goldenText } from '../../../testkit/firewall-golden.js';

for (const mode of ['br-netfilter', 'bridge-ct'] as const) {
  test(`golden ruleset (${mode})`, () => {
    assert.equal(goldenText(mode), readFileSync(goldenFile(mode), 'utf8'));
  });
}

test('one compiler over changing inputs gives what a fresh compile gives (its per-port memo follows ports and groups)', () => {
  const c = new FirewallCompiler();
  const m = model('br-netfilter');
  const text = (x: FirewallInput, comp: FirewallCompiler) => fullText(comp.compile(x), 1);
  assert.equal(text(m, c), text(m, new FirewallCompiler()));
  // A port's groups change (a new port object), the groups array stays the same object.
  const b2 = { ...m.localPorts[0]!.port, security_groups: ['web'] };
  const m2: FirewallInput = {
    ...m,
    localPorts: [{ ...m.localPorts[0]!, port: b2 }, ...m.localPorts.slice(1)],
    allPorts: [b2, ...m.allPorts.slice(1)],
  };
  assert.equal(text(m2, c), text(m2, new FirewallCompiler()));
  assert.notEqual(text(m2, new FirewallCompiler()), text(m, new FirewallCompiler()));
  // The groups change (a new array: 'web' becomes stateless), the port objects stay the same.
  const m3: FirewallInput = {
    ...m2,
    securityGroups: m2.securityGroups.map((g) => (g.id === 'web' ? { ...g, stateful: false } : g)),
  };
  assert.equal(text(m3, c), text(m3, new FirewallCompiler()));
  assert.match(text(m3, c), /stateless_ports/);
  // And back: nothing of the later inputs sticks.
  assert.equal(text(m, c), text(m, new FirewallCompiler()));
});

test('deterministic: input order does not matter', () => {
  const m = model('br-netfilter');
  const shuffled = {
    ...m,
    localPorts: [...m.localPorts].reverse(),
    allPorts: [...m.allPorts].reverse(),
    securityGroups: [...m.securityGroups].reverse(),
  };
  assert.equal(fullText(compileFirewall(shuffled), 1), fullText(compileFirewall(m), 1));
});

/** The profile chain a port's tap jumps to, from the egress_ports/ingress_ports map. */
function profileChain(c: CompiledFirewall, tap: string, dir: 'egress' | 'ingress'): string | undefined {
  return c.sets
    .get(`${dir}_ports`)!
    .elements.find((e) => e.startsWith(`"${tap}" : `))
    ?.split(' : jump ')[1];
}

test('ports with port security off and network service ports get no chains', () => {
  const c = compileFirewall(model('br-netfilter'));
  const text = fullText(c, 1);
  assert.ok(!text.includes('cccccccc'));
  assert.ok(!text.includes('dddddddd'));
  assert.ok(c.chains.has(profileChain(c, 'tapaaaaaaaa-00', 'egress')!));
});

test('ports with the same groups share one profile; wiring one more adds only set and map elements', () => {
  const m = model('br-netfilter');
  const before = compileFirewall(m);
  const a = m.localPorts.find((lp) => lp.port.id.startsWith('aaaa'))!;
  const twin = {
    ...a.port,
    id: 'abababab-0000-4000-8000-000000000009',
    mac_address: 'fa:16:3e:00:00:09',
    fixed_ips: [{ subnet_id: 's', ip_address: '10.0.1.19' }],
    allowed_address_pairs: [],
  };
  const after = compileFirewall({
    ...m,
    localPorts: [...m.localPorts, { ...a, port: twin, ifname: 'tapabababab-00' }],
    allPorts: [...m.allPorts, twin],
  });
  for (const dir of ['egress', 'ingress'] as const)
    assert.equal(profileChain(after, 'tapabababab-00', dir), profileChain(after, 'tapaaaaaaaa-00', dir));
  assert.equal(after.chains.size, before.chains.size, 'no new chain');
  const delta = deltaText(before, after, 3, 3);
  assert.deepEqual(
    [
      ...new Set(
        delta
          .trim()
          .split('\n')
          .map((l) => l.split(' ').slice(0, 2).join(' ')),
      ),
    ],
    ['add element'],
  );
  assert.match(
    delta,
    /^add element bridge hypernet port_src_v4 \{ "tapabababab-00" \. fa:16:3e:00:00:09 \. 0\.0\.0\.0, "tapabababab-00" \. fa:16:3e:00:00:09 \. 10\.0\.1\.19 \}$/m,
    'host addresses: the hash set',
  );
  assert.equal(hasRemovals(before, after), false);
  assert.match(
    deltaText(after, before, 3, 4),
    /^delete element bridge hypernet port_src_v4 /m,
    'unwired again: its elements go',
  );
});

test('remote group members: fixed IPs and address pairs of every port, wherever bound', () => {
  const m = model('br-netfilter');
  const sets = groupMembers(['default'], m.allPorts);
  assert.deepEqual(sets.get('sg_default_v4'), ['10.0.1.11', '10.0.1.12', '10.0.1.21', '10.0.1.100', '10.0.9.0/24']);
  assert.deepEqual(sets.get('sg_default_v6'), ['fd00::11']);
});

test("a membership change is a delta of that set's changed elements only, and a removal", () => {
  const m = model('br-netfilter');
  const before = compileFirewall(m);
  const moved = m.allPorts.map((p) =>
    p.id.startsWith('eeee') ? { ...p, fixed_ips: [{ subnet_id: 's', ip_address: '10.0.1.22' }] } : p,
  );
  const after = compileFirewall({ ...m, allPorts: moved });
  assert.equal(after.baseKey, before.baseKey);
  assert.equal(
    deltaText(before, after, 7, 7),
    'delete element bridge hypernet sg_default_v4 { 10.0.1.21 }\nadd element bridge hypernet sg_default_v4 { 10.0.1.22 }\n',
    'only the elements that changed',
  );
  assert.equal(hasRemovals(before, after), true, '10.0.1.21 left the group');
  assert.equal(deltaText(before, before, 7, 7), '');
});

test('element changes: exactly the set difference both ways, whatever the order (checked against sets on random lists)', () => {
  let seed = 7;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const naive = (a: string[], b: string[]) => ({
    del: [...new Set(a)].filter((x) => !b.includes(x)).sort(),
    add: [...new Set(b)].filter((x) => !a.includes(x)).sort(),
  });
  for (let t = 0; t < 500; t++) {
    const prev = Array.from({ length: rnd(40) }, () => `e${rnd(30)}`);
    const next = [...prev];
    // A few edits (insert, delete, replace, move), or a reshuffle now and then.
    for (let k = rnd(4); k > 0; k--) {
      const i = rnd(next.length + 1);
      const op = rnd(4);
      if (op === 0) next.splice(i, 0, `e${rnd(40)}`);
      else if (op === 1) next.splice(i, 1);
      else if (op === 2) next[i] = `e${rnd(40)}`;
      else next.push(...next.splice(i, 1));
    }
    if (t % 50 === 0) next.reverse();
    const got = elementChanges(prev, next);
    assert.deepEqual({ del: [...got.del].sort(), add: [...got.add].sort() }, naive(prev, next), `${prev} → ${next}`);
  }
  const big = Array.from({ length: 3000 }, (_, i) => `"tap${i}" . fa:16:3e:00:00:01 . 10.0.${i >> 8}.${i & 255}`);
  const withOne = [...big.slice(0, 1500), 'new', ...big.slice(1500)];
  assert.deepEqual(elementChanges(big, withOne), { del: [], add: ['new'] });
  assert.deepEqual(elementChanges(withOne, big), { del: ['new'], add: [] });
  assert.deepEqual(elementChanges(big, big), { del: [], add: [] });
});

test('a map element whose value changed is deleted by key and added again, before chains go', () => {
  const m = model('br-netfilter');
  const before = compileFirewall(m);
  const map = [...before.sets].find(([, s]) => s.kind === 'map' && s.elements.some((e) => e.includes(' : jump ')))!;
  const [name, s] = map;
  const [key] = s.elements[0]!.split(' : ');
  const changed = {
    ...before,
    sets: new Map(before.sets).set(name, { ...s, elements: [`${key} : drop`, ...s.elements.slice(1)] }),
  };
  const text = deltaText(before, changed, 7, 7);
  assert.equal(
    text,
    `delete element ${s.family} hypernet ${name} { ${key} }\nadd element ${s.family} hypernet ${name} { ${key} : drop }\n`,
  );
});

test('a rule change rewrites only its group chain; adding is no removal, removing is', () => {
  const m = model('br-netfilter');
  const web = m.securityGroups.find((g) => g.id === 'web')!;
  const more = {
    ...web,
    security_group_rules: [
      ...web.security_group_rules,
      makeRule('web', { id: 'w5', direction: 'ingress', protocol: 'tcp', port_range_min: 22 }),
    ],
  };
  const before = compileFirewall(m);
  const after = compileFirewall({ ...m, securityGroups: m.securityGroups.map((g) => (g.id === 'web' ? more : g)) });
  const delta = deltaText(before, after, 7, 7);
  assert.deepEqual(
    delta
      .split('\n')
      .filter((l) => l)
      .map((l) => l.split(' ').slice(0, 4).join(' ')),
    ['flush chain bridge hypernet', ...Array(4).fill('add rule bridge hypernet')],
  );
  assert.match(delta, /^flush chain bridge hypernet sg_web_in\n/);
  assert.equal(hasRemovals(before, after), false);
  assert.equal(hasRemovals(after, before), true);
  assert.match(
    deltaText(after, before, 7, 8),
    /flush chain inet hypernet ct_state\n(add rule inet hypernet ct_state .*\n)+/,
    'a new generation rewrites the state chains',
  );
  assert.match(deltaText(after, before, 7, 8), /ct mark 0x00000008/);
});

test('ports and groups appear and vanish in the delta in a valid order', () => {
  const m = model('br-netfilter');
  const before = compileFirewall(m);
  const after = compileFirewall({ ...m, localPorts: m.localPorts.filter((lp) => !lp.port.id.startsWith('aaaa')) });
  const lines = deltaText(before, after, 1, 2).split('\n');
  const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
  const profile = profileChain(before, 'tapaaaaaaaa-00', 'egress')!;
  assert.ok(!after.chains.has(profile), 'the only port of its profile: the profile goes');
  assert.ok(at(/^delete element bridge hypernet egress_ports \{ "tapaaaaaaaa-00" \}/) >= 0);
  assert.ok(
    at(/^delete element bridge hypernet egress_ports/) < at(new RegExp(`^delete chain bridge hypernet ${profile}$`)),
    'map element gone before its chain goes',
  );
  assert.ok(
    at(new RegExp(`^flush chain bridge hypernet ${profile}$`)) < at(/^delete chain bridge hypernet sg_web_eg/),
    'jumps gone before their target',
  );
  const back = deltaText(after, before, 2, 2).split('\n');
  const pos = (re: RegExp) => back.findIndex((l) => re.test(l));
  assert.ok(
    pos(/^add chain bridge hypernet sg_web_in$/) < pos(/^add element bridge hypernet ingress_ports/),
    'chains declared before the map jumps to them',
  );
});

test('conntrack zones: one per VNI, every bridge port of the network mapped', () => {
  assert.deepEqual(
    [...zonesFor([1001, 66537, 5, 65536])],
    [
      [5, 5],
      [1001, 1001],
      [65536, 1],
      [66537, 1002],
    ],
  );
  const zones = compileFirewall(model('br-netfilter')).sets.get('port_zones')!;
  assert.equal(zones.family, 'inet');
  assert.deepEqual(zones.elements, ['"hnb-1001" : 1001'], 'br_netfilter: inet prerouting sees the bridge');
  const ports = compileFirewall(model('bridge-ct')).sets.get('port_zones')!;
  assert.equal(ports.family, 'bridge');
  for (const n of ['"hnv-1001" : 1001', '"hnd-1001" : 1001', '"tapcccccccc-00" : 1001', '"tapdddddddd-00" : 1001'])
    assert.ok(ports.elements.includes(n), n);
});

test('a port of stateless groups: no invalid drop, no established fast path for it', () => {
  const m = model('br-netfilter');
  const sl = { ...defaultGroup('sl'), stateful: false };
  const ports = m.localPorts.map((lp) =>
    lp.port.id.startsWith('bbbb') ? { ...lp, port: { ...lp.port, security_groups: ['sl'] } } : lp,
  );
  const c = compileFirewall({ ...m, localPorts: ports, securityGroups: [...m.securityGroups, sl] });
  assert.deepEqual(c.sets.get('stateless_ports')!.elements, ['"tapbbbbbbbb-00"']);
  assert.deepEqual(c.chains.get(profileChain(c, 'tapbbbbbbbb-00', 'ingress')!), ['jump sg_sl_in', 'counter drop']);
  const egress = c.base.find((b) => b.name === 'port_egress')!;
  assert.equal(egress.rules[0], 'meta mark & 0x00010000 != 0 iifname != @stateless_ports accept');
  assert.notEqual(c.baseKey, compileFirewall(m).baseKey, 'the hooked chains change: a full replace');
});

test('rule translation', () => {
  const r = (x: Parameters<typeof makeRule>[1]) => ruleText(makeRule('g', x));
  assert.equal(r({ direction: 'ingress' }), 'ether type ip accept');
  assert.equal(
    r({ direction: 'egress', protocol: 'tcp', port_range_min: 22, port_range_max: 22 }),
    'ether type ip meta l4proto 6 th dport 22 accept',
  );
  assert.equal(
    r({ direction: 'ingress', protocol: '17', port_range_min: 1000, port_range_max: 2000 }),
    'ether type ip meta l4proto 17 th dport 1000-2000 accept',
  );
  assert.equal(
    r({ direction: 'ingress', ethertype: 'IPv6', protocol: 'icmp', port_range_min: 128 }),
    'ether type ip6 meta l4proto 58 icmpv6 type 128 accept',
  );
  assert.equal(
    r({ direction: 'egress', remote_ip_prefix: '192.0.2.7/24' }),
    'ether type ip ip daddr 192.0.2.0/24 accept',
  );
  assert.equal(r({ direction: 'ingress', remote_ip_prefix: '0.0.0.0/0', protocol: 'any' }), 'ether type ip accept');
  assert.equal(
    r({ direction: 'ingress', remote_group_id: 'x', ethertype: 'IPv6' }),
    'ether type ip6 ip6 saddr @sg_x_v6 accept',
  );
  assert.equal(
    r({ direction: 'ingress', remote_ip_prefix: 'fd00::/8' }),
    null,
    'IPv6 prefix in an IPv4 rule never matches',
  );
  assert.throws(() => r({ direction: 'ingress', protocol: 'bogus' }));
});

test('address helpers', () => {
  assert.deepEqual(mergeCidrs(['10.0.1.5', '10.0.1.0/24', '10.0.2.1', '10.0.2.1', 'fd00::1']), [
    '10.0.1.0/24',
    '10.0.2.1',
    'fd00::1',
  ]);
  assert.equal(linkLocalOf('fa:16:3e:00:00:01'), 'fe80::f816:3eff:fe00:1');
});
