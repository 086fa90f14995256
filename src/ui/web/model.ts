/**
 * The dashboard's copy of the server's model, kept current from the watch stream (snapshot, then
 * revisioned events; see src/model/watch.ts). Pure: no DOM, so it is unit tested under Node.
 */
import type { Agent, Kind, KindMap } from '../../model/types.js';
import { KINDS } from '../../model/types.js';
import type { AnyObject, Snapshot, WatchMessage } from '../../model/watch.js';

/** The snapshot's field for each kind. */
export const SNAPSHOT_KEY: { [K in Kind]: keyof Snapshot } = {
  network: 'networks',
  subnet: 'subnets',
  port: 'ports',
  security_group: 'security_groups',
  security_group_rule: 'security_group_rules',
  agent: 'agents',
};

export class Model {
  revision = -1;
  private readonly maps = new Map<Kind, Map<string, AnyObject>>(KINDS.map((k) => [k, new Map()]));

  /** Applies one watch line; returns the kinds that changed (empty for heartbeats and stale events). */
  apply(m: WatchMessage): Kind[] {
    if (m.type === 'heartbeat') return [];
    if (m.type === 'snapshot') {
      for (const k of KINDS) {
        const map = this.maps.get(k)!;
        map.clear();
        for (const o of (m[SNAPSHOT_KEY[k]] as AnyObject[] | undefined) ?? []) map.set(o.id, o);
      }
      this.revision = m.revision;
      return [...KINDS];
    }
    if (m.revision <= this.revision) return [];
    this.revision = m.revision;
    const map = this.maps.get(m.kind);
    if (!map) return [];
    if (m.op === 'delete') map.delete(m.id);
    else map.set(m.id, m.object);
    return [m.kind];
  }

  /** Replaces the agents with a fresh list (their `alive` flag changes without events). */
  setAgents(agents: readonly Agent[]): void {
    const map = this.maps.get('agent')!;
    map.clear();
    for (const a of agents) map.set(a.id, a);
  }

  list<K extends Kind>(kind: K): KindMap[K][] {
    return [...this.maps.get(kind)!.values()] as KindMap[K][];
  }

  get<K extends Kind>(kind: K, id: string): KindMap[K] | undefined {
    return this.maps.get(kind)!.get(id) as KindMap[K] | undefined;
  }
}
