/**
 * The binding transitions a server-side orchestrator (the agentless plugin) drives on a port, each
 * one store write and one port update on the watch stream: bind to a host (or unbind), prepare a
 * move's target (an INACTIVE binding), and activate it dropping the previous host, as nova does
 * after a live migration. A port deleted meanwhile is left alone.
 */
import type { Port } from '../../model/types.js';
import type { Ctx } from '../resource.js';
import { ports } from '../resources/ports.js';
import type { Store, WriteTx } from '../store/store.js';
import { storeUpdate } from '../store-update.js';
import { activateBinding, addBinding, dropInactive, newBinding } from './port-binding.js';

/** One write on port `id`: `fn` returns the changed port, or undefined for no change. */
async function changePort(
  store: Store,
  ctx: Ctx,
  id: string,
  fn: (tx: WriteTx, port: Port) => Promise<Port | undefined> | Port | undefined,
): Promise<void> {
  await store.write(async (tx) => {
    const port = await tx.get('port', id);
    const next = port && (await fn(tx, port));
    if (next) await storeUpdate(ports, ctx, tx, next);
  });
}

/** Sets the port's binding:host_id to `host` ('' unbinds); with `onlyIf`, only while it still is that host. */
export function bindHost(store: Store, ctx: Ctx, portId: string, host: string, onlyIf?: string): Promise<void> {
  return changePort(store, ctx, portId, (_tx, port) => {
    if (port['binding:host_id'] === host) return undefined;
    if (onlyIf !== undefined && port['binding:host_id'] !== onlyIf) return undefined;
    return { ...port, 'binding:host_id': host };
  });
}

/** Adds a binding of the port for `host`: INACTIVE (a move's target) when bound, else a plain ACTIVE bind. */
export function prepareBinding(store: Store, ctx: Ctx, portId: string, host: string): Promise<void> {
  return changePort(store, ctx, portId, async (tx, port) => addBinding(port, await newBinding(tx, port, host)));
}

/** Activates `host`'s binding and drops the previous active one, in one update (what nova does after a move). */
export function activateMove(store: Store, ctx: Ctx, portId: string, host: string): Promise<void> {
  return changePort(store, ctx, portId, (_tx, port) => {
    if (port['binding:host_id'] === host) return undefined;
    const { port: next } = activateBinding(port, host);
    return dropInactive(next, port['binding:host_id']);
  });
}
