/**
 * The custom-route controller's pure parts: compile (store + EC2's view → what EC2 must hold, with
 * failover to a standby) and diff (→ ordered operations, touching only what the controller owns),
 * and a property test over random ports and agents: applying the diff to the view reaches what was
 * wanted, and going there from an earlier state ends where a fresh start ends.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CrView } from '../../src/model/custom-route-cloud.js';
import { CUSTOM_ROUTE_PROFILE_KEY } from '../../src/model/custom-route.js';
import type { Agent, Port, Subnet } from '../../src/model/types.js';
import { compile, type CrInput } from '../../src/server/custom-route/compile.js';
import { applyOps, diff } from '../../src/server/custom-route/diff.js';
import type { CrOp } from '../../src/server/custom-route/types.js';

const CLOUD = 'aws-1';
const GROUPS = { vm: 'cr-vms', hs: 'cr-hs' };
const eniId = (n: number): string => `eni-${n.toString(16).padStart(8, '0')}`;
const HS = [eniId(0xa0), eniId(0xa1), eniId(0xa2)];
const VM = [0, 1, 2, 3, 4, 5].map((i) => eniId(0xb0 + i));
const SUBNET_OF_VM = (i: number) => (i % 2 ? 'subnet-b' : 'subnet-a');

const agent = (host: string, eni: string | undefined, o: Partial<Agent> = {}): Agent =>
  ({
    id: `id-${host}`,
    host,
    admin_state_up: true,
    alive: true,
    heartbeat_timestamp: '2026-01-01T00:00:00Z',
    configurations: { tunneling_ip: '192.0.2.1', cloud: CLOUD, ...(eni ? { custom_route_interface: eni } : {}) },
    ...o,
  }) as Agent;

const port = (id: string, net: string, ip: string, host: string, vm: string, mode = 'instead'): Port =>
  ({
    id,
    network_id: net,
    fixed_ips: [{ subnet_id: `s-${net}`, ip_address: ip }],
    'binding:host_id': host,
    'binding:profile': { [CUSTOM_ROUTE_PROFILE_KEY]: { mode, interface: vm, vpc_ip: '10.20.2.10' } },
  }) as unknown as Port;

const subnet = (net: string, cidr: string): Subnet =>
  ({ id: `s-${net}`, network_id: net, cidr, ip_version: 4 }) as Subnet;

const view = (): CrView => ({
  mainTable: 'rtb-main',
  tableOfSubnet: { 'subnet-b': 'rtb-b' },
  routes: { 'rtb-main': {}, 'rtb-b': {} },
  enis: Object.fromEntries([
    ...HS.map((id) => [id, { id, subnetId: 'subnet-hs', sourceDestCheck: true, groups: ['sg-default'] }]),
    ...VM.map((id, i) => [id, { id, subnetId: SUBNET_OF_VM(i), sourceDestCheck: true, groups: ['sg-default'] }]),
  ]),
  groups: {},
});

const input = (o: Partial<CrInput>): CrInput => ({
  cloud: CLOUD,
  ports: [],
  agents: [agent('hs-a', HS[0]), agent('hs-b', HS[1])],
  subnets: [subnet('n1', '10.99.0.0/24'), subnet('n2', '10.98.0.0/24')],
  view: view(),
  groupNames: GROUPS,
  ...o,
});

/** Diff and apply until nothing is left (groups made take a second round). */
function converge(i: CrInput): { view: CrView; rounds: number } {
  let v = i.view;
  for (let round = 1; round <= 4; round++) {
    const ops = diff(compile({ ...i, view: v }), v);
    if (!ops.length) return { view: v, rounds: round - 1 };
    v = applyOps(v, ops, {});
  }
  throw new Error('no fixpoint in 4 rounds');
}

