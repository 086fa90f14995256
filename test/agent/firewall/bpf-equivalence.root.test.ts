/**
 * The tc-BPF programs decide like the nftables path (property, root): over random security groups
 * and rules (protocols, port ranges, prefixes, remote groups), ports (hosts, groups, port security)
 * and sequences of connections and replies between them, every frame is delivered or dropped by
 * the real programs (the built object, loaded and its maps written by the agent's driver from
 * compileBpf, run with BPF_PROG_TEST_RUN at the ports' devices in a namespace) as the nftables
 * path's rulesets (compileFirewall, interpreted by testkit/nft-eval.ts) deliver or drop it.
 * Exceptions, towards tc-BPF delivering more only: a frame of a half-open connection (the programs
 * commit a flow at each tap it passed, nftables on one node only once it passed both ports, so a
 * reply can find the sender's entry on one path only), and echo replies that answer no request.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileBpf } from '../../../src/agent/firewall/bpf/compile.js';
import { BpfFirewallDriver, bpfBuilt } from '../../../src/agent/firewall/bpf/driver.js';
import { compileFirewall } from '../../../src/agent/firewall/compile.js';
import { firewallInput } from '../../../src/agent/firewall/reconciler.js';
import { inNetns, inNetnsKeepMounts, realExec } from '../../../src/common/exec.js';
import { silentLogger } from '../../../src/common/log.js';
import { bridgeName, tapName, vxlanName } from '../../../src/model/kernel-names.js';
import type { Port, SecurityGroup } from '../../../src/model/types.js';
import { flowArb, ruleArb, stepFrame } from '../../../testkit/firewall-arbitraries.js';
import { makeGroup, makePort } from '../../../testkit/firewall-fixtures.js';
import { agent, net, view } from '../../../testkit/model-fixtures.js';
import { bpfRun, bpfRunBuilt, ipv4Frame, type Hop } from '../../../testkit/native/bpf-run.js';
import { Conntrack, nodePasses, type Frame } from '../../../testkit/nft-eval.js';
import { needsRoot, skipUnless } from '../../../testkit/preconditions.js';
import { alive, deleteNetns, listNetns } from '../../../testkit/runs.js';

const HOSTS = ['node-a', 'node-b'];
const GROUPS = ['g1', 'g2', 'g3'];
const MAX_PORTS = 6;
const VNI = 1001;
const TC_ACT_OK = 0;

const portId = (i: number) => {
  const n = String(i + 1).padStart(2, '0');
  return `${n}${n}${n}${n}-0000-4000-8000-0000000000${n}`;
};

/** Whether compileBpf takes stateless groups (a port with one is refused, closed, until it does). */
const statelessCompiles = (): boolean => {
  const port = makePort({ id: portId(0), mac_address: 'fa:16:3e:00:00:01', security_groups: ['s'] }, ['10.0.0.10']);
  const input = { mode: 'br-netfilter' as const, securityGroups: [{ ...makeGroup('s', []), stateful: false }] };
  return (
    compileBpf({ ...input, localPorts: [{ port, ifname: 'tap0', vni: VNI }], allPorts: [port] }).rejected.size === 0
  );
};

const rule = ruleArb(GROUPS);

const worldArb = (stateless: boolean) =>
  fc.record({
    groups: fc.tuple(
      ...GROUPS.map(() =>
        fc.record({
          stateless: stateless ? fc.integer({ min: 0, max: 5 }).map((n) => n === 0) : fc.constant(false),
          egressAll: fc.boolean(),
          rules: fc.array(rule, { maxLength: 5 }),
        }),
      ),
    ),
    ports: fc.array(
      fc.record({
        host: fc.integer({ min: 0, max: HOSTS.length - 1 }),
        groups: fc.subarray(GROUPS),
        security: fc.integer({ min: 0, max: 9 }).map((n) => n > 0),
      }),
      { minLength: 2, maxLength: MAX_PORTS },
    ),
    flows: fc.array(flowArb, { minLength: 1, maxLength: 6 }),
    steps: fc.array(fc.record({ flow: fc.nat(), reply: fc.boolean() }), { minLength: 1, maxLength: 16, size: 'max' }),
  });
