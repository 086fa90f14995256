/**
 * tc-BPF security groups without root: the compiled map entries (layout as sg.bpf.c reads it), what
 * the compiler refuses, the delta between two compiles, and the commands the driver runs (with a
 * fake runner): one load, one batch of map writes, tc only when taps come or go, a blocked tap when
 * the load fails; the reconciler's port gate.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  BPF_MAX_RULES,
  BPF_RULE0,
  BPF_SRC0,
  BPF_STATELESS,
  compileBpf,
  groupNumber,
} from '../../../src/agent/firewall/bpf/compile.js';
import { diffBpf, isEmptyDelta } from '../../../src/agent/firewall/bpf/diff.js';
import { BpfFirewallDriver } from '../../../src/agent/firewall/bpf/driver.js';
import { BpfFirewallReconciler } from '../../../src/agent/firewall/bpf/reconciler.js';
import { GroupsWithRules } from '../../../src/agent/firewall/reconciler.js';
import { ModelCache } from '../../../src/model/model-cache.js';
import { tapName } from '../../../src/model/kernel-names.js';
import { net } from '../../../testkit/model-fixtures.js';
import type { FirewallInput } from '../../../src/agent/firewall/model.js';
import type { Exec } from '../../../src/common/exec.js';
import { silentLogger } from '../../../src/common/log.js';
import type { Port, SecurityGroup } from '../../../src/model/types.js';
import { defaultGroup, makeGroup, makePort } from '../../../testkit/firewall-fixtures.js';

const ID = ['a1a1a1a1-0000-4000-8000-000000000001', 'b2b2b2b2-0000-4000-8000-000000000002'];
const web = (port: number) =>
  makeGroup('web', [
    { id: 'w1', direction: 'ingress', protocol: 'tcp', port_range_min: port, port_range_max: port + 1 },
    { id: 'w2', direction: 'ingress', protocol: 'icmp', port_range_min: 8, remote_ip_prefix: '192.0.2.0/24' },
    { id: 'w3', direction: 'ingress', ethertype: 'IPv6', protocol: 'tcp' },
  ]);
const ports: Port[] = [
  makePort({ id: ID[0]!, mac_address: 'fa:16:3e:00:00:01', security_groups: ['default', 'web'] }, ['10.0.0.2']),
  makePort({ id: ID[1]!, mac_address: 'fa:16:3e:00:00:02', security_groups: ['default'] }, ['10.0.0.3', 'fd00::3']),
];
const input = (groups: SecurityGroup[], ps: Port[] = ports): FirewallInput => ({
  mode: 'br-netfilter',
  localPorts: ps.map((port, i) => ({ port, ifname: `tap${i}`, vni: 1 })),
  securityGroups: groups,
  allPorts: ps,
});
/** The bytes of a compiled key or value, checked to be plain hex as hn-bpfmap reads it. */
const bytes = (hex: string) => {
  assert.match(hex, /^([0-9a-f]{2})+$/);
  return Buffer.from(hex, 'hex');
};
const RULE0 = BPF_RULE0;
const RULE = 48;
/** Rule `i` of a value: [family, protocol, amin, amax, bmin, bmax, gid]. */
const ruleAt = (b: Buffer, i: number) => {
  const o = RULE0 + RULE * i;
  return [
    b[o + 45],
    b[o + 44],
    b.readUInt16LE(o + 36),
    b.readUInt16LE(o + 38),
    b.readUInt16LE(o + 40),
    b.readUInt16LE(o + 42),
    b.readUInt32LE(o + 32),
  ];
};

