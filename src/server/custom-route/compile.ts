/**
 * Compile, pure: the store's custom-route ports and agents of one cloud, and what EC2 reports of its
 * VPC, → what EC2 must hold (docs/custom-route.md, "The server's controller"). A port is the cloud's
 * when its `binding:host_id` is an agent of the cloud. Its network's IPv4 subnets go, in the route
 * table of its VM ENI's subnet, to the ENI of the hyperswitch serving it: the bound agent while it is
 * alive and up, else a standby (an alive agent of the cloud reporting its ENI), to which the port is
 * rebound. Every hyperswitch ENI of the cloud has its check off and the hyperswitch group, so a
 * standby is ready before it is needed. An `in-addition` VM's hyper IP /32 goes to its ENI in the
 * route table of the serving hyperswitch's subnet, which the hyperswitch's own packets follow: in the
 * VMs' table it would let every VM of the subnet reach that hyper IP past the hyperswitch. Where the
 * two share a table there is no other place, and the port is listed as exposed (logged).
 */
import type { CrView } from '../../model/custom-route-cloud.js';
import { CUSTOM_ROUTE_INTERFACE_KEY, customRouteOf, isEniId } from '../../model/custom-route.js';
import type { Agent, Port, Subnet } from '../../model/types.js';
import type { CrDesired } from './types.js';

export interface CrInput {
  cloud: string;
  ports: readonly Port[];
  /** With `alive` as the server computes it (agent_down_time). */
  agents: readonly Agent[];
  subnets: readonly Subnet[];
  view: CrView;
  groupNames: { vm: string; hs: string };
}

/** The ENI an agent reports as its own, when it does (and in the grammar). */
export const agentEni = (a: Agent): string | undefined => {
  const v = a.configurations[CUSTOM_ROUTE_INTERFACE_KEY];
  return isEniId(v) ? v : undefined;
};

const ALL = (source: { cidr?: string; group?: string }) => ({ protocol: '-1', ...source });

export function compile(i: CrInput): CrDesired {
  const out: CrDesired = { routes: {}, enis: {}, groups: {}, owned: [], rebinds: [], skipped: [], exposed: [] };
  const tableOf = (subnetId: string): string => i.view.tableOfSubnet[subnetId] ?? i.view.mainTable;
  const agents = [...i.agents]
    .filter((a) => a.configurations.cloud === i.cloud)
    .sort((a, b) => a.host.localeCompare(b.host));
  const byHost = new Map(agents.map((a) => [a.host, a]));
  const usable = (a: Agent): boolean => a.alive && a.admin_state_up && agentEni(a) !== undefined;
  const cidrsOf = new Map<string, string[]>();
  for (const s of [...i.subnets].sort((a, b) => a.cidr.localeCompare(b.cidr)))
    if (s.ip_version === 4) cidrsOf.set(s.network_id, [...(cidrsOf.get(s.network_id) ?? []), s.cidr]);
  const owned = new Set<string>();

  const mine: { port: Port; cr: NonNullable<ReturnType<typeof customRouteOf>>; agent: Agent }[] = [];
  for (const port of [...i.ports].sort((a, b) => a.id.localeCompare(b.id))) {
    const agent = byHost.get(port['binding:host_id']);
    if (!agent) continue;
    let cr: ReturnType<typeof customRouteOf>;
    try {
      cr = customRouteOf(port['binding:profile']);
    } catch (e) {
      out.skipped.push({ port: port.id, reason: (e as Error).message });
      continue;
    }
    if (cr) mine.push({ port, cr, agent });
  }

  // One standby per dead hyperswitch: the usable one serving the fewest ports, then by host.
  const load = new Map<string, number>();
  for (const { agent } of mine) if (usable(agent)) load.set(agent.host, (load.get(agent.host) ?? 0) + 1);
  const standby = new Map<string, Agent | undefined>();
  const standbyOf = (dead: Agent): Agent | undefined => {
    if (!standby.has(dead.host)) {
      const pick = agents
        .filter((a) => a !== dead && usable(a))
        .sort((a, b) => (load.get(a.host) ?? 0) - (load.get(b.host) ?? 0) || a.host.localeCompare(b.host))[0];
      standby.set(dead.host, pick);
      if (pick) load.set(pick.host, (load.get(pick.host) ?? 0) + mine.filter((m) => m.agent === dead).length);
    }
    return standby.get(dead.host);
  };

  for (const { port, cr, agent } of mine) {
    const serving = usable(agent) ? agent : (standbyOf(agent) ?? agent);
    const hsEni = agentEni(serving);
    if (!hsEni) {
      out.skipped.push({
        port: port.id,
        reason: `hyperswitch ${serving.host} reports no ${CUSTOM_ROUTE_INTERFACE_KEY}`,
      });
      continue;
    }
    if (serving !== agent) out.rebinds.push({ port: port.id, from: agent.host, to: serving.host });
    const vm = i.view.enis[cr.interface];
    if (!vm) {
      out.skipped.push({ port: port.id, reason: `VM ENI ${cr.interface} not found` });
      continue;
    }
    const table = tableOf(vm.subnetId);
    out.routes[table] ??= {};
    const routes = out.routes[table];
    const cidrs = cidrsOf.get(port.network_id) ?? [];
    for (const c of cidrs) {
      owned.add(c);
      // Two ports of a network behind one table on two hyperswitches: the first (by port id) wins.
      routes[c] ??= hsEni;
    }
    const inAddition = cr.mode === 'in-addition';
    if (inAddition) {
      const hsSubnet = i.view.enis[hsEni]?.subnetId;
      const hsTable = hsSubnet ? tableOf(hsSubnet) : table;
      if (hsTable === table)
        out.exposed.push({
          port: port.id,
          reason: `VM ENI ${cr.interface} and hyperswitch ENI ${hsEni} share route table ${table}: the VMs of that table reach its hyper IP directly`,
        });
      out.routes[hsTable] ??= {};
      const hsRoutes = out.routes[hsTable];
      for (const f of port.fixed_ips) if (!f.ip_address.includes(':')) hsRoutes[`${f.ip_address}/32`] ??= cr.interface;
    }
    const had = out.enis[cr.interface];
    out.enis[cr.interface] = {
      role: 'vm',
      sourceDestCheck: (had?.sourceDestCheck ?? true) && !inAddition,
      groups: [i.groupNames.vm],
    };
  }

  const hyperswitches = agents.filter((a) => agentEni(a));
  for (const a of hyperswitches)
    out.enis[agentEni(a)!] = { role: 'hyperswitch', sourceDestCheck: false, groups: [i.groupNames.hs] };
  for (const cidrs of cidrsOf.values()) for (const c of cidrs) owned.add(c);
  out.owned = [...owned].sort();
  if (hyperswitches.length) {
    const hyper = [...new Set(mine.flatMap((m) => cidrsOf.get(m.port.network_id) ?? []))].sort();
    out.groups[i.groupNames.vm] = {
      description: `hypernet custom-route VMs of cloud ${i.cloud}`,
      rules: [ALL({ group: i.groupNames.hs }), ...hyper.map((cidr) => ALL({ cidr }))],
    };
    out.groups[i.groupNames.hs] = {
      description: `hypernet custom-route hyperswitches of cloud ${i.cloud}`,
      rules: [ALL({ group: i.groupNames.vm }), ...hyper.map((cidr) => ALL({ cidr }))],
    };
  }
  return out;
}
