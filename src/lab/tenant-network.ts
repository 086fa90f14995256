/**
 * Tenant networks through the API the way a user would make them: a network and its one IPv4 subnet,
 * optionally owned by a given project (the tenancy tests).
 */
import type { ApiClient } from '../client/api.js';
import type { Network, Subnet } from '../model/types.js';

export interface NetworkRequest {
  name: string;
  cidr: string;
  projectId?: string;
}

/** Creates the network and its subnet (`NAME-subnet`). */
export async function createNetwork(
  api: ApiClient,
  req: NetworkRequest,
): Promise<{ network: Network; subnet: Subnet }> {
  const { name, cidr, projectId } = req;
  const owner = projectId ? { project_id: projectId } : {};
  const network = await api.create<Network>('networks', 'network', { name, ...owner });
  const subnet = await api.create<Subnet>('subnets', 'subnet', {
    network_id: network.id,
    cidr,
    ip_version: 4,
    name: `${name}-subnet`,
    ...owner,
  });
  return { network, subnet };
}
