/** The API extensions the L3 resources and the instance store implement, as `/v2.0/extensions` lists them. */
export const L3_EXTENSIONS = [
  {
    alias: 'external-net',
    name: 'Neutron external network',
    description: 'Adds external network attribute to network resource.',
  },
  { alias: 'router', name: 'Neutron L3 Router', description: 'Router abstraction for basic L3 forwarding.' },
  {
    alias: 'ext-gw-mode',
    name: 'Neutron L3 Configurable external gateway mode',
    description: 'Extension of the router abstraction for specifying whether SNAT should occur on the external gateway',
  },
  { alias: 'extraroute', name: 'Neutron Extra Route', description: 'Extra routes configuration for L3 router' },
  {
    alias: 'extraroute-atomic',
    name: 'Atomically add/remove extra routes',
    description: 'Edit extra routes of a router on server side by atomically adding/removing extra routes',
  },
  {
    alias: 'external-gateway-multihoming',
    name: 'External Gateway Multihoming',
    description: 'Allows a router to have several external gateways; hypernet allows one per cloud.',
  },
  {
    alias: 'fip-port-details',
    name: 'Floating IP Port Details Extension',
    description: 'Add port_details attribute to Floating IP resource',
  },
  {
    alias: 'hypernet-cloud',
    name: 'Cloud of an external network',
    description: 'The hypernet:cloud attribute of networks: which cloud an external network is in.',
  },
  {
    alias: 'hypernet-instance',
    name: 'Instance store',
    description: 'What the metadata service serves per device_id: user data, public keys, name, metadata.',
  },
] as const;
