/**
 * How a changed object is written back as an update: revision_number + 1, updated_at now. Domain
 * code (port bindings, the agentless plugin) and the generic wire layer (routes.ts) share it, so it
 * lives apart from the HTTP layer.
 */
import { neutronTime } from '../common/clock.js';
import type { Kind, KindMap } from '../model/types.js';
import type { Ctx, ResourceDef } from './resource.js';
import type { WriteTx } from './store/store.js';

/** Stores a changed object as an update: revision_number + 1, updated_at now. */
export async function storeUpdate<K extends Kind>(
  def: ResourceDef<K>,
  ctx: Ctx,
  tx: WriteTx,
  obj: KindMap[K],
): Promise<KindMap[K]> {
  return storeKindUpdate(def.kind, ctx, tx, obj, def.parentOf?.(obj));
}

/** storeUpdate for code that knows the kind and parent but not the resource (no import cycle). */
export async function storeKindUpdate<K extends Kind>(
  kind: K,
  ctx: Ctx,
  tx: WriteTx,
  obj: KindMap[K],
  parentId?: string,
): Promise<KindMap[K]> {
  const o = obj as KindMap[K] & { revision_number?: number; updated_at?: string };
  if (typeof o.revision_number === 'number') {
    o.revision_number += 1;
    o.updated_at = neutronTime(ctx.nowMs);
  }
  await tx.put(kind, o, 'update', parentId);
  return o;
}
