/**
 * The lab's L3 (`lab up`, unless `--no-router`): an external network per cloud holding the top /27
 * of the cloud's workload range (the internet already routes that range to the cloud's hyperswitch),
 * one router on every tenant subnet (`--networks`) with a gateway in every cloud, ICMP and SSH let in to the tenant's
 * default group, a floating IP on the first VM, and an "external host" namespace on the internet
 * (203.0.113.254) standing for the outside world. Addresses are documentation ranges only.
 */
import type { ApiClient } from '../client/api.js';
import type { Exec } from '../common/exec.js';
import { bigIntToIp, parseCidr } from '../model/grammar/addresses.js';
import type { FloatingIp, Network, Port, Router, Subnet } from '../model/types.js';
import { addNetns, addVethPair } from './netns.js';
import type { LabPlan } from './plan.js';
import type { LabL3Record, LabNetworkRecord, LabState } from './state.js';

/** The lab's external host namespace (made by buildExternalHost). */
export const externalHostNs = (plan: LabPlan): string => `${plan.prefix}ext`;

/** The external host: a /30 on its own link to the internet (203.0.113.0/24 is no cloud's with ≤ 2 clouds). */
export const EXTERNAL_HOST = { ip: '203.0.113.254', peer: '203.0.113.253', prefixLen: 30 };

/** A cloud's external CIDR: the top /27 of its workload half, when that half is a /25 or larger. */
export function externalCidr(workloadCidr: string): string | null {
  const c = parseCidr(workloadCidr);
  if (c.prefix > 25) return null;
  return `${bigIntToIp(c.last - 31n, 4)}/27`;
}

/** Why the lab cannot have its external host (null when it can). */
export function externalHostProblem(plan: LabPlan): string | null {
  if (plan.agentless) return 'agentless VMs use 203.0.113.0/24';
  if (plan.clouds.length > 2) return 'more than 2 clouds use 203.0.113.0/24';
  if (plan.vpc && plan.clouds.length > 1) return 'the vpc cloud uses 203.0.113.0/24';
  return null;
}

export async function buildExternalHost(exec: Exec, plan: LabPlan): Promise<string> {
  const ns = externalHostNs(plan);
  const h = EXTERNAL_HOST;
  await addNetns(exec, ns);
  await addVethPair(exec, plan.internetNs, 'to-ext', ns, 'eth0');
  await exec('ip', ['-n', plan.internetNs, 'addr', 'add', `${h.peer}/${h.prefixLen}`, 'dev', 'to-ext']);
  await exec('ip', ['-n', plan.internetNs, 'link', 'set', 'to-ext', 'up']);
  await exec('ip', ['-n', ns, 'addr', 'add', `${h.ip}/${h.prefixLen}`, 'dev', 'eth0']);
  await exec('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
  await exec('ip', ['-n', ns, 'route', 'add', 'default', 'via', h.peer]);
  return ns;
}

/** The lab's tenant networks with their subnets (a lab.json from before `--networks` has one). */
export function labNetworks(state: LabState): LabNetworkRecord[] {
  if (state.networks?.length) return state.networks;
  if (!state.networkId || !state.subnetId) return [];
  return [{ name: 'hyper-net', cidr: state.plan.hyperCidr, networkId: state.networkId, subnetId: state.subnetId }];
}

/** Builds the lab's L3 through the API (admin) and records it in the state. */
export async function setUpLabRouter(api: ApiClient, exec: Exec, state: LabState): Promise<LabL3Record> {
  const plan = state.plan;
  if (!labNetworks(state).length) throw new Error('the lab has no tenant subnet');
  const gateways: { network_id: string }[] = [];
  for (const c of plan.clouds) {
    const cidr = externalCidr(c.workloadCidr);
    if (!cidr) continue;
    const net = await api.create<Network>('networks', 'network', {
      name: `ext-${c.label}`,
      'router:external': true,
      'hypernet:cloud': c.label,
    });
    await api.create<Subnet>('subnets', 'subnet', {
      network_id: net.id,
      cidr,
      enable_dhcp: false,
      name: `ext-${c.label}`,
    });
    gateways.push({ network_id: net.id });
  }
  const router = await api.create<Router>('routers', 'router', { name: 'lab-router' });
  const tenants = labNetworks(state);
  // One after the other: each interface bumps the router's revision.
  for (const n of tenants)
    await api.call('PUT', `/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: n.subnetId });
  if (gateways.length)
    await api.call('PUT', `/v2.0/routers/${router.id}/add_external_gateways`, {
      router: { external_gateways: gateways },
    });
  // The default group admits only its own members: let ping and SSH in from outside, as tempest does.
  const first = state.vms.find((v) => plan.clouds.some((c) => c.hostId === v.hostId));
  const port = first ? await api.show<Port>('ports', 'port', first.portId) : null;
  for (const rule of [{ protocol: 'icmp' }, { protocol: 'tcp', port_range_min: 22, port_range_max: 22 }]) {
    if (!port?.security_groups[0]) break;
    await api.create('security-group-rules', 'security_group_rule', {
      security_group_id: port.security_groups[0],
      direction: 'ingress',
      ethertype: 'IPv4',
      remote_ip_prefix: '0.0.0.0/0',
      ...rule,
    });
  }
  const gwPorts = await api.list<Port>('ports', { device_id: router.id, device_owner: 'network:router_gateway' });
  const nets = (await api.list<Network>('networks')).filter((n) => n['router:external']);
  const cloudOf = (id: string) => nets.find((n) => n.id === id)?.['hypernet:cloud'] ?? '';
  const ifPorts = await api.list<Port>('ports', { device_id: router.id, device_owner: 'network:router_interface' });
  const interfaces = tenants.flatMap((n) =>
    ifPorts
      .flatMap((p) => p.fixed_ips.filter((f) => f.subnet_id === n.subnetId))
      .map((f) => ({
        ip: f.ip_address,
        network: n.name,
        cidr: n.cidr,
      })),
  );
  const record: LabL3Record = {
    routerId: router.id,
    interfaces,
    gateways: gwPorts.map((p) => ({ cloud: cloudOf(p.network_id), ip: p.fixed_ips[0]?.ip_address ?? '' })),
    floatingips: [],
    externalHost: null,
  };
  const firstCloud = first ? plan.clouds.find((c) => c.hostId === first.hostId) : undefined;
  const fipNet = gateways.find((g) => cloudOf(g.network_id) === firstCloud?.label);
  if (first && fipNet) {
    const fip = await api.create<FloatingIp>('floatingips', 'floatingip', {
      floating_network_id: fipNet.network_id,
      port_id: first.portId,
    });
    record.floatingips.push({ vm: first.name, ip: fip.floating_ip_address, fixedIp: first.ip });
  }
  if (!externalHostProblem(plan))
    record.externalHost = { ns: await buildExternalHost(exec, plan), ip: EXTERNAL_HOST.ip };
  state.l3 = record;
  return record;
}