type World = ReturnType<typeof worldArb> extends fc.Arbitrary<infer T> ? T : never;

function build(w: World): { ports: Port[]; groups: SecurityGroup[] } {
  const groups = GROUPS.map((id, i) => ({
    // Half the groups open egress as Neutron's default group does, so more flows reach their peer.
    ...makeGroup(id, [...(w.groups[i]!.egressAll ? [{ direction: 'egress' as const }] : []), ...w.groups[i]!.rules]),
    stateful: !w.groups[i]!.stateless,
  }));
  const ports = w.ports.map((p, i) =>
    makePort(
      {
        id: portId(i),
        mac_address: `fa:16:3e:00:00:${String(i + 1).padStart(2, '0')}`,
        security_groups: p.groups,
        port_security_enabled: p.security,
        'binding:host_id': HOSTS[p.host]!,
      },
      [`10.0.0.${10 + i}`],
    ),
  );
  return { ports, groups };
}

/** One step's frame in words, for a failure message. */
const describeFrame = (f: Omit<Frame, 'iif' | 'oif'>) =>
  `${({ 1: 'icmp', 6: 'tcp', 17: 'udp' } as Record<number, string>)[f.proto]} ${f.saddr}:${f.sport} → ` +
  `${f.daddr}:${f.dport}${f.proto === 1 ? ` (type ${f.dport}, id ${f.sport})` : ''}`;

const skip =
  needsRoot() ||
  skipUnless(bpfBuilt(), 'the tc-BPF object is not built (npm run build)') ||
  skipUnless(bpfRunBuilt(), 'hn-bpf-run is not built (npm run build)');

