/**
 * Incremental equals recompute for DHCP (pure): after any sequence of model changes (ports of two
 * networks appearing, moving hosts, changing address, a subnet's DNS servers changing), carrying out
 * each step's diffDhcp plan from the last state leaves the same DHCP state (namespace, veths,
 * addresses, config and hosts files, a dnsmasq running) as one plan from nothing to the last model.
 * The plan is carried out as driver.ts does it (create/configure, write, start/restart/reload, remove).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileDhcp, diffDhcp } from '../../../src/agent/dhcp/index.js';
import type { DhcpActual, DhcpDesired, DhcpNetworkActual, DhcpPlan } from '../../../src/agent/dhcp/index.js';
import { dhcpPort, network, port, subnet } from './fixtures.js';

const NETS = [
  { id: 'net-a', vni: 1001, sub: 'sub-a', prefix: '10.0.1' },
  { id: 'net-b', vni: 1002, sub: 'sub-b', prefix: '10.0.2' },
] as const;

const stepArb = fc.record({
  /** Per port: absent, or [network index, host, last address octet]. */
  ports: fc.array(
    fc.option(
      fc.tuple(fc.integer({ min: 0, max: 1 }), fc.constantFrom('node1', 'node2'), fc.integer({ min: 10, max: 12 })),
    ),
    { minLength: 4, maxLength: 4 },
  ),
  dns: fc.constantFrom([], ['192.0.2.53']),
});
type Step = typeof stepArb extends fc.Arbitrary<infer T> ? T : never;

function desiredOf(s: Step): DhcpDesired {
  return compileDhcp({
    host: 'node1',
    networks: NETS.map((n) => network(n.id, n.vni)),
    subnets: NETS.map((n) => subnet(n.sub, n.id, `${n.prefix}.0/24`, { dns_nameservers: [...s.dns] })),
    ports: [
      ...NETS.map((n, i) => dhcpPort(`dp-${n.id}`, n.id, `fa:16:3e:00:0${i}:02`, [[n.sub, `${n.prefix}.2`]], 'node1')),
      ...s.ports.flatMap((p, i) => {
        if (!p) return [];
        const [ni, host, octet] = p;
        const n = NETS[ni]!;
        return [port(`p${i}`, n.id, `fa:16:3e:00:00:1${i}`, [[n.sub, `${n.prefix}.${octet + 10 * i}`]], host)];
      }),
    ],
    underlayMtu: 1500,
    netnsPrefix: 'hn-dhcp-',
  });
}

/** The state after the driver carried out `plan` toward `desired` (every step succeeding). */
let nextPid = 100;
function carryOut(actual: DhcpActual, desired: DhcpDesired, plan: DhcpPlan): DhcpActual {
  const byVni = new Map(actual.networks.map((a) => [a.vni, a]));
  for (const v of plan.remove) byVni.delete(v);
  for (const p of plan.networks) {
    if (p.bridgeMissing) continue; // the driver waits for the bridge
    const d = desired.networks.find((x) => x.vni === p.vni)!;
    const a = byVni.get(p.vni);
    const next: DhcpNetworkActual = {
      vni: p.vni,
      netnsExists: true,
      vethNode: p.configureVeth ? { master: d.bridge, up: true, mtu: d.mtu } : a!.vethNode,
      vethNs: {
        ...(p.configureVeth ? { mac: d.mac, up: true, mtu: d.mtu } : a!.vethNs!),
        addresses: [...(p.createVeth ? [] : a!.vethNs!.addresses), ...p.addAddresses].filter(
          (x) => !p.delAddresses.includes(x),
        ),
      },
      confText: p.writeConf ? d.confText : a!.confText,
      hostsText: p.writeHosts ? d.hostsText : a!.hostsText,
      leasesText: null,
      pid: p.process === 'start' || p.process === 'restart' ? nextPid++ : a!.pid,
      cmdlineMatches: true,
    };
    byVni.set(p.vni, next);
  }
  return { bridges: actual.bridges, networks: [...byVni.values()] };
}

/** DHCP state as data: per VNI, everything but which dnsmasq process (only that one runs). */
const normal = (a: DhcpActual) =>
  a.networks
    .map((n) => ({
      ...n,
      pid: n.pid !== null,
      vethNs: n.vethNs && { ...n.vethNs, addresses: [...n.vethNs.addresses].sort() },
    }))
    .sort((x, y) => x.vni - y.vni);

test('dhcp: incremental equals recompute over random sequences of model changes', () => {
  const empty: DhcpActual = { bridges: NETS.map((n) => `hnb-${n.vni}`), networks: [] };
  let served = 0;
  fc.assert(
    fc.property(fc.array(stepArb, { minLength: 1, maxLength: 6 }), (steps) => {
      let state = empty;
      for (const s of steps) {
        const desired = desiredOf(s);
        state = carryOut(state, desired, diffDhcp(desired, state));
        served += state.networks.length;
        const again = diffDhcp(desired, state);
        assert.deepEqual(again.remove, []);
        for (const p of again.networks) {
          assert.equal(p.process, 'none', 'converged: dnsmasq left as it is');
          assert.equal(p.writeConf || p.writeHosts || p.configureVeth, false, 'converged: nothing to write');
        }
      }
      const last = desiredOf(steps.at(-1)!);
      const fresh = carryOut(empty, last, diffDhcp(last, empty));
      assert.deepEqual(normal(state), normal(fresh));
    }),
    { numRuns: 150 },
  );
  assert.ok(served > 0, 'the sequences did run dnsmasq');
});
