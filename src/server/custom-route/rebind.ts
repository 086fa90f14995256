/**
 * The store half of a failover: a custom-route port moves to the standby hyperswitch's agent in one
 * transaction that applies only while the port is still bound to the dead one (compare-and-set), so
 * when several servers run the controller, one rebinds and the others find it done.
 */
import type { Ctx } from '../resource.js';
import { ports } from '../resources/ports.js';
import type { Store } from '../store/store.js';
import { storeUpdate } from '../store-update.js';
import type { Rebind } from './types.js';

/** Applies the rebinds still valid; returns the ports this call moved. */
export async function rebindPorts(store: Store, ctx: Ctx, rebinds: readonly Rebind[]): Promise<string[]> {
  if (!rebinds.length) return [];
  return store.write(async (tx) => {
    const moved: string[] = [];
    for (const r of rebinds) {
      const port = await tx.get('port', r.port);
      if (!port || port['binding:host_id'] !== r.from) continue;
      // DOWN until the standby's agent has wired it and reports it ACTIVE.
      await storeUpdate(ports, ctx, tx, { ...port, 'binding:host_id': r.to, status: 'DOWN' });
      moved.push(r.port);
    }
    return moved;
  });
}
