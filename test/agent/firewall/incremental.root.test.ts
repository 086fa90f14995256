/**
 * Incremental equals recompute for the firewall on the real kernel (root), as OVN tests its
 * incremental engine: from a random initial model, a random sequence of model changes (ports
 * appearing, moving off the node, going; group membership; rules added, removed, changed in place;
 * remote-group members and their addresses; port security toggled) is applied through the real
 * FirewallDriver, each step as a delta (diff.ts, through an `nft -i` session as the agent does). The
 * tables then left in one namespace must equal those a fresh driver writes for the last model alone
 * (a full replace) in a second namespace, compared as `nft list ruleset` text, normalised.
 * A stateless port stays wired throughout, so the hooked chains never change and every step after
 * the first must take the delta path: a delta the kernel refused would fall back to a full replace
 * and hide the bug, so a step that is not a delta fails the test.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileFirewall, FirewallCompiler } from '../../../src/agent/firewall/compile.js';
import { FirewallDriver } from '../../../src/agent/firewall/driver.js';
import type { CompiledFirewall, FirewallInput, FirewallMode } from '../../../src/agent/firewall/model.js';
import { NftSession } from '../../../src/agent/firewall/nft-session.js';
import type { Exec } from '../../../src/common/exec.js';
import { silentLogger } from '../../../src/common/log.js';
import { tapName } from '../../../src/model/kernel-names.js';
import type { Port, SecurityGroup, SecurityGroupRule } from '../../../src/model/types.js';
import { makeGroup, makePort, makeRule } from '../../../testkit/firewall-fixtures.js';
import { needsRoot } from '../../../testkit/preconditions.js';
import { addNetns, removeRun, runPrefix, sweepStale } from '../netns.js';

const prefix = runPrefix('fi');
const NS = { delta: `${prefix}delta`, fresh: `${prefix}fresh` };

/** Group ids (UUID-shaped, as chain and set names carry them); the last one is stateless. */
const GROUPS = ['web', 'db', 'any', 'sl'].map((g, i) => `${g}0000${i}-0000-4000-8000-00000000000${i}`);
const SL = 3;
/** Ports 1..N change; port 0 (the anchor, stateless group only) stays wired so the hooked chains stay. */
const N = 6;
const portIdOf = (i: number) => `${String(i).repeat(8)}-0000-4000-8000-00000000000${i}`;

/**
 * The rule pool of every group: each slot is absent (0) or one of two variants with the same id
 * (a rule changed in place), the second sometimes of another direction or family.
 */
type RuleSpec = Partial<SecurityGroupRule> & Pick<SecurityGroupRule, 'direction'>;
const RULES: ReadonlyArray<(g: number) => [RuleSpec, RuleSpec]> = [
  () => [
    { direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22 },
    { direction: 'ingress', protocol: 'tcp', port_range_min: 8000, port_range_max: 8080 },
  ],
  () => [
    { direction: 'ingress', remote_group_id: GROUPS[0]! },
    { direction: 'ingress', remote_group_id: GROUPS[1]! },
  ],
  (g) => [
    { direction: 'ingress', ethertype: 'IPv6', protocol: 'tcp', port_range_min: 443, port_range_max: 443 },
    { direction: 'ingress', ethertype: 'IPv6', remote_group_id: GROUPS[g]! },
  ],
  () => [
    { direction: 'egress' },
    {
      direction: 'egress',
      protocol: 'udp',
      port_range_min: 53,
      port_range_max: 53,
      remote_ip_prefix: '198.51.100.0/24',
    },
  ],
  () => [
    { direction: 'egress', ethertype: 'IPv6' },
    { direction: 'ingress', protocol: 'icmp', port_range_min: 8, port_range_max: 0 },
  ],
  () => [
    { direction: 'ingress', protocol: 'udp', port_range_min: 5000, port_range_max: 5100, remote_group_id: GROUPS[2]! },
    { direction: 'egress', remote_group_id: GROUPS[2]! },
  ],
];

/** Extra addresses a port may have: none, a v4 network, a v6 host, one nft rejects (the port is closed). */
const PAIRS = [null, '203.0.113.0/28', '2001:db8:2::5', 'fe80::1%eth0'] as const;

interface PortState {
  where: 'local' | 'remote' | null;
  groups: boolean[];
  security: boolean;
  /** Which of two address sets (v4 only; v4 and v6). */
  ips: 0 | 1;
  pair: number;
}
interface Model {
  ports: PortState[];
  /** Per group, per rule slot: 0 absent, 1 or 2 the variant. */
  rules: number[][];
}

