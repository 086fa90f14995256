/**
 * Agentless options (docs/agentless.md, "Configuration") as one zod schema with their defaults.
 * Names stay snake_case, as in the original agentless design, so a config file reads alike. hypernet's
 * additions, marked below: the UDP port range for the per-port OpenVPN servers, and the underlay MTU.
 */
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { FLAVORS, type Flavor } from './agentless.js';
import { isHostName, isWord } from './grammar/words.js';

export { FLAVORS, type Flavor };

const cidr = z.string().refine((s) => {
  try {
    ipaddr.parseCIDR(s);
    return true;
  } catch {
    return false;
  }
}, 'not a CIDR');

export const agentlessConfigSchema = z
  .object({
    /** Provider: aws or openstack (hypernet adds `lab`, the namespace provider). */
    provider: z.enum(['aws', 'openstack', 'lab']).default('openstack'),
    /** One hyperswitch per tenant or per VM. */
    level: z.enum(['tenant', 'vm']).default('tenant'),
    mgnt_network: z.string().default(''),
    mgnt_security_group: z.string().default(''),
    data_network: z.string().default(''),
    data_security_group: z.string().default(''),
    /** CIDRs of the OpenVPN VMs NICs, one per NIC index 0, 1, 2. */
    vms_cidr: z.array(cidr).default(['172.31.192.0/20', '172.31.208.0/20', '172.31.224.0/20']),
    hs_sg_name: z.string().default('hs_sg_vms_123456'),
    vm_sg_name: z.string().default('vm_sg_vms_123456'),
    default_flavor: z.enum(FLAVORS).default('1G'),
    aws_vpc: z.string().default(''),
    aws_access_key_id: z.string().default(''),
    aws_secret_access_key: z.string().default(''),
    aws_region_name: z.string().default(''),
    /** hypernet: the EC2 endpoint URL (empty: the SDK's own, or AWS_ENDPOINT_URL_EC2). */
    aws_endpoint_url: z.string().default(''),
    /** hypernet: the AMI hyperswitches boot (its cloud-init runs the agent from user_data). */
    aws_hs_image_id: z.string().default(''),
    aws_hs_flavor_map: z
      .object({ '0G': z.string(), '1G': z.string(), '10G': z.string() })
      .default({ '0G': 't2.micro', '1G': 'c4.large', '10G': 'c4.xlarge' }),
    /** hypernet: UDP ports of the per-agentless-port OpenVPN servers on a vms IP. */
    vpn_port_min: z.number().int().min(1).max(65535).default(1194),
    vpn_port_max: z.number().int().min(1).max(65535).default(1693),
    /** hypernet: MTU of the provider network the VPN runs over (the VM's NIC). */
    underlay_mtu: z.number().int().min(1280).max(9001).default(1500),
    /** hypernet: the server URL a hyperswitch's agent uses (written into its user_data). */
    agent_server_url: z
      .string()
      .regex(
        /^(https?:\/\/[A-Za-z0-9.:[\]-]+(:[0-9]{1,5})?(\/[A-Za-z0-9._~/-]*)?|unix:\/[A-Za-z0-9._~/-]+)$/,
        'not a URL',
      )
      .default('http://127.0.0.1:9696'),
    /**
     * hypernet: the API token a hyperswitch's agent uses (`--token`, written into its user_data) when
     * the server runs token auth; it needs the admin role. Empty: none (noauth).
     */
    agent_token: z
      .string()
      .refine((t) => t === '' || isWord(t), 'not a plain word')
      .default(''),
    /** hypernet: cloud label the hyperswitch agents register with. */
    cloud: z.string().refine(isHostName, 'not a host name').default('agentless'),
    /**
     * hypernet: the other clouds agentless ports can be created in or moved to (`cloud` of POST/PUT
     * /v2.0/agentlessports): name → options overriding this section's. This section is the cloud `cloud`.
     */
    clouds: z.record(z.string().regex(/^[a-z0-9-]{1,32}$/), z.record(z.string(), z.unknown())).default({}),
    /**
     * hypernet: HyperVMs created in this cloud are launched through its provider, one provider VM each
     * (false: they are scheduled onto the cloud's running `--hypervm` agents).
     */
    hypervm_provider: z.boolean().default(false),
    /** hypernet: the repository URL a provider-launched HyperVM pulls from (default `<agent_server_url>/repository`). */
    hypervm_repository_url: z.string().max(512).default(''),
    /** hypernet, aws: the VPC security group of the cloud's custom-route VMs (made by the controller). */
    custom_route_vm_sg_name: z
      .string()
      .regex(/^[A-Za-z0-9 ._\-:/()#,@[\]+=&;{}!$*]{1,255}$/, 'not a security group name')
      .default('hypernet-custom-route-vms'),
    /** hypernet, aws: the VPC security group of the cloud's custom-route hyperswitch ENIs. */
    custom_route_hs_sg_name: z
      .string()
      .regex(/^[A-Za-z0-9 ._\-:/()#,@[\]+=&;{}!$*]{1,255}$/, 'not a security group name')
      .default('hypernet-custom-route-hyperswitches'),
    /** hypernet, aws: how often the custom-route controller reads the VPC again from EC2 (seconds). */
    custom_route_resync_seconds: z.number().int().min(1).max(86_400).default(60),
    /** lab provider: name prefix of a VM's provider NICs in its namespace (`eth` → eth0…eth2). */
    lab_vm_nic_prefix: z
      .string()
      .regex(/^[a-z]{1,10}$/)
      .default('eth'),
    /** lab provider: directory of its "cloud" record (default: `<server data dir>/lab-provider`). */
    lab_state_dir: z.string().default(''),
    /** lab provider: prefix of the namespaces it creates (hyperswitches; VM namespaces are prefix + device_id). */
    lab_netns_prefix: z
      .string()
      // Upper case as the lab's own prefixes allow (runs sharing a machine told apart by a letter).
      .regex(/^[A-Za-z0-9-]{1,16}$/)
      .default('hnl-'),
    /** lab provider: a VM's namespace is this prefix + its device_id (created when missing). */
    lab_vm_netns_prefix: z.string().default(''),
    /** lab provider: the namespace routing the clouds (the hyperswitch data NICs are plugged into it). */
    lab_internet_ns: z.string().default(''),
    /** lab provider: addresses of the hyperswitch mgnt and data NICs (routed /32s in the internet namespace). */
    lab_data_cidr: cidr.default('203.0.113.0/25'),
  })
  .refine((c) => c.vpn_port_min <= c.vpn_port_max, 'vpn_port_min > vpn_port_max');

export type AgentlessConfig = z.infer<typeof agentlessConfigSchema>;

/** Validates options (e.g. the `agentless:` section of the server config) and fills in defaults. */
export function parseAgentlessConfig(input: unknown): AgentlessConfig {
  return agentlessConfigSchema.parse(input ?? {});
}

/** The provider instance type of a hyperswitch flavor (AWS). */
export function awsInstanceType(config: AgentlessConfig, flavor: Flavor): string {
  return config.aws_hs_flavor_map[flavor];
}
