/**
 * What `hypernet status` (and the dashboard's problems panel) reports, computed from the API's
 * agents, networks, subnets and ports: the clouds (agents' `configurations.cloud`), each agent /
 * hyperswitch up or down with its last heartbeat, networks with their port counts and the clouds
 * they span, the hyperswitches (agentless mode, when the server has it) with their agent and ports,
 * and the problems (ports DOWN or ERROR with the reason the agent gave, agents silent,
 * hyperswitches without an agent). Pure.
 */
import type { Agent, Network, Port, Subnet } from '../model/types.js';
import type { AgentlessPortWire, HyperswitchWire } from '../model/agentless.js';
import { portError } from '../model/bindings.js';
import { OWNER_FLOATINGIP } from '../model/device-owners.js';

export interface StatusInput {
  agents: readonly Agent[];
  networks: readonly Network[];
  subnets: readonly Subnet[];
  ports: readonly Port[];
  /** Agentless mode only (absent or empty otherwise). */
  hyperswitches?: readonly HyperswitchWire[];
  agentlessPorts?: readonly AgentlessPortWire[];
}

export interface CloudStatus {
  cloud: string;
  agents: number;
  agents_up: number;
  ports: number;
  ports_active: number;
}

export interface AgentStatus {
  id: string;
  host: string;
  cloud: string;
  tunneling_ip: string;
  alive: boolean;
  admin_state_up: boolean;
  last_heartbeat: string;
  /** Seconds since the last heartbeat (null when unknown). */
  silent_seconds: number | null;
  /** The node's encrypted overlay as its agent reported it; null when it reported none. */
  encryption: {
    state: 'up' | 'error';
    impl: 'kernel' | 'userspace' | null;
    error?: string;
    /** Encrypted peers and the seconds since their last handshake (null: none yet). */
    peers: { host: string; handshake_age_s: number | null }[];
  } | null;
}

export interface NetworkStatus {
  id: string;
  name: string;
  vni: number | null;
  cidrs: string[];
  ports: number;
  ports_active: number;
  ports_down: number;
  clouds: string[];
}

export interface HyperswitchStatus {
  id: string;
  /** 'tenant T' or 'vm D': whom it serves. */
  serves: string;
  flavor: string;
  data_ip: string;
  /** The provider VM's state. */
  status: string;
  /** Its agent (host = the hyperswitch id): UP, DOWN, or missing (not registered). */
  agent: 'UP' | 'DOWN' | 'missing';
  agentless_ports: number;
  /** Hyper ports bound to it that are ACTIVE / all of them. */
  ports_active: number;
  ports: number;
}

export interface Problem {
  kind: 'port-down' | 'port-error' | 'agent-silent' | 'hyperswitch-no-agent';
  id: string;
  message: string;
}

export interface StatusReport {
  clouds: CloudStatus[];
  agents: AgentStatus[];
  networks: NetworkStatus[];
  hyperswitches: HyperswitchStatus[];
  problems: Problem[];
}

/** The label for ports and agents without a cloud. */
export const NO_CLOUD = '(none)';

export function agentCloud(a: Agent): string {
  const c = a.configurations?.cloud;
  return typeof c === 'string' && c !== '' ? c : NO_CLOUD;
}

/** host → agent, for finding the cloud and hyperswitch of a port by its binding:host_id. */
export function agentsByHost(agents: readonly Agent[]): Map<string, Agent> {
  return new Map(agents.map((a) => [a.host, a]));
}

/** The cloud a port is wired in ('' when unbound or on an unknown host). */
export function portCloud(p: Port, byHost: Map<string, Agent>): string {
  const a = byHost.get(p['binding:host_id']);
  return a ? agentCloud(a) : '';
}

function secondsSince(ts: string | undefined, nowMs: number): number | null {
  const t = ts ? Date.parse(ts) : NaN;
  return Number.isNaN(t) ? null : Math.max(0, Math.round((nowMs - t) / 1000));
}

/** ': REASON' when the agent said why the port is in ERROR. */
function why(p: Port): string {
  const e = p.status === 'ERROR' ? portError(p) : undefined;
  return e ? `: ${e}` : '';
}

function portLabel(p: Port): string {
  return p.name ? `${p.name} (${p.id})` : p.id;
}

function encryptionOf(a: Agent, nowMs: number): AgentStatus['encryption'] {
  const e = a['hypernet:encryption_status'];
  if (!e) return null;
  return {
    state: e.state,
    impl: e.impl,
    ...(e.error ? { error: e.error } : {}),
    peers: e.peers.map((p) => ({
      host: p.host,
      handshake_age_s: p.latest_handshake ? Math.max(0, Math.round(nowMs / 1000 - p.latest_handshake)) : null,
    })),
  };
}

