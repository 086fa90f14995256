/**
 * The topology graph as cytoscape element definitions, from the model. Pure (unit tested).
 *
 *   cloud (compound) ⊃ agent / hyperswitch (compound) ⊃ port  ──edge──  network
 *
 * A network is one node outside every cloud, joined by edges to its ports wherever they are wired,
 * so a network stretched across clouds shows as ONE thing. Unbound ports sit outside the clouds.
 * Agentless mode: the agent of a hyperswitch (its host is the hyperswitch id) is labelled and marked
 * `role: hyperswitch`; the hyper ports its agentless ports carry sit in it, marked `agentless`.
 */
import type { ElementDefinition } from 'cytoscape';
import { addressesText } from '../../ctl/cells.js';
import { agentCloud, type StatusInput } from '../../ctl/status.js';
import type { HyperswitchWire } from '../../model/agentless.js';

/** The same model slice `hypernet status` reads. */
export type TopologyInput = StatusInput;

export const cloudNodeId = (cloud: string) => `cloud:${cloud}`;
export const agentNodeId = (host: string) => `agent:${host}`;
export const networkNodeId = (id: string) => `net:${id}`;
export const portNodeId = (id: string) => `port:${id}`;

/** An agent node's first label line: the host, or what the hyperswitch on it serves. */
function agentTitle(host: string, hs: HyperswitchWire | undefined): string {
  if (!hs) return host;
  return `hyperswitch ${host}\n${hs.device_id ? `vm ${hs.device_id}` : `tenant ${hs.tenant_id ?? ''}`}`;
}

export function topologyElements(input: TopologyInput): ElementDefinition[] {
  const els: ElementDefinition[] = [];
  const clouds = new Set<string>();
  const hosts = new Set<string>();
  const hyperswitches = new Map((input.hyperswitches ?? []).map((h) => [h.id, h]));
  const agentless = new Map((input.agentlessPorts ?? []).map((a) => [a.port_id, a]));
  for (const a of input.agents) {
    const cloud = agentCloud(a);
    if (!clouds.has(cloud)) {
      clouds.add(cloud);
      els.push({ group: 'nodes', data: { id: cloudNodeId(cloud), kind: 'cloud', label: cloud } });
    }
    hosts.add(a.host);
    const hs = hyperswitches.get(a.host);
    els.push({
      group: 'nodes',
      data: {
        id: agentNodeId(a.host),
        parent: cloudNodeId(cloud),
        kind: 'agent',
        label: `${agentTitle(a.host, hs)}\n${a.configurations?.tunneling_ip ?? ''}`,
        alive: a.alive ? 'up' : 'down',
        ref: a.id,
        ...(hs ? { role: 'hyperswitch', hyperswitch: hs.id } : {}),
      },
    });
  }
  const cidrs = new Map(input.subnets.map((s) => [s.id, s.cidr]));
  const netIds = new Set<string>();
  for (const n of input.networks) {
    netIds.add(n.id);
    const label = [n.name || n.id.slice(0, 8), ...(n.subnets ?? []).map((s) => cidrs.get(s) ?? '')]
      .filter(Boolean)
      .join('\n');
    els.push({ group: 'nodes', data: { id: networkNodeId(n.id), kind: 'network', label, ref: n.id } });
  }
  for (const p of input.ports) {
    const host = p['binding:host_id'];
    const data: Record<string, unknown> = {
      id: portNodeId(p.id),
      kind: 'port',
      label: addressesText(p.fixed_ips) || p.name || p.id.slice(0, 8),
      status: p.status,
      ref: p.id,
    };
    const al = agentless.get(p.id);
    if (al) {
      data.agentless = al.id;
      data.label = `${String(data.label)}\n${al.private_ip} (VPN)`;
    }
    if (host && hosts.has(host)) data.parent = agentNodeId(host);
    els.push({ group: 'nodes', data });
    if (netIds.has(p.network_id)) {
      els.push({
        group: 'edges',
        data: { id: `edge:${p.id}`, source: portNodeId(p.id), target: networkNodeId(p.network_id), kind: 'attach' },
      });
    }
  }
  return els;
}
