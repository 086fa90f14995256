/**
 * The two API entities of the seed's agentless extension, in wire format (snake_case, as the seed
 * names them). They are provider entities, not Neutron DB rows; the server serves them under
 * `/v2.0/agentlessports` and `/v2.0/hyperswitchs` (to be moved next to src/model/types.ts when wired).
 */

/** Hyperswitch flavors (bandwidth classes). Here, free of zod, so the dashboard can bundle them too. */
export const FLAVORS = ['0G', '1G', '10G'] as const;
export type Flavor = (typeof FLAVORS)[number];

export interface AgentlessPort {
  /** The provider port / network interface id. */
  id: string;
  /** The neutron (hyper) port id. */
  port_id: string;
  flavor: Flavor;
  device_id: string;
  /** NIC index in the VM: 0, 1 or 2. */
  index: 0 | 1 | 2;
  /** Read only: the cloud-init document the provider VM boots with (src/agentless/userdata.ts). */
  user_data: string;
}

export interface Hyperswitch {
  id: string;
  flavor: Flavor;
  device_id: string | null;
  tenant_id: string | null;
  instance_id: string;
  instance_type: string;
  private_ip: string;
  mgnt_ip: string;
  data_ip: string;
  vms_ip_0: string | null;
  vms_ip_1: string | null;
  vms_ip_2: string | null;
}