describe('tc-BPF compile', () => {
  it('lays out a port entry as the program reads it', () => {
    const c = compileBpf(input([defaultGroup('default'), web(80)]));
    assert.deepEqual(c.taps, ['tap0', 'tap1']);
    const eg = bytes(c.ports.get('tap0/egress')!);
    const ing = bytes(c.ports.get('tap0/ingress')!);
    assert.equal(ing.length, RULE0 + RULE * BPF_MAX_RULES);
    assert.equal(eg.readUInt32LE(4), 2, "default's two egress rules, IPv4 and IPv6");
    assert.deepEqual([ruleAt(eg, 0)[0], ruleAt(eg, 1)[0]].sort(), [4, 6]);
    assert.equal(eg.readUInt32LE(12), 0, 'stateful');
    assert.equal(ing.readUInt32LE(4), 5, 'two remote-group rules, tcp range, icmp type, the IPv6 tcp rule');
    // Rules in group order, each group's in its order: default's remote-group rules first.
    assert.equal(ruleAt(ing, 0)[6], groupNumber('default', ruleAt(ing, 0)[0] as 4 | 6));
    assert.equal(ruleAt(ing, 1)[6], groupNumber('default', ruleAt(ing, 1)[0] as 4 | 6));
    assert.deepEqual([ruleAt(ing, 0)[0], ruleAt(ing, 1)[0]].sort(), [4, 6], 'one remote-group rule per family');
    assert.deepEqual(ruleAt(ing, 2), [4, 6, 80, 81, 0, 0xffff, 0]);
    const icmp = RULE0 + RULE * 3;
    assert.deepEqual([...ing.subarray(icmp + 12, icmp + 16)], [192, 0, 2, 0], 'IPv4 as ::ffff:a.b.c.d');
    assert.deepEqual([...ing.subarray(icmp + 10, icmp + 12)], [0xff, 0xff]);
    assert.deepEqual([...ing.subarray(icmp + 16, icmp + 32)], [...Array(12).fill(255), 255, 255, 255, 0]);
    assert.deepEqual(ruleAt(ing, 3), [4, 1, 8, 8, 0, 0xffff, 0], 'icmp type 8, any code');
    assert.deepEqual(ruleAt(ing, 4), [6, 6, 0, 0xffff, 0, 0xffff, 0], 'IPv6 tcp, any remote');
  });

  it("holds the port's MAC . source pairs of the nft anti-spoofing sets", () => {
    const p = makePort(
      {
        id: ID[0]!,
        mac_address: 'fa:16:3e:00:00:01',
        allowed_address_pairs: [
          { ip_address: '10.0.9.0/24', mac_address: 'fa:16:3e:00:00:09' },
          { ip_address: 'fd00::5', mac_address: 'fa:16:3e:00:00:01' },
        ],
      },
      ['10.0.0.2'],
    );
    const v = bytes(compileBpf(input([], [p])).ports.get('tap0/egress')!);
    const src = Array.from({ length: v.readUInt32LE(8) }, (_, i) => {
      const o = BPF_SRC0 + 40 * i;
      const mac = [...v.subarray(o + 32, o + 38)].map((x) => x.toString(16).padStart(2, '0')).join(':');
      const bits = [...v.subarray(o + 16, o + 32)].reduce((n, x) => n + x.toString(2).replaceAll('0', '').length, 0);
      const a = v.subarray(o, o + 16);
      const addr = v[o + 38] === 4 ? [...a.subarray(12)].join('.') : a.toString('hex');
      return `${mac} ${addr}/${bits}`;
    });
    assert.deepEqual(src, [
      'fa:16:3e:00:00:01 0.0.0.0/128',
      'fa:16:3e:00:00:01 10.0.0.2/128',
      'fa:16:3e:00:00:01 fd000000000000000000000000000005/128',
      'fa:16:3e:00:00:01 fe80000000000000f8163efffe000001/128',
      'fa:16:3e:00:00:09 0.0.0.0/128',
      'fa:16:3e:00:00:09 10.0.9.0/120',
      'fa:16:3e:00:00:09 fe80000000000000f8163efffe000009/128',
    ]);
  });

  it('lists remote group members of both families with their prefix length', () => {
    const c = compileBpf(input([defaultGroup('default'), web(80)]));
    assert.equal(c.members.length, 3, 'the addresses of both default members, IPv4 and IPv6');
    const keys = c.members.map(bytes);
    // Each family's members under the group's number for that family.
    for (const k of keys) {
      const v4 = k.subarray(8, 20).equals(Buffer.from('00000000000000000000ffff', 'hex'));
      assert.equal(k.readUInt32LE(4), groupNumber('default', v4 ? 4 : 6));
    }
    assert.notEqual(groupNumber('default', 4), groupNumber('default', 6));
    assert.deepEqual(keys.map((k) => k.readUInt32LE(0)).sort(), [160, 160, 160]);
    assert.ok(keys.some((k) => k.subarray(8).equals(Buffer.from('fd000000000000000000000000000003', 'hex'))));
  });

  it('recompiles from the memo only what changed, to the same bytes', () => {
    const groups = [defaultGroup('default'), web(80)];
    const a = compileBpf(input(groups));
    const fresh = compileBpf(
      input(
        groups.map((g) => ({ ...g })),
        ports.map((p) => ({ ...p })),
      ),
    );
    assert.deepEqual(fresh, a, 'new objects (no memo hit), same entries');
    const b = compileBpf(input([groups[0]!, web(81)]));
    assert.deepEqual(
      b,
      compileBpf(
        input(
          [defaultGroup('default'), web(81)],
          ports.map((p) => ({ ...p })),
        ),
      ),
    );
    assert.equal(b.ports.get('tap1/ingress'), a.ports.get('tap1/ingress'), 'tap1 is not in web');
  });

  it('changes the generation exactly when a port rules change', () => {
    const a = compileBpf(input([defaultGroup('default'), web(80)]));
    const b = compileBpf(input([defaultGroup('default'), web(81)]));
    const gen = (c: typeof a, k: string) => c.ports.get(k)!.slice(0, 11);
    assert.notEqual(gen(a, 'tap0/ingress'), gen(b, 'tap0/ingress'));
    assert.equal(gen(a, 'tap0/egress'), gen(b, 'tap0/egress'));
    assert.equal(a.ports.get('tap1/ingress'), b.ports.get('tap1/ingress'));
  });

  it('refuses too many rules and unknown groups (those ports stay closed)', () => {
    const many = makeGroup(
      'many',
      Array.from({ length: BPF_MAX_RULES + 1 }, (_, i) => ({
        id: `m${i}`,
        direction: 'ingress' as const,
        protocol: 'tcp',
        port_range_min: i + 1,
      })),
    );
    const ps = [
      { ...ports[0]!, security_groups: ['many'] },
      { ...ports[1]!, security_groups: ['gone'] },
    ];
    const c = compileBpf(input([many], ps));
    assert.match(c.rejected.get(ID[0]!)!, /65 ingress rules/);
    assert.match(c.rejected.get(ID[1]!)!, /unknown/);
    assert.equal(c.ports.size, 0);
    assert.deepEqual(c.taps, ['tap0', 'tap1'], 'still attached: no entry means drop');
  });

  it('flags a port whose groups are all stateless (as isStateless decides for nft)', () => {
    const sl = { ...defaultGroup('default'), stateful: false };
    const c = compileBpf(input([sl, web(80)]));
    assert.equal(c.rejected.size, 0);
    assert.equal(bytes(c.ports.get('tap1/ingress')!).readUInt32LE(12), BPF_STATELESS, 'only stateless groups');
    assert.equal(bytes(c.ports.get('tap0/ingress')!).readUInt32LE(12), 0, 'one stateful group keeps it stateful');
    const a = compileBpf(input([defaultGroup('default'), web(80)]));
    assert.notEqual(
      c.ports.get('tap1/ingress')!.slice(0, 11),
      a.ports.get('tap1/ingress')!.slice(0, 11),
      'new generation',
    );
  });

  it('does not filter ports without port security', () => {
    const c = compileBpf(input([defaultGroup('default'), web(80)], [{ ...ports[0]!, port_security_enabled: false }]));
    assert.deepEqual(c.taps, []);
  });
});

