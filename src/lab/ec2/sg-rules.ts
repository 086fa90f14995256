/**
 * Pure: the lab VPC's security groups as nftables rules of its router namespace, for the ENIs
 * plugged there. EC2 filters an interface's ingress by the rules of its groups: a rule's source is a
 * CIDR or another group, which at EC2 means the primary private addresses of the interfaces in that
 * group (so a packet an ENI forwards from another source does not match the group). Replies of
 * allowed flows pass (groups are stateful). Egress is not filtered (EC2's default allows all).
 */
import type { Ec2State, Permission } from './state.js';

/** Rules for the router's forward chain: `links` maps a plugged ENI id to its router-side link. */
export function securityGroupRules(s: Ec2State, links: ReadonlyMap<string, string>): string[] {
  const members = (gid: string) =>
    [...s.interfaces.values()].filter((n) => n.groups.includes(gid)).map((n) => n.privateIpAddress);
  const match = (r: Permission): string => {
    const proto = r.ipProtocol === '-1' || r.ipProtocol === 'all' ? '' : `meta l4proto ${protoName(r.ipProtocol)}`;
    const ports =
      (r.ipProtocol === 'tcp' || r.ipProtocol === 'udp') && r.fromPort !== undefined && r.fromPort >= 0
        ? ` th dport ${r.fromPort}-${r.toPort ?? r.fromPort}`
        : '';
    return `${proto}${ports}`;
  };
  const out: string[] = [];
  for (const [eniId, link] of [...links].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const eni = s.interfaces.get(eniId);
    if (!eni) continue;
    const perms = eni.groups.flatMap((g) => s.groups.get(g)?.ingress ?? []);
    for (const r of perms) {
      const sources = [...new Set([...r.cidrs, ...r.groupIds.flatMap(members)])].sort();
      const m = match(r);
      for (const src of sources) out.push(`oifname "${link}" ip saddr ${src}${m ? ` ${m}` : ''} accept`);
    }
    out.push(`oifname "${link}" drop`);
  }
  return out;
}

const protoName = (p: string): string => (/^\d+$/.test(p) ? p : ({ tcp: 'tcp', udp: 'udp', icmp: 'icmp' }[p] ?? p));
