/**
 * fast-check arbitraries of security-group rules for the firewall property tests (source filtering,
 * tc-BPF equivalence): protocols, port ranges, remote prefixes on the tests' 10.0.0.0/24, and remote
 * groups among the test's own; and the frame of a step of a random sequence of flows.
 */
import fc from 'fast-check';
import type { Port, SecurityGroupRule } from '../src/model/types.js';
import type { Frame } from './nft-eval.js';

export type RuleSpec = Partial<SecurityGroupRule> & Pick<SecurityGroupRule, 'direction'>;

/** A random rule whose remote group, if any, is one of `groups`. */
export function ruleArb(groups: readonly string[]): fc.Arbitrary<RuleSpec> {
  return fc
    .record({
      direction: fc.constantFrom('ingress' as const, 'egress' as const),
      protocol: fc.constantFrom(null, 'tcp', 'udp', 'icmp'),
      min: fc.constantFrom(null, 22, 80, 443),
      wide: fc.boolean(),
      remote: fc.oneof(
        fc.constant({}),
        fc
          .constantFrom('10.0.0.0/24', '10.0.0.12/32', '10.0.0.8/30', '0.0.0.0/0')
          .map((p) => ({ remote_ip_prefix: p })),
        fc.constantFrom(...groups).map((g) => ({ remote_group_id: g })),
      ),
    })
    .map((r) => {
      const ports = r.protocol === 'tcp' || r.protocol === 'udp';
      const icmp = r.protocol === 'icmp';
      return {
        direction: r.direction,
        protocol: r.protocol,
        port_range_min: ports ? r.min : icmp && r.min ? 8 : null,
        port_range_max: ports && r.min ? (r.wide ? r.min + 100 : r.min) : null,
        ...r.remote,
      };
    });
}

/** A flow between two ports (indexes taken modulo the ports); icmp's `sport` is its echo identifier. */
export interface FlowSpec {
  a: number;
  b: number;
  /** 6 tcp, 17 udp, 1 icmp. */
  proto: number;
  dport: number;
  sport: number;
}

/** A random flow: ports by index, tcp, udp or icmp, destination ports the rules' ranges cut. */
export const flowArb: fc.Arbitrary<FlowSpec> = fc.record({
  a: fc.nat(),
  b: fc.nat(),
  proto: fc.constantFrom(6, 17, 1),
  dport: fc.constantFrom(22, 80, 150, 443, 8080),
  sport: fc.integer({ min: 32768, max: 32770 }),
});

/**
 * The frame of one step, a flow's packet from a to b, or b to a as its reply (ICMP: an echo request
 * or its reply), on `bridge`; with its sender x and receiver y.
 */
export function stepFrame(
  flows: readonly FlowSpec[],
  ports: readonly Port[],
  step: { flow: number; reply: boolean },
  bridge: string,
): { x: Port; y: Port; frame: Omit<Frame, 'iif' | 'oif'> } {
  const fl = flows[step.flow % flows.length]!;
  const ai = fl.a % ports.length;
  let bi = fl.b % ports.length;
  if (bi === ai) bi = (bi + 1) % ports.length;
  const [x, y] = step.reply ? [ports[bi]!, ports[ai]!] : [ports[ai]!, ports[bi]!];
  const icmp = fl.proto === 1;
  const frame = {
    smac: x.mac_address,
    dmac: y.mac_address,
    saddr: x.fixed_ips[0]!.ip_address,
    daddr: y.fixed_ips[0]!.ip_address,
    proto: fl.proto,
    sport: icmp ? fl.sport : step.reply ? fl.dport : fl.sport,
    dport: icmp ? (step.reply ? 0 : 8) : step.reply ? fl.sport : fl.dport,
    bridge,
  };
  return { x, y, frame };
}
