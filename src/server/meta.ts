/**
 * The discovery documents: version list at `/`, resource list at `/v2.0`, and `/v2.0/extensions`
 * naming only the extensions this server really implements (clients such as the openstack CLI
 * decide what to send from it).
 */
import type { FastifyInstance } from 'fastify';
import { faults } from './errors.js';
import { contextOf, hrefBase, type RouteDeps } from './routes.js';
import type { ResourceDef } from './resource.js';
import type { Kind } from '../model/types.js';
import { L3_EXTENSIONS } from './l3/extensions.js';

const UPDATED = '2026-11-21T00:00:00-00:00';

export const EXTENSIONS: readonly { alias: string; name: string; description: string }[] = [
  {
    alias: 'agent',
    name: 'agent',
    description: 'The agent management extension (with registration by the hypernet agent).',
  },
  { alias: 'allowed-address-pairs', name: 'Allowed Address Pairs', description: 'Provides allowed address pairs' },
  {
    alias: 'binding',
    name: 'Port Binding',
    description: 'Expose port bindings of a virtual port to external application',
  },
  {
    alias: 'binding-extended',
    name: 'Port Bindings Extended',
    description: 'Expose port bindings of a virtual port to external application',
  },
  {
    alias: 'default-subnetpools',
    name: 'Default Subnetpools',
    description: 'Provides ability to mark and use a subnetpool as the default.',
  },
  {
    alias: 'filter-validation',
    name: 'Filter parameters validation',
    description: 'Unknown filter parameters are rejected',
  },
  { alias: 'net-mtu', name: 'Network MTU', description: 'Provides MTU attribute for a network resource.' },
  {
    alias: 'pagination',
    name: 'Pagination support',
    description: 'Extension that indicates that pagination is enabled.',
  },
  { alias: 'port-security', name: 'Port Security', description: 'Provides port security' },
  {
    alias: 'project-id',
    name: 'project_id field enabled',
    description: 'Extension that indicates that project_id field is enabled.',
  },
  {
    alias: 'provider',
    name: 'Provider Network',
    description: 'Expose mapping of virtual networks to physical networks (VXLAN only)',
  },
  {
    alias: 'revision-if-match',
    name: 'If-Match constraints based on revision_number',
    description: 'Extension indicating that If-Match based on revision_number is supported.',
  },
  {
    alias: 'quotas',
    name: 'Quota management support',
    description: 'Expose functions for quotas management per project',
  },
  {
    alias: 'quota_details',
    name: 'Quota details management support',
    description: 'Expose functions for quotas usage statistics per project',
  },
  { alias: 'security-group', name: 'security-group', description: 'The security groups extension.' },
  {
    alias: 'subnet_allocation',
    name: 'Subnet Allocation',
    description: 'Enables allocation of subnets from a subnet pool',
  },
  {
    alias: 'subnetpool-prefix-ops',
    name: 'Subnet Pool Prefix Operations',
    description: 'Provides support for adjusting the prefix list of subnet pools',
  },
  { alias: 'sorting', name: 'Sorting support', description: 'Extension that indicates that sorting is enabled.' },
  {
    alias: 'standard-attr-description',
    name: 'standard-attr-description',
    description: 'Extension to add descriptions to standard attributes',
  },
  {
    alias: 'standard-attr-revisions',
    name: 'Resource revision numbers',
    description: 'This extension will display the revision number of neutron resources.',
  },
  {
    alias: 'standard-attr-tag',
    name: 'Tag support for resources with standard attribute',
    description: 'Enables to set tag on resources with standard attribute.',
  },
  {
    alias: 'standard-attr-timestamp',
    name: 'Resource timestamps',
    description:
      'Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes.',
  },
  {
    alias: 'stateful-security-group',
    name: 'Stateful security group',
    description: 'Indicates if the security group is stateful or not',
  },
];

function extension(e: (typeof EXTENSIONS)[number]) {
  return { ...e, updated: UPDATED, links: [] };
}

/** Extensions and collections served outside the generic resource table (e.g. agentless, when enabled). */
export interface MetaExtras {
  extensions: readonly (typeof EXTENSIONS)[number][];
  resources: readonly { singular: string; plural: string; path: string }[];
}

export function registerMeta(
  app: FastifyInstance,
  deps: RouteDeps,
  defs: readonly ResourceDef<Kind>[],
  extras: MetaExtras = { extensions: [], resources: [] },
): void {
  const allExtensions = [...EXTENSIONS, ...L3_EXTENSIONS, ...extras.extensions].sort((a, b) =>
    a.alias.localeCompare(b.alias),
  );
  const collections = [...defs, ...extras.resources];
  const versions = (href: string) => ({
    versions: [{ id: 'v2.0', status: 'CURRENT', links: [{ href: `${href}/v2.0/`, rel: 'self' }] }],
  });
  app.get('/', async (req) => versions(hrefBase(req)));
  const resources = async (req: Parameters<typeof hrefBase>[0]) => {
    contextOf(deps, req);
    return {
      resources: collections.map((d) => ({
        name: d.singular,
        collection: d.plural,
        links: [{ href: `${hrefBase(req)}/v2.0/${d.path}`, rel: 'self' }],
      })),
    };
  };
  app.get('/v2.0', resources);
  app.get('/v2.0/extensions', async (req) => {
    contextOf(deps, req);
    return { extensions: allExtensions.map(extension) };
  });
  app.get<{ Params: { alias: string } }>('/v2.0/extensions/:alias', async (req) => {
    contextOf(deps, req);
    const e = allExtensions.find((x) => x.alias === req.params.alias);
    if (!e) throw faults.resourceNotFound(req.url);
    return { extension: extension(e) };
  });
}