describe('custom-route compile', () => {
  test('the subnet to the bound hyperswitch; in-addition adds its /32 and turns the VM check off', () => {
    const want = compile(
      input({
        ports: [
          port('p1', 'n1', '10.99.0.5', 'hs-a', VM[0]!),
          port('p2', 'n1', '10.99.0.6', 'hs-a', VM[1]!, 'in-addition'),
        ],
      }),
    );
    // The /32 goes where the hyperswitch's packets are routed (its subnet's table, here the main one),
    // not into the VM's table, where every VM of subnet-b would reach the hyper IP directly.
    assert.deepEqual(want.routes, {
      'rtb-main': { '10.99.0.0/24': HS[0], '10.99.0.6/32': VM[1] },
      'rtb-b': { '10.99.0.0/24': HS[0] },
    });
    assert.deepEqual(want.exposed, []);
    assert.deepEqual(want.enis[VM[0]!], { role: 'vm', sourceDestCheck: true, groups: [GROUPS.vm] });
    assert.deepEqual(want.enis[VM[1]!], { role: 'vm', sourceDestCheck: false, groups: [GROUPS.vm] });
    assert.deepEqual(want.enis[HS[1]!], { role: 'hyperswitch', sourceDestCheck: false, groups: [GROUPS.hs] });
    assert.deepEqual(want.groups[GROUPS.vm]!.rules, [
      { protocol: '-1', group: GROUPS.hs },
      { protocol: '-1', cidr: '10.99.0.0/24' },
    ]);
    assert.deepEqual(want.rebinds, []);
    assert.deepEqual(want.owned, ['10.98.0.0/24', '10.99.0.0/24']);
  });

  test("in-addition with the hyperswitch in the VM's own table: served, and reported as exposed", () => {
    const want = compile(input({ ports: [port('p3', 'n1', '10.99.0.7', 'hs-a', VM[0]!, 'in-addition')] }));
    assert.deepEqual(want.routes, { 'rtb-main': { '10.99.0.0/24': HS[0], '10.99.0.7/32': VM[0] } });
    assert.deepEqual(
      want.exposed.map((e) => e.port),
      ['p3'],
    );
    assert.match(want.exposed[0]!.reason, /share route table rtb-main/);
  });

  test('a dead or disabled hyperswitch: its ports go to the least loaded standby, then by host', () => {
    const agents = [
      agent('hs-a', HS[0], { alive: false }),
      agent('hs-b', HS[1]),
      agent('hs-c', HS[2]),
      agent('hs-d', undefined),
    ];
    const ports = [
      port('p1', 'n1', '10.99.0.5', 'hs-a', VM[0]!),
      port('p2', 'n2', '10.98.0.5', 'hs-a', VM[2]!),
      port('p3', 'n2', '10.98.0.6', 'hs-b', VM[4]!),
    ];
    const want = compile(input({ agents, ports }));
    assert.deepEqual(want.rebinds, [
      { port: 'p1', from: 'hs-a', to: 'hs-c' },
      { port: 'p2', from: 'hs-a', to: 'hs-c' },
    ]);
    assert.equal(want.routes['rtb-main']!['10.99.0.0/24'], HS[2]);
    const down = compile(
      input({ agents: [agent('hs-a', HS[0], { admin_state_up: false }), agent('hs-b', HS[1])], ports }),
    );
    assert.deepEqual(
      down.rebinds.map((r) => r.to),
      ['hs-b', 'hs-b'],
    );
  });

  test('no standby: the routes stay on the dead one; other clouds, bad profiles, unknown ENIs are left', () => {
    const lone = compile(
      input({
        agents: [agent('hs-a', HS[0], { alive: false })],
        ports: [port('p1', 'n1', '10.99.0.5', 'hs-a', VM[0]!)],
      }),
    );
    assert.deepEqual(lone.rebinds, []);
    assert.equal(lone.routes['rtb-main']!['10.99.0.0/24'], HS[0]);
    const other = agent('hs-x', HS[2], { configurations: { tunneling_ip: '', cloud: 'other' } });
    const bad = {
      ...port('p9', 'n1', '10.99.0.9', 'hs-a', VM[0]!),
      'binding:profile': { [CUSTOM_ROUTE_PROFILE_KEY]: 1 },
    };
    const want = compile(
      input({
        agents: [agent('hs-a', HS[0]), other],
        ports: [
          port('p1', 'n1', '10.99.0.5', 'hs-x', VM[0]!),
          bad as Port,
          port('p2', 'n1', '10.99.0.6', 'hs-a', eniId(0xff)),
        ],
      }),
    );
    assert.deepEqual(want.routes, {});
    assert.deepEqual(want.skipped.map((s) => s.port).sort(), ['p2', 'p9']);
    assert.equal(want.enis[HS[2]!], undefined, "another cloud's hyperswitch is not ours");
  });
});

