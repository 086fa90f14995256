/**
 * Source filtering (docs/security-groups.md, "Filtering once"): the flows between a port on this
 * node and a port on another node are filtered and tracked by one of the two nodes only. Which one
 * is a function of the two hosts (`ownerOf`), so both compute the same answer without talking;
 * the owner compiles the peer port's egress and ingress rules, the other node passes the flow's
 * frames that cross the overlay without conntrack. Only hosts whose agent says it does this (the
 * SOURCE_FILTERING capability) take part; ports of any other host are filtered on both sides, as
 * before. Nor do a port in a migration (an inactive binding: it may answer on either host) and the
 * ports of a network with a port of a stateless group (its replies need its own rules, which only
 * its node applies to them): both nodes filter those.
 */
import { createHash } from 'node:crypto';
import { inactiveBindings, wiredOn } from '../../model/bindings.js';
import { isMac } from '../../model/grammar/mac.js';
import type { ModelView } from '../../model/model-cache.js';
import type { Port, SecurityGroup } from '../../model/types.js';
import { normMac } from './addresses.js';
import { isStateless, isTrusted, type PeerPort, type SourceInput } from './model.js';

/** The agent capability (agent `configurations.capabilities`) of a node that filters at the source. */
export const SOURCE_FILTERING = 'source-filtering';

/**
 * The host that filters the flows between ports of hosts `a` and `b` (a ≠ b): one bit of a digest
 * of the pair, so each node owns about half of its pairs (a host-name order would give the first
 * host all of them).
 */
export function ownerOf(a: string, b: string): string {
  const [lo, hi] = a < b ? [a, b] : [b, a];
  const key = `${lo}\n${hi}`;
  let owner = owners.get(key);
  if (owner === undefined) {
    owner = createHash('sha256').update(key).digest()[0]! & 1 ? lo : hi;
    if (owners.size >= 4096) owners.clear();
    owners.set(key, owner);
  }
  return owner;
}
/** ownerOf's answers (one per pair of hosts; asked once per peer port and pass). */
const owners = new Map<string, string>();

/**
 * What `host` contributes to and trusts in source filtering. A port takes part when it is filtered,
 * active on a source-filtering host with no migration under way, on a network with a VNI, no port of
 * a stateless group and no MAC shared with another port of the network. Every node computes this
 * from the same model, so the owner and the other side of a flow agree on which ports take part.
 */
export function sourceInput(host: string, model: ModelView, groups: readonly SecurityGroup[]): SourceInput {
  const capable = new Set<string>();
  for (const a of model.agents.values())
    if (a.configurations?.capabilities?.includes(SOURCE_FILTERING)) capable.add(a.host);
  if (!capable.has(host)) return { local: new Set(), peers: [] };
  const byGroup = new Map(groups.map((g) => [g.id, g]));
  const here = new Set<string>();
  const excluded = new Set<string>();
  const macs = new Map<string, number>();
  for (const p of model.ports.values()) {
    if (wiredOn(p, host)) here.add(p.network_id);
    if (!isTrusted(p) && isStateless(p, byGroup)) excluded.add(p.network_id);
    for (const m of portMacs(p)) macs.set(`${p.network_id} ${m}`, (macs.get(`${p.network_id} ${m}`) ?? 0) + 1);
  }
  const local = new Set<string>();
  const peers: PeerPort[] = [];
  for (const p of model.ports.values()) {
    const at = p['binding:host_id'];
    if (!at || !capable.has(at) || isTrusted(p) || inactiveBindings(p).length) continue;
    if (!here.has(p.network_id) || excluded.has(p.network_id)) continue;
    const vni = model.networks.get(p.network_id)?.['provider:segmentation_id'];
    if (!vni || !portMacs(p).every((m) => isMac(m) && macs.get(`${p.network_id} ${m}`) === 1)) continue;
    if (at === host) local.add(p.id);
    else peers.push({ port: p, vni, owned: ownerOf(host, at) === host });
  }
  peers.sort((x, y) => (x.port.id < y.port.id ? -1 : x.port.id > y.port.id ? 1 : 0));
  return { local, peers };
}

/** Every MAC a port's frames may carry: its own and its allowed address pairs' (lower case). */
export function portMacs(p: Port): string[] {
  const pairs = (p.allowed_address_pairs ?? []).flatMap((a) => (a.mac_address ? [a.mac_address] : []));
  return [...new Set([p.mac_address, ...pairs].map(normMac))];
}