const portArb: fc.Arbitrary<PortState> = fc.record({
  where: fc.constantFrom('local' as const, 'remote' as const, null),
  groups: fc.array(fc.boolean(), { minLength: GROUPS.length, maxLength: GROUPS.length }),
  security: fc.boolean(),
  ips: fc.constantFrom(0 as const, 1 as const),
  pair: fc.integer({ min: 0, max: PAIRS.length - 1 }),
});
const modelArb: fc.Arbitrary<Model> = fc.record({
  ports: fc.array(portArb, { minLength: N, maxLength: N }),
  rules: fc.array(fc.array(fc.integer({ min: 0, max: 2 }), { minLength: RULES.length, maxLength: RULES.length }), {
    minLength: GROUPS.length,
    maxLength: GROUPS.length,
  }),
});

const idx = (n: number) => fc.integer({ min: 0, max: n - 1 });
/** One model change; a step applies one to three of them, then the driver applies the result. */
const changeArb = fc.oneof(
  { weight: 3, arbitrary: fc.record({ k: fc.constant('where' as const), i: idx(N), v: portArb.map((p) => p.where) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('member' as const), i: idx(N), g: idx(GROUPS.length) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('security' as const), i: idx(N) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('ips' as const), i: idx(N) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('pair' as const), i: idx(N), v: idx(PAIRS.length) }) },
  {
    weight: 4,
    arbitrary: fc.record({ k: fc.constant('rule' as const), g: idx(GROUPS.length), r: idx(RULES.length), v: idx(3) }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('model' as const), m: modelArb }) },
);
type Change = typeof changeArb extends fc.Arbitrary<infer T> ? T : never;

function change(m: Model, c: Change): Model {
  if (c.k === 'model') return c.m;
  if (c.k === 'rule')
    return { ...m, rules: m.rules.map((rs, g) => (g === c.g ? rs.map((v, r) => (r === c.r ? c.v : v)) : rs)) };
  const ports = m.ports.map((p, i): PortState => {
    if (i !== c.i) return p;
    if (c.k === 'where') return { ...p, where: c.v };
    if (c.k === 'member') return { ...p, groups: p.groups.map((on, g) => (g === c.g ? !on : on)) };
    if (c.k === 'security') return { ...p, security: !p.security };
    if (c.k === 'ips') return { ...p, ips: p.ips === 0 ? 1 : 0 };
    return { ...p, pair: c.v };
  });
  return { ...m, ports };
}

/**
 * Model objects by their content, so an unchanged port, rule or group is the same object from one
 * step to the next, as in the agent's model cache (the compiler memoises on object identity).
 */
const interned = new Map<string, unknown>();
function intern<T>(key: string, make: () => T): T {
  if (!interned.has(key)) interned.set(key, make());
  return interned.get(key) as T;
}

function portOf(i: number, p: PortState): Port {
  const id = portIdOf(i + 1);
  const ips = p.ips === 0 ? [`192.0.2.${10 + i}`] : [`192.0.2.${11 + i}`, `2001:db8::${i + 1}`];
  const pair = PAIRS[p.pair];
  const mac = `fa:16:3e:00:00:0${i + 1}`;
  const sgs = p.security ? GROUPS.filter((_, g) => p.groups[g]) : [];
  return intern(`port ${i} ${JSON.stringify(p)}`, () =>
    makePort(
      {
        id,
        mac_address: mac,
        security_groups: sgs,
        port_security_enabled: p.security,
        allowed_address_pairs: pair ? [{ ip_address: pair, mac_address: mac }] : [],
        'binding:host_id': p.where === 'local' ? 'node1' : 'node2',
      },
      ips,
    ),
  );
}

const ANCHOR = makePort({ id: portIdOf(0), mac_address: 'fa:16:3e:00:00:09', security_groups: [GROUPS[SL]!] }, [
  '192.0.2.100',
]);

function inputOf(m: Model, mode: FirewallMode): FirewallInput {
  const groups = GROUPS.map((id, g) =>
    intern(`group ${g} ${m.rules[g]!.join('')}`, (): SecurityGroup => {
      const rules = m.rules[g]!.flatMap((v, r) =>
        v ? [intern(`rule ${g} ${r} ${v}`, () => makeRule(id, { id: `${id}-r${r}`, ...RULES[r]!(g)[v - 1]! }))] : [],
      );
      return { ...makeGroup(id, []), stateful: g !== SL, security_group_rules: rules };
    }),
  );
  const securityGroups = intern(`groups ${m.rules.map((rs) => rs.join('')).join(' ')}`, () => groups);
  const ports = [ANCHOR, ...m.ports.flatMap((p, i) => (p.where ? [portOf(i, p)] : []))];
  const local = ports.filter((p) => p['binding:host_id'] === 'node1');
  return {
    mode,
    localPorts: local.map((port, i) => ({ port, ifname: tapName(port.id), vni: 1001 + (i % 2) })),
    securityGroups,
    allPorts: ports,
  };
}