describe('custom-route diff', () => {
  test('order: groups, ENIs, routes set, routes deleted, ENIs let go; only owned routes deleted', () => {
    const v = view();
    v.groups = { [GROUPS.vm]: { id: 'sg-v', rules: [] }, [GROUPS.hs]: { id: 'sg-h', rules: [] } };
    v.routes['rtb-main'] = {
      '10.99.0.0/24': HS[1]!, // to replace
      '10.98.0.0/24': HS[0]!, // owned, unwanted
      '10.98.0.7/32': VM[5]!, // owned (/32 in a hyper subnet, to a managed ENI), unwanted
      '0.0.0.0/0': HS[0]!, // not a hyper CIDR: not ours
      '10.97.0.0/24': eniId(0xcc), // an ENI we do not manage: not ours
    };
    v.enis[VM[5]!] = {
      id: VM[5]!,
      subnetId: 'subnet-a',
      sourceDestCheck: false,
      groups: ['sg-default', 'sg-v'],
      role: 'vm',
    };
    const ops = diff(compile(input({ ports: [port('p1', 'n1', '10.99.0.5', 'hs-a', VM[0]!)] })), v);
    const kinds = ops.map((o) => o.op);
    const firstIndex = (k: CrOp['op']) => kinds.indexOf(k);
    assert.ok(firstIndex('setRules') < firstIndex('setRole'));
    assert.ok(firstIndex('setRole') < firstIndex('setSourceDestCheck'));
    assert.ok(firstIndex('setGroups') < firstIndex('setRoute'));
    assert.ok(firstIndex('setRoute') < firstIndex('deleteRoute'));
    assert.deepEqual(
      ops.filter((o) => o.op === 'setRoute'),
      [{ op: 'setRoute', table: 'rtb-main', cidr: '10.99.0.0/24', eni: HS[0], was: HS[1] }],
    );
    assert.deepEqual(
      ops.filter((o) => o.op === 'deleteRoute').map((o) => (o as { cidr: string }).cidr),
      ['10.98.0.0/24', '10.98.0.7/32'],
    );
    // The VM ENI let go: our group off, its check back on, untagged, after the routes.
    assert.deepEqual(ops.slice(-3), [
      { op: 'setGroups', eni: VM[5], groups: ['sg-default'] },
      { op: 'setSourceDestCheck', eni: VM[5], enabled: true },
      { op: 'setRole', eni: VM[5], role: undefined },
    ]);
  });

  test('groups not made yet: made first, their rules and attachments wait for the next round', () => {
    const i = input({ ports: [port('p1', 'n1', '10.99.0.5', 'hs-a', VM[0]!)] });
    const ops = diff(compile(i), i.view);
    assert.deepEqual(
      ops.filter((o) => o.op === 'createGroup').map((o) => (o as { name: string }).name),
      [GROUPS.vm, GROUPS.hs],
    );
    assert.equal(ops.filter((o) => o.op === 'setRules' || o.op === 'setGroups').length, 0);
    const { view: end, rounds } = converge(i);
    assert.equal(rounds, 2);
    assert.deepEqual(end.enis[VM[0]!]!.groups, ['sg-default', `sg-${GROUPS.vm}`]);
  });
});

/** A small seeded generator (mulberry32), so a failure can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomState(r: () => number): Pick<CrInput, 'ports' | 'agents'> {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const agents = [agent('hs-a', HS[0]), agent('hs-b', HS[1]), agent('hs-c', HS[2]), agent('plain', undefined)].map(
    (a) => ({ ...a, alive: r() > 0.3, admin_state_up: r() > 0.1 }),
  );
  const ports: Port[] = [];
  const n = Math.floor(r() * 6);
  for (let k = 0; k < n; k++) {
    const net = pick(['n1', 'n2']);
    const ip = `${net === 'n1' ? '10.99.0' : '10.98.0'}.${10 + k}`;
    const p = port(
      `p${k}`,
      net,
      ip,
      pick(['hs-a', 'hs-b', 'hs-c', 'plain', 'gone']),
      VM[k]!,
      pick(['instead', 'in-addition']),
    );
    ports.push(r() < 0.15 ? { ...p, 'binding:profile': {} } : p);
  }
  return { agents, ports };
}

test('property: the diff applied reaches what is wanted; incremental ends where a fresh start ends', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const r = rng(seed);
    const s1 = input(randomState(r));
    const s2 = randomState(r);
    // Fresh: from an empty VPC straight to s2.
    const fresh = converge(input(s2)).view;
    const wantFresh = compile(input({ ...s2, view: fresh }));
    for (const [table, routes] of Object.entries(wantFresh.routes))
      for (const [cidr, eni] of Object.entries(routes))
        assert.equal(fresh.routes[table]?.[cidr], eni, `seed ${seed}: ${table} ${cidr}`);
    for (const [id, w] of Object.entries(wantFresh.enis)) {
      assert.equal(fresh.enis[id]?.sourceDestCheck, w.sourceDestCheck, `seed ${seed}: check of ${id}`);
      assert.equal(fresh.enis[id]?.role, w.role, `seed ${seed}: role of ${id}`);
    }
    // Incremental: s1 first, then s2 from there.
    const mid = converge(s1).view;
    const incremental = converge(input({ ...s2, view: mid })).view;
    assert.deepEqual(incremental, fresh, `seed ${seed}: incremental differs from a fresh start`);
  }
});
