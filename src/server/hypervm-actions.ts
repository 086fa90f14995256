/**
 * `POST /v2.0/hypervms/{id}/launch_token` (admin: the HyperVM node's agent) → `{"launch_token":
 * {token, image_id, address, expires_at}}`: the single-use repository token of this launch, bound to
 * the node's provider address (its agent's tunneling_ip). One per HyperVM: the flag is set in the same
 * transaction, so a second request (a replay, a restarted agent) is refused and the launch must fail.
 * The token goes only to the node that asked, never onto the watch stream or into the store.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { faults } from './errors.js';
import type { HyperVm } from '../model/types.js';
import { type Ctx, mustGet } from './resource.js';
import type { IssuedLaunchToken } from './resources/hypervm-images.js';
import type { ReadTx } from './store/store.js';
import { hypervms } from './resources/hypervms.js';
import { contextOf, type RouteDeps } from './routes.js';
import { storeUpdate } from './store-update.js';

type P = { Params: { id: string } };

/** The provider address of a HyperVM's node (its agent's tunneling_ip): what its tokens are bound to. */
export async function nodeAddress(tx: ReadTx, hv: HyperVm): Promise<string> {
  const node = (await tx.list('agent')).find((a) => a.host === hv.host);
  const address = node?.configurations?.tunneling_ip;
  if (typeof address !== 'string' || address === '')
    throw faults.conflict('HyperVmNoHost', `HyperVM ${hv.id}'s node ${hv.host} has no provider address.`);
  return address;
}

export function registerHyperVmActions(app: FastifyInstance, deps: RouteDeps): void {
  app.post<P>('/v2.0/hypervms/:id/launch_token', async (req: FastifyRequest<P>, reply) => {
    const ctx = contextOf(deps, req);
    if (!ctx.caller.isAdmin) throw faults.forbidden('(rule:launch_token_hypervm) is disallowed by policy: admin only');
    const issued = await takeLaunchToken(deps, ctx, req.params.id, nodeAddress);
    return reply.code(201).send({ launch_token: issued });
  });
}

/**
 * The one token of a HyperVM's launch, bound to the address `addressOf` gives (its node's provider
 * address): the HyperVM's `launch_token_issued` is set in the same transaction, so it is issued once.
 * Also used by the launcher of provider-launched HyperVMs, which puts it into the user_data.
 */
export async function takeLaunchToken(
  deps: Pick<RouteDeps, 'store' | 'images'>,
  ctx: Ctx,
  id: string,
  addressOf: (tx: ReadTx, hv: HyperVm) => Promise<string>,
): Promise<IssuedLaunchToken> {
  const images = deps.images;
  if (!images) throw faults.badRequest('This server has no image catalog: HyperVMs are off.', 'HyperVmNoImages');
  return deps.store.write(async (tx) => {
    const hv = await mustGet(tx, 'hypervm', id);
    if (hv.launch_token_issued)
      throw faults.conflict('LaunchTokenUsed', `HyperVM ${hv.id} already took the token of its launch.`);
    const address = await addressOf(tx, hv);
    await storeUpdate(hypervms, ctx, tx, { ...hv, launch_token_issued: true });
    return images.issueToken(ctx.caller, hv.image_id, address);
  });
}
