/**
 * `POST /v2.0/hypervms/{id}/launch_token` (admin: the HyperVM node's agent) → `{"launch_token":
 * {token, image_id, address, expires_at}}`: the single-use repository token of this launch, bound to
 * the node's provider address (its agent's tunneling_ip). One per HyperVM: the flag is set in the same
 * transaction, so a second request (a replay, a restarted agent) is refused and the launch must fail.
 * The token goes only to the node that asked, never onto the watch stream or into the store.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { faults } from './errors.js';
import { mustGet } from './resource.js';
import { hypervms } from './resources/hypervms.js';
import { contextOf, type RouteDeps } from './routes.js';
import { storeUpdate } from './store-update.js';

type P = { Params: { id: string } };

export function registerHyperVmActions(app: FastifyInstance, deps: RouteDeps): void {
  app.post<P>('/v2.0/hypervms/:id/launch_token', async (req: FastifyRequest<P>, reply) => {
    const ctx = contextOf(deps, req);
    if (!ctx.caller.isAdmin) throw faults.forbidden('(rule:launch_token_hypervm) is disallowed by policy: admin only');
    const images = deps.images;
    if (!images) throw faults.badRequest('This server has no image catalog: HyperVMs are off.', 'HyperVmNoImages');
    const issued = await deps.store.write(async (tx) => {
      const hv = await mustGet(tx, 'hypervm', req.params.id);
      if (hv.launch_token_issued)
        throw faults.conflict('LaunchTokenUsed', `HyperVM ${hv.id} already took the token of its launch.`);
      const node = (await tx.list('agent')).find((a) => a.host === hv.host);
      const address = node?.configurations?.tunneling_ip;
      if (typeof address !== 'string' || address === '')
        throw faults.conflict('HyperVmNoHost', `HyperVM ${hv.id}'s node ${hv.host} has no provider address.`);
      await storeUpdate(hypervms, ctx, tx, { ...hv, launch_token_issued: true });
      return images.issueToken(ctx.caller, hv.image_id, address);
    });
    return reply.code(201).send({ launch_token: issued });
  });
}
