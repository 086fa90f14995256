/**
 * The metadata service's signed identity, shared by the node's proxy (which signs) and the server
 * (which checks). As Neutron's metadata agent signs for Nova with `metadata_proxy_shared_secret`,
 * the proxy sends the instance id, tenant id and port id it found from the request's source, and an
 * HMAC-SHA256 over all three: a signature cannot be replayed for another project or port.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const METADATA_HEADERS = {
  instanceId: 'x-instance-id',
  tenantId: 'x-tenant-id',
  portId: 'x-hypernet-port-id',
  signature: 'x-instance-id-signature',
} as const;

/** The server's path prefix of the metadata trees (the proxy forwards `/openstack/…` as `/metadata/openstack/…`). */
export const METADATA_PREFIX = '/metadata';

export interface MetadataIdentity {
  instanceId: string;
  tenantId: string;
  portId: string;
}

/** Hex HMAC-SHA256 of the identity's three fields, newline-joined (none may hold a newline). */
export function signIdentity(secret: string, id: MetadataIdentity): string {
  return createHmac('sha256', secret).update(`${id.instanceId}\n${id.tenantId}\n${id.portId}`).digest('hex');
}

/** The headers the proxy adds to what it forwards. */
export function signedHeaders(secret: string, id: MetadataIdentity): Record<string, string> {
  return {
    [METADATA_HEADERS.instanceId]: id.instanceId,
    [METADATA_HEADERS.tenantId]: id.tenantId,
    [METADATA_HEADERS.portId]: id.portId,
    [METADATA_HEADERS.signature]: signIdentity(secret, id),
  };
}

/** The identity of request headers when their signature is right, else null (constant-time compare). */
export function verifiedIdentity(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
): MetadataIdentity | null {
  const one = (h: string): string | null => {
    const v = headers[h];
    return typeof v === 'string' && v !== '' && !v.includes('\n') ? v : null;
  };
  const instanceId = one(METADATA_HEADERS.instanceId);
  const tenantId = one(METADATA_HEADERS.tenantId);
  const portId = one(METADATA_HEADERS.portId);
  const given = one(METADATA_HEADERS.signature);
  if (!instanceId || !tenantId || !portId || !given || !/^[0-9a-f]{64}$/.test(given)) return null;
  const id = { instanceId, tenantId, portId };
  const want = Buffer.from(signIdentity(secret, id), 'hex');
  return timingSafeEqual(want, Buffer.from(given, 'hex')) ? id : null;
}