export function computeStatus(input: StatusInput, nowMs: number): StatusReport {
  const byHost = agentsByHost(input.agents);
  const clouds = new Map<string, CloudStatus>();
  const cloud = (name: string) => {
    const hit = clouds.get(name);
    if (hit) return hit;
    const c = { cloud: name, agents: 0, agents_up: 0, ports: 0, ports_active: 0 };
    clouds.set(name, c);
    return c;
  };
  const agents = input.agents.map((a): AgentStatus => {
    const c = cloud(agentCloud(a));
    c.agents++;
    if (a.alive) c.agents_up++;
    return {
      id: a.id,
      host: a.host,
      cloud: agentCloud(a),
      tunneling_ip: String(a.configurations?.tunneling_ip ?? ''),
      alive: a.alive,
      admin_state_up: a.admin_state_up !== false,
      last_heartbeat: a.heartbeat_timestamp ?? '',
      silent_seconds: secondsSince(a.heartbeat_timestamp, nowMs),
      encryption: encryptionOf(a, nowMs),
    };
  });
  const cidrs = new Map(input.subnets.map((s) => [s.id, s.cidr]));
  const netById = new Map(input.networks.map((n) => [n.id, n]));
  const networks = input.networks.map(
    (n): NetworkStatus => ({
      id: n.id,
      name: n.name,
      vni: n['provider:segmentation_id'] ?? null,
      cidrs: (n.subnets ?? []).map((id) => cidrs.get(id) ?? id),
      ports: 0,
      ports_active: 0,
      ports_down: 0,
      clouds: [],
    }),
  );
  const netStatus = new Map(networks.map((n) => [n.id, n]));
  const problems: Problem[] = [];
  for (const p of input.ports) {
    const pc = portCloud(p, byHost);
    if (pc) {
      const c = cloud(pc);
      c.ports++;
      if (p.status === 'ACTIVE') c.ports_active++;
    }
    const ns = netStatus.get(p.network_id);
    if (ns) {
      ns.ports++;
      if (p.status === 'ACTIVE') ns.ports_active++;
      if (p.status === 'DOWN') ns.ports_down++;
      if (pc && !ns.clouds.includes(pc)) ns.clouds.push(pc);
    }
    // A floating IP's port only holds its address and is DOWN by design, as in Neutron.
    if ((p.status === 'DOWN' && p.device_owner !== OWNER_FLOATINGIP) || p.status === 'ERROR') {
      const net = netById.get(p.network_id);
      const where = p['binding:host_id'] ? `on host ${p['binding:host_id']}${pc ? ` (${pc})` : ''}` : 'unbound';
      problems.push({
        kind: p.status === 'DOWN' ? 'port-down' : 'port-error',
        id: p.id,
        message: `port ${portLabel(p)} on network ${net?.name || p.network_id} is ${p.status}, ${where}${why(p)}`,
      });
    }
  }
  for (const a of agents) {
    if (a.alive) continue;
    const since =
      a.silent_seconds === null
        ? 'never heard from'
        : `silent for ${a.silent_seconds}s (last heartbeat ${a.last_heartbeat})`;
    problems.push({ kind: 'agent-silent', id: a.id, message: `agent ${a.host} (${a.cloud}) is down: ${since}` });
  }
  const hyperswitches = (input.hyperswitches ?? []).map((h) => hyperswitchStatus(h, input, byHost));
  for (const h of hyperswitches) {
    if (h.agent === 'missing')
      problems.push({
        kind: 'hyperswitch-no-agent',
        id: h.id,
        message: `hyperswitch ${h.id} (${h.serves}) has no registered agent (VM ${h.status})`,
      });
  }
  for (const n of networks) n.clouds.sort();
  return {
    clouds: [...clouds.values()].sort((a, b) => a.cloud.localeCompare(b.cloud)),
    agents: agents.sort((a, b) => a.cloud.localeCompare(b.cloud) || a.host.localeCompare(b.host)),
    networks,
    hyperswitches: hyperswitches.sort((a, b) => a.id.localeCompare(b.id)),
    problems,
  };
}

function hyperswitchStatus(h: HyperswitchWire, input: StatusInput, byHost: Map<string, Agent>): HyperswitchStatus {
  const agent = byHost.get(h.id);
  const bound = input.ports.filter((p) => p['binding:host_id'] === h.id);
  return {
    id: h.id,
    serves: h.device_id ? `vm ${h.device_id}` : `tenant ${h.tenant_id ?? ''}`,
    flavor: h.flavor,
    data_ip: h.data_ip,
    status: h.status,
    agent: agent ? (agent.alive ? 'UP' : 'DOWN') : 'missing',
    agentless_ports: (input.agentlessPorts ?? []).filter((p) => p.hyperswitch_id === h.id).length,
    ports_active: bound.filter((p) => p.status === 'ACTIVE').length,
    ports: bound.length,
  };
}