describe('tc-BPF diff', () => {
  it('writes only what changed', () => {
    const a = compileBpf(input([defaultGroup('default'), web(80)]));
    assert.ok(isEmptyDelta(diffBpf(a, a)));
    const d = diffBpf(a, compileBpf(input([defaultGroup('default'), web(81)])));
    assert.deepEqual(
      d.portSet.map(([k]) => k),
      ['tap0/ingress'],
    );
    assert.deepEqual([d.portDel, d.attach, d.detach, d.memberAdd, d.memberDel], [[], [], [], [], []]);
    const gone = diffBpf(a, compileBpf(input([defaultGroup('default'), web(80)], [ports[0]!])));
    assert.deepEqual(gone.portDel, ['tap1/egress', 'tap1/ingress']);
    assert.deepEqual(gone.detach, ['tap1']);
    assert.equal(gone.memberDel.length, 2, 'tap1 (IPv4 and IPv6) left the default group');
  });
});

describe('tc-BPF driver (fake runner)', () => {
  /** `failAttach`: tc cannot attach the programs to this tap (in a batch or alone). */
  function fake(failLoad = false, failAttach?: string) {
    const calls: Array<{ cmd: string; args: readonly string[]; input?: string }> = [];
    const exec: Exec = async (cmd, args, opts) => {
      calls.push({ cmd, args, input: opts?.input });
      if (cmd === 'ls') return { stdout: '', stderr: 'no such file', code: 2 };
      const text = `${args.join(' ')} ${opts?.input ?? ''}`;
      if (cmd === 'tc' && failAttach && text.includes(`dev ${failAttach} ingress`) && text.includes('object-pinned'))
        throw new Error('attach failed');
      if (cmd === 'bpftool' && args[0] === 'prog' && failLoad) throw new Error('load failed');
      if (cmd === 'ip')
        return {
          stdout: JSON.stringify([
            { ifname: 'tap0', ifindex: 7 },
            { ifname: 'tap1', ifindex: 9 },
          ]),
          stderr: '',
          code: 0,
        };
      return { stdout: '', stderr: '', code: 0 };
    };
    const driver = new BpfFirewallDriver({
      node: exec,
      tc: exec,
      host: exec,
      pinDir: '/bpf/n',
      log: silentLogger(),
      object: '/o.o',
      bpfmap: '/hn-bpfmap',
    });
    return { calls, driver };
  }

  it('loads once, writes entries in one batch, attaches each tap; a rule change is a map write', async () => {
    const { calls, driver } = fake();
    await driver.apply(compileBpf(input([defaultGroup('default'), web(80)])));
    const loads = calls.filter((c) => c.cmd === 'bpftool' && c.args[0] === 'prog');
    assert.deepEqual(
      loads.map((c) => c.args),
      [['prog', 'loadall', '/o.o', '/bpf/n/prog', 'pinmaps', '/bpf/n/maps', 'type', 'classifier']],
    );
    const sysctl = calls.find((c) => c.cmd === 'sysctl');
    assert.deepEqual(
      sysctl?.args,
      ['-q', '-w', 'net.bridge.bridge-nf-call-iptables=0', 'net.bridge.bridge-nf-call-ip6tables=0'],
      'bridged frames kept off the inet hooks',
    );
    assert.ok(calls.indexOf(sysctl!) < calls.indexOf(loads[0]!), 'before the programs load');
    const batch = calls.filter((c) => c.cmd === '/hn-bpfmap');
    assert.equal(batch.length, 1);
    assert.deepEqual(
      batch[0]!.args,
      ['-batch', '/bpf/n/maps/hn_ports', '/bpf/n/maps/hn_members'],
      'map 0, map 1, in the form the agent runs on a long-lived child',
    );
    const lines = batch[0]!.input!.trim().split('\n');
    // tap0 (ifindex 7) from the port: key {u32 7, u32 0}.
    assert.equal(lines.filter((l) => l.startsWith('u 0 0700000000000000 ')).length, 1);
    assert.equal(lines.filter((l) => /^u 1 [0-9a-f]{48} 01000000$/.test(l)).length, 3, 'three member keys');
    const tc = calls.filter((c) => c.cmd === 'tc');
    assert.deepEqual(
      tc.map((c) => c.args),
      [['-force', '-batch', '-']],
      'every tap attached in one tc batch',
    );
    const filters = tc[0]!
      .input!.trim()
      .split('\n')
      .filter((l) => l.startsWith('filter '));
    assert.equal(filters.length, 4, 'two taps, two hooks');
    assert.ok(
      filters.some((l) => l.endsWith('dev tap1 egress pref 1 handle 1 bpf da object-pinned /bpf/n/prog/hn_to_port')),
    );

    calls.length = 0;
    await driver.apply(compileBpf(input([defaultGroup('default'), web(81)])));
    assert.deepEqual(
      calls.map((c) => c.cmd),
      ['ip', '/hn-bpfmap'],
      'ifindexes, then one map write: no load, no tc',
    );
    assert.deepEqual(
      [calls[0]!.args, calls[0]!.input],
      [['-json', '-d', '-batch', '-'], 'link show\n'],
      'the ifindexes from the listing form the agent runs on a long-lived child',
    );
    assert.deepEqual(calls[1]!.input!.trim().split('\n').length, 1);
    assert.match(calls[1]!.input!, /^u 0 0700000001000000 [0-9a-f]{7456}\n$/, "tap0's ingress value, whole");
  });

  it('blocks the tap whose programs do not attach (the batch failed: tap by tap)', async () => {
    const { calls, driver } = fake(false, 'tap1');
    await assert.rejects(driver.apply(compileBpf(input([defaultGroup('default'), web(80)]))), /attach failed/);
    const tc = calls.filter((c) => c.cmd === 'tc').map((c) => c.args.join(' '));
    assert.equal(tc[0], '-force -batch -');
    assert.ok(
      tc.includes('filter replace dev tap0 egress pref 1 handle 1 bpf da object-pinned /bpf/n/prog/hn_to_port'),
    );
    assert.ok(
      tc.includes('filter replace dev tap1 ingress pref 1 handle 1 bpf da bytecode 1,6 0 0 2,'),
      'tap1 blocked',
    );
    assert.ok(tc.includes('filter replace dev tap1 egress pref 1 handle 1 bpf da bytecode 1,6 0 0 2,'));
  });

  it('between full passes lists only loose links and unknown taps; a re-created tap is attached again', async () => {
    // The kernel: tap0 enslaved (not in `nomaster`), tap1 loose; ifindexes as given.
    const kernel = { tap0: { ifindex: 7, loose: false }, tap1: { ifindex: 9, loose: true } };
    const calls: Array<{ cmd: string; input?: string }> = [];
    const exec: Exec = async (cmd, args, opts) => {
      calls.push({ cmd, input: opts?.input });
      if (cmd === 'ls') return { stdout: '', stderr: '', code: 2 };
      if (cmd !== 'ip') return { stdout: '', stderr: '', code: 0 };
      const docs = opts!
        .input!.trim()
        .split('\n')
        .flatMap((line) => {
          const links = Object.entries(kernel).filter(([name, l]) =>
            line === 'link show' ? true : line === 'link show nomaster' ? l.loose : line === `link show dev ${name}`,
          );
          return line.startsWith('link show dev') && !links.length
            ? []
            : [JSON.stringify(links.map(([ifname, l]) => ({ ifname, ifindex: l.ifindex })))];
        });
      return { stdout: docs.map((d) => `${d}\n`).join(''), stderr: '', code: 0 };
    };
    const driver = new BpfFirewallDriver({ node: exec, tc: exec, host: exec, pinDir: '/b', log: silentLogger() });
    const c = compileBpf(input([defaultGroup('default'), web(80)]));
    await driver.apply(c, true);
    const listings = () => calls.filter((x) => x.cmd === 'ip').map((x) => x.input);
    assert.deepEqual(listings(), ['link show\n']);
    calls.length = 0;
    await driver.apply(c, false);
    assert.deepEqual(listings(), ['link show nomaster\n'], 'every tap known: the loose links only');
    assert.equal(calls.filter((x) => x.cmd === 'tc').length, 0, 'nothing to attach');
    // tap0 is deleted and made again (a new ifindex, loose until the datapath enslaves it).
    kernel.tap0 = { ifindex: 11, loose: true };
    calls.length = 0;
    await driver.apply(c, false);
    const tc = calls.filter((x) => x.cmd === 'tc').map((x) => x.input ?? '');
    assert.ok(
      tc.some((t) => t.includes('dev tap0 ingress')),
      'tap0 attached again',
    );
    assert.ok(
      calls.some((x) => x.input?.includes('u 0 0b00000000000000 ')),
      'its entries written at ifindex 11',
    );
    // The link monitor reports tap1 (it came or went): listed by name on the next pass.
    kernel.tap0.loose = false;
    driver.forgetTap('tap1');
    calls.length = 0;
    await driver.apply(c, false);
    assert.deepEqual(listings(), ['link show nomaster\nlink show dev tap1\n']);
  });

  it('blocks every new tap when the programs do not load', async () => {
    const { calls, driver } = fake(true);
    await assert.rejects(driver.apply(compileBpf(input([defaultGroup('default'), web(80)]))), /load failed/);
    const filters = calls.filter((c) => c.cmd === 'tc' && c.args[0] === 'filter').map((c) => c.args.join(' '));
    assert.equal(filters.length, 4);
    for (const f of filters) assert.match(f, /bpf da bytecode 1,6 0 0 2,$/);
  });
});

