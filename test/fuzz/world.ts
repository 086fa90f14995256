/**
 * The starting model every fuzz file works on: for each tenant (pa, pb) two private networks with
 * IPv4 (the same CIDRs in both tenants) and IPv6 subnets, a security group with a few rules (one
 * with a remote group), ports on both networks, a subnet pool; an admin-owned shared network and a
 * shared network owned by tenant pb, with a port of each tenant; an admin's shared default subnet pool
 * per IP version; an external network with a router of each tenant on it; one registered agent and a
 * HyperVM node (`hypervm` capability, cloud `lab`); an active image of tenant pa (private) and a public
 * one of the admin, with fixed ids (IMAGES), for hypervms to launch. Built through the API by admin.
 * Projects ops, pa and pb get room for more security groups and rules than Neutron's defaults (10 and
 * 100), so a run's many accepted creates are not all OverQuota; tenant pc keeps the defaults and meets them.
 */
import { ApiClient } from '../../src/client/api.js';
import type { Network, SecurityGroup, Subnet } from '../../src/model/types.js';
import type { TestServer } from '../server/helpers.js';
import { buildLayout, pushTar } from '../server/image-fixtures.js';
import { HOST } from './agent-check.js';

/** The world's images by id: pa's private one and the admin's public one. */
export const IMAGES = { pa: 'f0e1d2c3-0000-4000-8000-00000000000a', public: 'f0e1d2c3-0000-4000-8000-00000000000b' };
/** The HyperVM node of the world (cloud `lab`). */
export const HYPERVM_HOST = 'fz-hv';

export async function seedWorld(s: TestServer): Promise<void> {
  const admin = new ApiClient({ url: s.url, token: 'ADMIN' });
  const net = (body: Record<string, unknown>) => admin.create<Network>('networks', 'network', body);
  const subnet = (body: Record<string, unknown>) => admin.create<Subnet>('subnets', 'subnet', body);
  const port = (body: Record<string, unknown>) => admin.create('ports', 'port', body);
  await admin.create('agents', 'agent', {
    host: HOST,
    agent_type: 'hypernet agent',
    configurations: { tunneling_ip: '192.0.2.10', cloud: 'lab', underlay_mtu: 1500, capabilities: [] },
  });
  await admin.create('agents', 'agent', {
    host: HYPERVM_HOST,
    agent_type: 'hypernet agent',
    configurations: {
      tunneling_ip: '192.0.2.11',
      cloud: 'lab',
      underlay_mtu: 1500,
      capabilities: ['vxlan', 'dhcp', 'hypervm'],
    },
  });
  for (const [id, owner, visibility] of [
    [IMAGES.pa, 'pa', 'private'],
    [IMAGES.public, 'ops', 'public'],
  ]) {
    const { upload } = await pushTar(s, 'ADMIN', buildLayout({ content: `${owner}\n` }).tar, { id, owner, visibility });
    if (upload.status !== 204) throw new Error(`upload of image ${id}: ${upload.status}`);
  }
  for (const project of ['ops', 'pa', 'pb']) {
    const r = await admin.raw('PUT', `/v2.0/quotas/${project}`, {
      quota: { security_group: 60, security_group_rule: 500 },
    });
    if (r.status !== 200) throw new Error(`setting the quota of ${project}: ${r.status}`);
  }
  // An external network with room for gateways and floating IPs, and a router of each tenant on it.
  const ext = await net({ name: 'ext', 'router:external': true, 'hypernet:cloud': 'lab', project_id: 'ops' });
  await subnet({ network_id: ext.id, cidr: '203.0.113.0/24', enable_dhcp: false, project_id: 'ops' });
  for (const project_id of ['pa', 'pb'])
    await admin.create('routers', 'router', {
      name: `${project_id}-r`,
      project_id,
      external_gateway_info: { network_id: ext.id },
    });
  const shared = await net({ name: 'public', shared: true, project_id: 'ops' });
  await subnet({ network_id: shared.id, cidr: '10.50.0.0/24', project_id: 'ops' });
  const pbShared = await net({ name: 'pb-shared', shared: true, project_id: 'pb' });
  await subnet({ network_id: pbShared.id, cidr: '10.60.0.0/24', project_id: 'pb' });
  const pool = (body: Record<string, unknown>) => admin.create('subnetpools', 'subnetpool', body);
  await pool({ name: 'dflt4', prefixes: ['10.128.0.0/12'], default_prefixlen: 26, shared: true, is_default: true });
  await pool({ name: 'dflt6', prefixes: ['2001:db8:80::/41'], shared: true, is_default: true });
  for (const project_id of ['pa', 'pb']) {
    await pool({ name: `${project_id}-pool`, prefixes: ['10.96.0.0/16'], min_prefixlen: 24, project_id });
    const sg = await admin.create<SecurityGroup>('security-groups', 'security_group', { name: 'web', project_id });
    const rule = (body: Record<string, unknown>) =>
      admin.create('security-group-rules', 'security_group_rule', { security_group_id: sg.id, project_id, ...body });
    await rule({ direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22 });
    await rule({ direction: 'ingress', protocol: 'icmp', remote_ip_prefix: '192.0.2.0/24' });
    await rule({ direction: 'ingress', remote_group_id: sg.id, ethertype: 'IPv6' });
    for (const [i, cidr] of ['10.0.0.0/24', '10.1.0.0/24'].entries()) {
      const n = await net({ name: `${project_id}-net${i}`, project_id });
      await subnet({ network_id: n.id, cidr, project_id });
      await subnet({ network_id: n.id, cidr: `2001:db8:${i}::/64`, project_id });
      await port({ network_id: n.id, project_id, security_groups: [sg.id] });
      await port({ network_id: n.id, project_id, 'binding:host_id': HOST });
    }
    await port({ network_id: shared.id, project_id });
    await port({ network_id: pbShared.id, project_id });
  }
}
