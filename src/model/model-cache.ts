/**
 * The agent's copy of the server's model, built from the watch stream: a snapshot replaces it
 * wholesale, events update it one object at a time. `ready` only after the first full snapshot, so
 * nothing touches the kernel before the agent has seen the whole model. The L3 indexes (routers by
 * subnet, floating IPs by port, …) are derived from the tables and rebuilt once per revision, when
 * first asked for.
 */
import type { KindMap, WatchedKind } from './types.js';
import type { Snapshot, WatchEvent } from './watch.js';
import { buildL3Index, type L3Index } from './l3-index.js';

/** Read-only view handed to the pure compile functions. */
export interface ModelView {
  readonly revision: number;
  readonly networks: ReadonlyMap<string, KindMap['network']>;
  readonly subnets: ReadonlyMap<string, KindMap['subnet']>;
  readonly ports: ReadonlyMap<string, KindMap['port']>;
  readonly security_groups: ReadonlyMap<string, KindMap['security_group']>;
  readonly security_group_rules: ReadonlyMap<string, KindMap['security_group_rule']>;
  readonly agents: ReadonlyMap<string, KindMap['agent']>;
  readonly routers: ReadonlyMap<string, KindMap['router']>;
  readonly floatingips: ReadonlyMap<string, KindMap['floatingip']>;
  readonly subnetpools: ReadonlyMap<string, KindMap['subnetpool']>;
  readonly hypervms: ReadonlyMap<string, KindMap['hypervm']>;
}

type Tables = { [K in WatchedKind]: Map<string, KindMap[K]> };

const PLURAL: Record<WatchedKind, keyof Omit<Snapshot, 'type' | 'revision'>> = {
  network: 'networks',
  subnet: 'subnets',
  port: 'ports',
  security_group: 'security_groups',
  security_group_rule: 'security_group_rules',
  agent: 'agents',
  router: 'routers',
  floatingip: 'floatingips',
  subnetpool: 'subnetpools',
  hypervm: 'hypervms',
};

function emptyTables(): Tables {
  return {
    network: new Map(),
    subnet: new Map(),
    port: new Map(),
    security_group: new Map(),
    security_group_rule: new Map(),
    agent: new Map(),
    router: new Map(),
    floatingip: new Map(),
    subnetpool: new Map(),
    hypervm: new Map(),
  };
}

export class ModelCache {
  private t: Tables = emptyTables();
  private l3?: { revision: number; index: L3Index };
  revision = 0;
  ready = false;

  /** Replaces everything with a snapshot. */
  applySnapshot(s: Snapshot): void {
    const t = emptyTables();
    for (const kind of Object.keys(PLURAL) as WatchedKind[]) {
      const table = t[kind] as Map<string, KindMap[WatchedKind]>;
      for (const o of (s[PLURAL[kind]] ?? []) as KindMap[WatchedKind][]) table.set(o.id, o);
    }
    this.t = t;
    this.l3 = undefined;
    this.revision = s.revision;
    this.ready = true;
  }

  /** Applies one event; returns false when it is stale (revision not after ours). */
  applyEvent(e: WatchEvent): boolean {
    if (e.revision <= this.revision) return false;
    const table = this.t[e.kind] as Map<string, KindMap[WatchedKind]> | undefined;
    if (table) {
      if (e.op === 'delete') table.delete(e.id);
      else table.set(e.id, e.object);
    }
    this.revision = e.revision;
    return true;
  }

  view(): ModelView {
    const t = this.t;
    return {
      revision: this.revision,
      networks: t.network,
      subnets: t.subnet,
      ports: t.port,
      security_groups: t.security_group,
      security_group_rules: t.security_group_rule,
      agents: t.agent,
      routers: t.router,
      floatingips: t.floatingip,
      subnetpools: t.subnetpool,
      hypervms: t.hypervm,
    };
  }

  /** The L3 indexes of the current revision (built on first use after a change). */
  l3Index(): L3Index {
    if (this.l3?.revision !== this.revision) this.l3 = { revision: this.revision, index: buildL3Index(this.view()) };
    return this.l3.index;
  }
}
