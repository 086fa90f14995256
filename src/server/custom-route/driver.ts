/**
 * Driver: the diff's operations → a cloud's custom-route calls, in order, each idempotent. It stops at
 * the first failure (later steps may depend on it) and reports how far it got, so the reconciler can
 * keep its view of EC2 exact for the steps done.
 */
import type { CustomRouteCloud } from '../../model/custom-route-cloud.js';
import type { CrOp } from './types.js';

export interface Applied {
  /** The operations that succeeded, in order. */
  done: CrOp[];
  /** Ids of the groups made. */
  groupIds: Record<string, string>;
  /** The routes moved from one ENI to another (failover, migration). */
  replaced: number;
  error?: unknown;
}

export async function applyCrOps(cloud: CustomRouteCloud, ops: readonly CrOp[]): Promise<Applied> {
  const out: Applied = { done: [], groupIds: {}, replaced: 0 };
  for (const o of ops) {
    try {
      switch (o.op) {
        case 'createGroup':
          out.groupIds[o.name] = await cloud.ensureSecurityGroup(o.name, o.description, []);
          break;
        case 'setRules':
          await cloud.ensureSecurityGroup(o.name, o.description, o.rules);
          break;
        case 'setRole':
          await cloud.setRole(o.eni, o.role);
          break;
        case 'setSourceDestCheck':
          await cloud.setSourceDestCheck(o.eni, o.enabled);
          break;
        case 'setGroups':
          await cloud.setGroups(o.eni, o.groups);
          break;
        case 'setRoute':
          if ((await cloud.setRoute(o.table, o.cidr, o.eni)) === 'replaced') out.replaced++;
          break;
        case 'deleteRoute':
          await cloud.deleteRoute(o.table, o.cidr);
          break;
      }
    } catch (e) {
      out.error = e;
      return out;
    }
    out.done.push(o);
  }
  return out;
}