describe('tc-BPF and nftables decide alike', { skip }, () => {
  const ns = `hnbq-eq-${process.pid}`;
  const node = inNetns(realExec, ns);
  const pin = (h: string) => `/sys/fs/bpf/hypernet/${ns}-${h}`;
  const drivers = new Map(
    HOSTS.map((h) => [
      h,
      new BpfFirewallDriver({
        node,
        tc: inNetnsKeepMounts(realExec, ns),
        host: realExec,
        pinDir: pin(h),
        log: silentLogger(),
      }),
    ]),
  );
  const ifindex = new Map<string, number>();

  before(async () => {
    // What a killed run left: its namespace and pinned programs (named for its pid).
    for (const n of await listNetns()) {
      const m = /^hnbq-eq-(\d+)$/.exec(n);
      if (m && !alive(Number(m[1]))) await deleteNetns(n);
    }
    const pinned = await realExec('ls', ['/sys/fs/bpf/hypernet'], { allowFail: true });
    for (const d of pinned.stdout.split('\n')) {
      const m = /^hnbq-eq-(\d+)-/.exec(d);
      if (m && !alive(Number(m[1]))) await realExec('rm', ['-rf', `/sys/fs/bpf/hypernet/${d}`]);
    }
    // One namespace holds every port's device: each node's programs and maps are its own (pinned
    // apart), and a device only gives the frames their ifindex, as the tap does on a node.
    await realExec('ip', ['netns', 'add', ns]);
    // (This kernel has no dummy devices: veth pairs, both ends in the namespace, down.)
    for (let i = 0; i < MAX_PORTS; i++)
      await node('ip', ['link', 'add', tapName(portId(i)), 'type', 'veth', 'peer', 'name', `peer${i}`]);
    const links = JSON.parse((await node('ip', ['-j', 'link', 'show'])).stdout) as {
      ifname: string;
      ifindex: number;
    }[];
    for (const l of links) ifindex.set(l.ifname, l.ifindex);
    for (const d of drivers.values()) await d.load();
  });

  after(async () => {
    for (const d of drivers.values()) await d.teardown();
    await realExec('ip', ['netns', 'del', ns], { allowFail: true });
  });

  it('delivers and drops every frame as the nftables path does', async () => {
    const seen = { delivered: 0, dropped: 0, halfOpen: 0, crossNode: 0, excused: 0 };
    await fc.assert(
      fc.asyncProperty(worldArb(statelessCompiles()), async (w) => {
        const b = build(w);
        const model = view({
          networks: [net('net1', VNI)],
          ports: b.ports,
          agents: HOSTS.map((h, i) => agent(`ag-${h}`, h, `192.0.2.${i + 1}`)),
        });
        const nodes = new Map<string, { nft: ReturnType<typeof compileFirewall>; ct: Conntrack; taps: Set<string> }>();
        for (const h of HOSTS) {
          const input = firewallInput(h, model, 'br-netfilter', b.groups, false);
          const present = await drivers.get(h)!.apply(compileBpf(input));
          nodes.set(h, { nft: compileFirewall(input), ct: new Conntrack(), taps: new Set(present) });
        }
        // Each node's hops for the programs: the sender's tap (from_port), the receiver's (to_port).
        const hop = (h: string, tap: string, prog: 'hn_from_port' | 'hn_to_port'): Hop[] =>
          nodes.get(h)!.taps.has(tap) ? [{ prog: `${pin(h)}/prog/${prog}`, ifindex: ifindex.get(tap)! }] : [];
        const frames = w.steps.map((step) => {
          const { x, y, frame: f } = stepFrame(w.flows, b.ports, step, bridgeName(VNI));
          const icmp = f.proto === 1;
          // The connection: its addresses and ports either way round (ICMP: the echo identifier).
          const ends = [`${f.saddr}:${f.sport}`, `${f.daddr}:${icmp ? f.sport : f.dport}`].sort();
          return { f, x, y, conn: `${f.proto} ${ends.join(' ')}` };
        });
        const results = await bpfRun(realExec, ns, [
          ...HOSTS.map((h) => ({ clear: `${pin(h)}/maps/hn_ct` })),
          ...frames.map(({ f, x, y }) => ({
            frame: ipv4Frame(f),
            hops: [
              ...hop(x['binding:host_id'], tapName(x.id), 'hn_from_port'),
              ...hop(y['binding:host_id'], tapName(y.id), 'hn_to_port'),
            ],
          })),
        ]);
        const bpf = results.slice(HOSTS.length).map((r) => r.every((v) => v === TC_ACT_OK));
        const halfOpened = new Set<string>();
        const requested = new Set<string>();
        for (const [i, { f, x, y, conn }] of frames.entries()) {
          const hx = x['binding:host_id'];
          const hy = y['binding:host_id'];
          const hops: [string, Frame][] =
            hx === hy
              ? [[hx, { ...f, iif: tapName(x.id), oif: tapName(y.id) }]]
              : [
                  [hx, { ...f, iif: tapName(x.id), oif: vxlanName(VNI) }],
                  [hy, { ...f, iif: vxlanName(VNI), oif: tapName(y.id) }],
                ];
          const nft = hops.every(([h, hf]) => nodePasses(nodes.get(h)!.nft, nodes.get(h)!.ct, hf, i).pass);
          // An echo reply that answers no delivered request is invalid to the kernel's conntrack:
          // neither nft-eval (it takes it as new) nor the programs model that, so it is not compared.
          const stray = f.proto === 1 && f.dport === 0 && !requested.has(conn);
          const halfOpen = halfOpened.has(conn) || stray;
          const what = `step ${i}, ${describeFrame(f)} (${hx} → ${hy})`;
          if (nft && !stray) assert.ok(bpf[i], `${what}: nftables delivers it, tc-BPF drops it`);
          else if (!halfOpen) assert.ok(!bpf[i], `${what}: tc-BPF delivers it, nftables drops it`);
          // Half-open: the sender's tap committed the flow, the receiver's dropped it.
          if (stray || (results[HOSTS.length + i]!.length === 2 && !bpf[i])) halfOpened.add(conn);
          if (f.proto === 1 && f.dport === 8 && nft && bpf[i]) requested.add(conn);
          seen.excused += Number(halfOpen && bpf[i] !== nft);
          seen[halfOpen ? 'halfOpen' : nft ? 'delivered' : 'dropped']++;
          if (hx !== hy) seen.crossNode++;
        }
      }),
      { numRuns: 150 },
    );
    // Not vacuous: the rules both allowed and denied, on one node and across two.
    assert.ok(seen.delivered > 100 && seen.dropped > 100 && seen.crossNode > 100, JSON.stringify(seen));
  });
});
