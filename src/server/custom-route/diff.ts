/**
 * Diff, pure: what the controller wants vs what EC2 reports → the operations, in the order they can
 * be applied: groups (made, then their rules), the ENIs it takes on (tagged, check, groups), routes
 * set, routes deleted, and last the ENIs it lets go (its group off, a VM's check back on, untagged).
 * It deletes only routes it owns: to an ENI it manages, for a hyper CIDR or a /32 inside one. A step
 * that needs a group id EC2 has not made yet waits for the next round (the reconciler runs one).
 */
import type { CrView, IngressRule } from '../../model/custom-route-cloud.js';
import { ruleKey } from '../../model/custom-route-cloud.js';
import { cidrContains, parseCidr } from '../../model/grammar/addresses.js';
import type { CrDesired, CrOp } from './types.js';

const sameSet = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((x) => b.includes(x));

/** Is `dest` one of `owned` or a /32 inside one? */
export function ownsDestination(owned: readonly string[], dest: string): boolean {
  if (owned.includes(dest)) return true;
  const m = /^(\d+\.\d+\.\d+\.\d+)\/32$/.exec(dest);
  return !!m && owned.some((c) => c.includes('.') && cidrContains(parseCidr(c, false), m[1]!));
}

export function diff(want: CrDesired, view: CrView): CrOp[] {
  const ops: CrOp[] = [];
  const ids = new Map(Object.entries(view.groups).map(([n, g]) => [n, g.id]));
  // The view holds only the controller's groups (asked for by name).
  const ours = new Set(ids.values());

  for (const [name, g] of Object.entries(want.groups)) {
    const have = view.groups[name];
    if (!have) {
      ops.push({ op: 'createGroup', name, description: g.description });
      continue;
    }
    const rules: IngressRule[] = [];
    let ready = true;
    for (const r of g.rules) {
      if (r.group === undefined) rules.push(r);
      else if (ids.has(r.group)) rules.push({ ...r, group: ids.get(r.group) });
      else ready = false;
    }
    if (ready && !sameSet(rules.map(ruleKey), have.rules.map(ruleKey)))
      ops.push({ op: 'setRules', name, description: g.description, rules });
  }

  const wanted = Object.entries(want.enis)
    .filter(([id]) => view.enis[id])
    .sort(([a], [b]) => a.localeCompare(b));
  for (const [id, w] of wanted) if (view.enis[id]!.role !== w.role) ops.push({ op: 'setRole', eni: id, role: w.role });
  for (const [id, w] of wanted)
    if (view.enis[id]!.sourceDestCheck !== w.sourceDestCheck)
      ops.push({ op: 'setSourceDestCheck', eni: id, enabled: w.sourceDestCheck });
  for (const [id, w] of wanted) {
    const have = view.enis[id]!.groups;
    const need = w.groups.map((n) => ids.get(n));
    if (need.some((g) => !g)) continue;
    // Keep the groups the ENI has that are not ours, and drop our other group (a role change).
    const next = [...have.filter((g) => !ours.has(g)), ...(need as string[])];
    if (!sameSet(next, have)) ops.push({ op: 'setGroups', eni: id, groups: next });
  }

  for (const [table, routes] of Object.entries(want.routes).sort(([a], [b]) => a.localeCompare(b)))
    for (const [cidr, eni] of Object.entries(routes).sort(([a], [b]) => a.localeCompare(b))) {
      const was = view.routes[table]?.[cidr];
      if (was !== eni) ops.push({ op: 'setRoute', table, cidr, eni, ...(was ? { was } : {}) });
    }

  const managed = new Set([
    ...Object.keys(want.enis),
    ...Object.values(view.enis)
      .filter((e) => e.role)
      .map((e) => e.id),
  ]);
  for (const [table, routes] of Object.entries(view.routes).sort(([a], [b]) => a.localeCompare(b)))
    for (const [cidr, eni] of Object.entries(routes).sort(([a], [b]) => a.localeCompare(b)))
      if (managed.has(eni) && !want.routes[table]?.[cidr] && ownsDestination(want.owned, cidr))
        ops.push({ op: 'deleteRoute', table, cidr, eni });

  for (const e of Object.values(view.enis).sort((a, b) => a.id.localeCompare(b.id))) {
    if (!e.role || want.enis[e.id]) continue;
    const kept = e.groups.filter((g) => !ours.has(g));
    // EC2 wants at least one group on an ENI: ours stays when it is the only one.
    if (kept.length && kept.length !== e.groups.length) ops.push({ op: 'setGroups', eni: e.id, groups: kept });
    if (e.role === 'vm' && !e.sourceDestCheck) ops.push({ op: 'setSourceDestCheck', eni: e.id, enabled: true });
    ops.push({ op: 'setRole', eni: e.id, role: undefined });
  }
  return ops;
}

/** `view` once `ops` are applied (`groupIds`: the ids EC2 gave groups made by createGroup). */
export function applyOps(view: CrView, ops: readonly CrOp[], groupIds: Record<string, string> = {}): CrView {
  const v: CrView = structuredClone(view);
  for (const o of ops) {
    switch (o.op) {
      case 'createGroup':
        v.groups[o.name] = { id: groupIds[o.name] ?? `sg-${o.name}`, rules: [] };
        break;
      case 'setRules':
        v.groups[o.name] = { id: v.groups[o.name]?.id ?? groupIds[o.name] ?? `sg-${o.name}`, rules: o.rules };
        break;
      case 'setRole': {
        const e = v.enis[o.eni];
        if (e) {
          if (o.role) e.role = o.role;
          else delete e.role;
        }
        break;
      }
      case 'setSourceDestCheck':
        if (v.enis[o.eni]) v.enis[o.eni]!.sourceDestCheck = o.enabled;
        break;
      case 'setGroups':
        if (v.enis[o.eni]) v.enis[o.eni]!.groups = [...o.groups];
        break;
      case 'setRoute':
        v.routes[o.table] = { ...v.routes[o.table], [o.cidr]: o.eni };
        break;
      case 'deleteRoute':
        delete v.routes[o.table]?.[o.cidr];
        break;
    }
  }
  return v;
}
