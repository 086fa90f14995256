/**
 * Pure: the node's `netdev hypernet_l3` table, which sends a routed frame that leaves a router
 * toward a remote port straight from the interface veth's node end to the network's VXLAN device.
 * Through the bridge it would take a second bridged pass on this node (br_netfilter's inet hooks,
 * conntrack, the firewall's chains) that filters nothing: the destination port is not here, and its
 * node's bridge applies its security groups. Frames to local ports, broadcasts and MACs that are not
 * known remote ports still go through the bridge, so a MAC this node does not know stays flooded.
 */
import { wiredOn } from '../../model/bindings.js';
import { isMac } from '../../model/grammar/mac.js';
import { vxlanName } from '../../model/kernel-names.js';
import type { ModelView } from '../../model/model-cache.js';
import { isWorkload } from './transit.js';

/** A router interface's node end, and the VNI of the network its bridge carries. */
export interface RoutedPort {
  outer: string;
  networkId: string;
  vni: number;
}

/**
 * MACs of the workload ports of `networkIds` bound to another node and not wired here (a port being
 * migrated here is local already): the datapath's remote FDB entries on the network's VXLAN device.
 */
export function remoteMacs(host: string, model: ModelView, networkIds: ReadonlySet<string>): Map<string, string[]> {
  const out = new Map<string, Set<string>>();
  if (networkIds.size === 0) return new Map();
  for (const p of model.ports.values()) {
    const bound = p['binding:host_id'];
    const mac = p.mac_address.toLowerCase();
    if (!networkIds.has(p.network_id) || !isWorkload(p) || !bound || wiredOn(p, host) || !isMac(mac)) continue;
    const set = out.get(p.network_id) ?? new Set<string>();
    out.set(p.network_id, set.add(mac));
  }
  return new Map([...out].map(([id, s]) => [id, [...s].sort()]));
}

/** The table's body lines (empty when no routed port has a remote MAC), named sets per VNI. */
export function renderBypass(ports: readonly RoutedPort[], remote: ReadonlyMap<string, string[]>): string[] {
  const used = [...ports]
    .filter((p) => (remote.get(p.networkId)?.length ?? 0) > 0)
    .sort((a, b) => (a.outer < b.outer ? -1 : a.outer > b.outer ? 1 : 0));
  if (used.length === 0) return [];
  const lines: string[] = [];
  const vnis = new Map(used.map((p) => [p.vni, p.networkId]));
  for (const [vni, id] of [...vnis].sort(([x], [y]) => x - y))
    lines.push(
      `\tset remote_${vni} {`,
      '\t\ttype ether_addr;',
      `\t\telements = { ${remote.get(id)!.join(', ')} }`,
      '\t}',
    );
  for (const p of used)
    lines.push(
      `\tchain ${p.outer} {`,
      `\t\ttype filter hook ingress device "${p.outer}" priority filter; policy accept;`,
      `\t\tether daddr @remote_${p.vni} fwd to "${vxlanName(p.vni)}"`,
      '\t}',
    );
  return lines;
}