describe('tc-BPF reconciler (fake runner)', () => {
  it('gates a port until its tap exists and carries its programs and entries', async () => {
    const links = [{ ifname: tapName(ID[0]!), ifindex: 7 }];
    const tcCalls: string[] = [];
    const exec: Exec = async (cmd, args, opts) => {
      if (cmd === 'ls') return { stdout: '', stderr: '', code: 2 };
      if (cmd === 'ip') return { stdout: JSON.stringify(links), stderr: '', code: 0 };
      if (cmd === 'tc') tcCalls.push(...(opts?.input?.trim().split('\n') ?? [args.join(' ')]));
      return { stdout: '', stderr: '', code: 0 };
    };
    const driver = new BpfFirewallDriver({ node: exec, tc: exec, host: exec, pinDir: '/b', log: silentLogger() });
    const rec = new BpfFirewallReconciler('h1', driver, silentLogger());
    const cache = new ModelCache();
    cache.applySnapshot({
      type: 'snapshot',
      revision: 1,
      networks: [net('n1', 1001)],
      subnets: [],
      ports: ports.map((p) => ({ ...p, network_id: 'n1', 'binding:host_id': 'h1' })),
      security_groups: [defaultGroup('default'), web(80)],
      security_group_rules: [],
      agents: [],
      hypervms: [],
    });
    await rec.reconcile(cache.view(), { full: true, modelChanged: true });
    assert.deepEqual([rec.ready(ID[0]!), rec.ready(ID[1]!)], [true, false], 'the second tap is not there yet');
    assert.ok(tcCalls.every((c) => c.includes(tapName(ID[0]!))));
    links.push({ ifname: tapName(ID[1]!), ifindex: 9 });
    // A tap woke the loop (the model is unchanged): the pass still runs while a port waits for its tap.
    await rec.reconcile(cache.view(), { full: false, modelChanged: false });
    assert.deepEqual([rec.ready(ID[0]!), rec.ready(ID[1]!)], [true, true]);
    assert.ok(tcCalls.some((c) => c.includes(`dev ${tapName(ID[1]!)} egress`)));
  });
});

