/**
 * `GET /metadata/*`: the metadata trees for the instance behind a node proxy's signed request. No
 * token: the caller is the agent's proxy, trusted by the HMAC over the identity it found from the
 * request's source (model/metadata-signature.ts). Unsigned or mis-signed requests get 403, and a
 * signed identity whose port does not carry that instance and project gets 404, so nothing of
 * another instance ever leaves. Without `metadata_proxy_shared_secret` the service is off (404).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { METADATA_PREFIX, verifiedIdentity, type MetadataIdentity } from '../../model/metadata-signature.js';
import type { Subnet } from '../../model/types.js';
import { instanceOf } from '../resources/instances.js';
import type { RouteDeps } from '../routes.js';
import type { ReadTx } from '../store/store.js';
import { metadataAnswer, type MetadataFacts } from './trees.js';

const plain = (reply: FastifyReply, status: number, body: string) =>
  reply.code(status).type('text/plain; charset=utf-8').send(body);

/** The facts of a verified identity, or null when its port does not hold that instance and project. */
async function factsOf(tx: ReadTx, id: MetadataIdentity): Promise<MetadataFacts | null> {
  const port = await tx.get('port', id.portId);
  if (!port || port.device_id !== id.instanceId || port.project_id !== id.tenantId) return null;
  const subnets = (await Promise.all(port.fixed_ips.map((ip) => tx.get('subnet', ip.subnet_id)))).filter(
    (s): s is Subnet => s !== undefined,
  );
  const network = await tx.get('network', port.network_id);
  const fip = (await tx.list('floatingip')).find((f) => f.port_id === port.id);
  return {
    port,
    instance: await instanceOf(tx, port.project_id, port.device_id),
    subnets,
    mtu: network?.mtu ?? 1450,
    floatingIp: fip?.floating_ip_address ?? null,
  };
}

export function registerMetadata(app: FastifyInstance, deps: RouteDeps): void {
  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const secret = deps.config.metadataSecret;
    if (!secret) return plain(reply, 404, 'metadata service not configured\n');
    const id = verifiedIdentity(secret, req.headers);
    if (!id) return plain(reply, 403, 'Invalid proxy request signature.\n');
    const facts = await deps.store.read((tx) => factsOf(tx, id));
    if (!facts) return plain(reply, 404, 'Not Found\n');
    const answer = metadataAnswer(req.url.slice(METADATA_PREFIX.length), facts);
    return reply.code(answer.status).type(answer.type).send(answer.body);
  };
  app.get(METADATA_PREFIX, handler);
  app.get(`${METADATA_PREFIX}/*`, handler);
}