/**
 * The namespace's ruleset as data: per table, each set, map and chain by name (a listing gives them
 * in creation order, which a delta legitimately changes); rules in order (their order is meaning);
 * set and map elements sorted (hash sets list in bucket order); handles and counter values dropped.
 */
function normalise(listing: string): Record<string, Record<string, string[]>> {
  const out: Record<string, Record<string, string[]>> = {};
  let table: Record<string, string[]> | null = null;
  let obj: string[] | null = null;
  let elements: string | null = null;
  for (const raw of listing.split('\n')) {
    const l = raw
      .replace(/\s*# handle \d+$/, '')
      .replace(/counter packets \d+ bytes \d+/, 'counter')
      .trim();
    if (!l) continue;
    if (elements !== null) {
      elements += ` ${l}`;
    } else if (l.startsWith('table ')) {
      table = out[l] = {};
    } else if (/^(set|map|chain) \S+ \{$/.test(l)) {
      obj = table![l] = [];
    } else if (l === '}') {
      if (obj) obj = null;
      else table = null;
      continue;
    } else if (l.startsWith('elements = {')) {
      elements = l;
    } else {
      obj!.push(l);
      continue;
    }
    if (elements !== null && elements.endsWith('}')) {
      const items = elements
        .slice('elements = {'.length, -1)
        .split(',')
        .map((e) => e.trim());
      obj!.push(`elements = { ${items.sort().join(', ')} }`);
      elements = null;
    }
  }
  return out;
}

describe('firewall: incremental equals recompute on the kernel', { skip: needsRoot(), timeout: 120_000 }, () => {
  const log = silentLogger();
  const exec: Record<keyof typeof NS, Exec> = {} as never;
  const session = new NftSession(['ip', 'netns', 'exec', NS.delta, 'nft', '-a', '-i']);
  let modes: FirewallMode[] = [];

  before(async () => {
    await sweepStale();
    exec.delta = await addNetns(NS.delta);
    exec.fresh = await addNetns(NS.fresh);
    // br-netfilter mode's tables load anywhere; bridge-ct's only where the kernel has bridge conntrack.
    modes = [...new Set(['br-netfilter' as const, await new FirewallDriver(exec.fresh, log).detectMode()])];
  });
  after(async () => {
    session.close();
    await removeRun(prefix);
  });

  const ruleset = async (e: Exec) => normalise((await e('nft', ['list', 'ruleset'])).stdout);

  it('after any sequence of model changes, the deltas leave what one full apply of the last model does', async () => {
    let deltas = 0;
    const steps = fc.array(fc.array(changeArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 8 });
    const run = await fc.check(
      fc.asyncProperty(fc.constantFrom(...modes), modelArb, steps, async (mode, initial, sequence) => {
        // A new agent on a node: its own compiler (memo) and driver, our tables gone from both namespaces.
        let gen = 0;
        const driver = new FirewallDriver(exec.delta, log, session, () => ++gen);
        await driver.teardown();
        await new FirewallDriver(exec.fresh, log).teardown();
        const compiler = new FirewallCompiler();
        let model = initial;
        let last: CompiledFirewall = compiler.compile(inputOf(model, mode));
        assert.equal(await driver.apply(last), 'full');
        for (const changes of sequence) {
          model = changes.reduce(change, model);
          const next = compiler.compile(inputOf(model, mode));
          assert.equal(next.baseKey, last.baseKey, 'the anchor keeps the hooked chains as they are');
          const kind = await driver.apply(next);
          assert.notEqual(kind, 'full', 'a delta the kernel refused (the driver fell back to a full replace)');
          if (kind === 'delta') deltas++;
          last = next;
        }
        // A fresh agent for the last model alone, given the generation the deltas arrived at.
        const fresh = new FirewallDriver(exec.fresh, log, null, () => driver.generation);
        assert.equal(await fresh.apply(compileFirewall(inputOf(model, mode))), 'full');
        assert.deepEqual(await ruleset(exec.delta), await ruleset(exec.fresh));
      }),
      { numRuns: 100, includeErrorInReport: true, interruptAfterTimeLimit: 45_000 },
    );
    assert.ok(!run.failed, fc.defaultReportMessage(run) ?? 'property failed');
    // A loaded machine runs fewer sequences in the time limit; a counterexample fails at any count,
    // and fewer than 40 sequences would check too little.
    assert.ok(run.numRuns >= 40, `only ${run.numRuns} sequences ran in 45 s`);
    assert.ok(deltas > 100, `the sequences applied deltas (${deltas})`);
  });
});