describe('groups with their rules (both firewall modes)', () => {
  it('the same array while no group or rule object changed, a new one after a rule changes', () => {
    const snapshot = (rules: SecurityGroup['security_group_rules']) => {
      const cache = new ModelCache();
      cache.applySnapshot({
        type: 'snapshot',
        revision: 1,
        networks: [],
        subnets: [],
        ports: [],
        // Rules also come as a table of their own: the merge makes new group objects.
        security_groups: [{ ...web(80), security_group_rules: [] }],
        security_group_rules: rules,
        agents: [],
        hypervms: [],
      });
      return cache;
    };
    const cache = snapshot(web(80).security_group_rules);
    const groups = new GroupsWithRules();
    const first = groups.of(cache.view());
    assert.equal(first[0]!.security_group_rules.length, 3);
    assert.equal(groups.of(cache.view()), first, 'unchanged model: the same array, so the same group objects');
    const changed = web(81).security_group_rules[0]!;
    cache.applyEvent({
      type: 'event',
      revision: 2,
      kind: 'security_group_rule',
      op: 'update',
      id: changed.id,
      object: changed,
    });
    const second = groups.of(cache.view());
    assert.notEqual(second, first);
    assert.equal(second[0]!.security_group_rules.find((r) => r.id === 'w1')!.port_range_min, 81);
  });
});
