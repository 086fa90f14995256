/**
 * The dashboard's copy of the server's model: the agent's ModelCache (snapshot, then revisioned
 * events from the watch stream) plus the agents list polled from the API, whose `alive` flag
 * changes without an event, plus the provider-side entities of agentless mode (hyperswitches,
 * agentless ports), polled as well since they have no watch events. Pure: no DOM, so it is unit
 * tested under Node.
 */
import { ModelCache, type ModelView } from '../../model/model-cache.js';
import { WATCHED_KINDS, type Agent, type Kind, type KindMap } from '../../model/types.js';
import type { WatchMessage } from '../../model/watch.js';
import type { AgentlessPortWire, HyperswitchWire } from '../../model/agentless.js';

/** Agentless mode's entities as last polled; null while unknown or when the server does not serve them. */
export interface ProviderLists {
  hyperswitch: HyperswitchWire[];
  agentlessport: AgentlessPortWire[];
}

/** The view's map for a kind: its plural ('security_group' → 'security_groups'). */
const viewKey = (kind: Kind) => `${kind}s` as keyof Omit<ModelView, 'revision'>;

export class Model {
  private readonly cache = new ModelCache();
  /** Agents as last polled (fresher `alive`); an agent event afterwards wins over its entry. */
  private polled = new Map<string, Agent>();
  private providerLists: ProviderLists | null = null;

  /** The revision followed, -1 before the first snapshot. */
  get revision(): number {
    return this.cache.ready ? this.cache.revision : -1;
  }

  /** Applies one watch line; returns the kinds that changed (empty for heartbeats and stale events). */
  apply(m: WatchMessage): Kind[] {
    if (m.type === 'heartbeat') return [];
    if (m.type === 'snapshot') {
      this.cache.applySnapshot(m);
      this.polled.clear();
      return [...WATCHED_KINDS];
    }
    if (!this.cache.applyEvent(m)) return [];
    if (m.kind === 'agent') this.polled.delete(m.id);
    return [m.kind];
  }

  setAgents(agents: readonly Agent[]): void {
    this.polled = new Map(agents.map((a) => [a.id, a]));
  }

  setProvider(lists: ProviderLists | null): void {
    this.providerLists = lists;
  }

  /** The polled agentless entities, or null when the server has no agentless mode. */
  get provider(): Readonly<ProviderLists> | null {
    return this.providerLists;
  }

  private map<K extends Kind>(kind: K): ReadonlyMap<string, KindMap[K]> {
    const own = this.cache.view()[viewKey(kind)] as ReadonlyMap<string, KindMap[K]>;
    if (kind !== 'agent') return own;
    const merged = new Map(own as ReadonlyMap<string, Agent>);
    for (const [id, a] of this.polled) if (merged.has(id) || !this.cache.ready) merged.set(id, a);
    return merged as unknown as ReadonlyMap<string, KindMap[K]>;
  }

  list<K extends Kind>(kind: K): KindMap[K][] {
    return [...this.map(kind).values()];
  }

  get<K extends Kind>(kind: K, id: string): KindMap[K] | undefined {
    return this.map(kind).get(id);
  }
}
