/**
 * A small L3 model for the pure tests: tenant network n1 (VNI 100) with subnets s1 10.0.1.0/24 and
 * s2 10.0.2.0/24, external networks of cloud-a and cloud-b, router r1 with both subnets and a gateway
 * in each cloud, VMs on hostA (cloud-a) and hostB (cloud-b), optional floating IPs and extra routes.
 */
import type { ModelView } from '../../../src/model/model-cache.js';
import type { FloatingIp, Network, Port, Router } from '../../../src/model/types.js';
import { agent, base, net, port, subnet } from '../../../testkit/model-fixtures.js';
import type { L3Node } from '../../../src/agent/l3/compile.js';

export const R1 = 'f0000000-0000-0000-0000-000000000001';
export const nodeA: L3Node = {
  host: 'hostA',
  underlayIp: '192.0.2.2',
  underlayMtu: 1500,
  cloud: 'cloud-a',
  netnsPrefix: 'hn-',
};

const ext = (id: string, vni: number, cloud: string): Network => ({
  ...net(id, vni),
  'router:external': true,
  'hypernet:cloud': cloud,
});

const ip = (subnet_id: string, ip_address: string) => ({ subnet_id, ip_address });

export interface L3ModelOptions {
  /** Floating IPs: [id, address, port id, fixed address]. */
  fips?: [string, string, string, string][];
  routes?: { destination: string; nexthop: string }[];
  up?: boolean;
  /** Which router interfaces exist (default both). */
  interfaces?: ('s1' | 's2')[];
  snat?: boolean;
  /** Extra VM ports. */
  ports?: Port[];
}

export function l3Model(o: L3ModelOptions = {}): ModelView {
  const ifaces = o.interfaces ?? ['s1', 's2'];
  const ports: Port[] = [
    port('0e100000-0001', 'n1', 'hostA', 'fa:16:3e:00:01:10', []),
    port('0e200000-0002', 'n1', 'hostB', 'fa:16:3e:00:02:20', []),
    ...(o.ports ?? []),
  ];
  ports[0] = { ...ports[0]!, fixed_ips: [ip('s1', '10.0.1.10')] };
  ports[1] = { ...ports[1]!, fixed_ips: [ip('s2', '10.0.2.20')] };
  if (ifaces.includes('s1'))
    ports.push(
      port('a1000000-0001', 'n1', '', 'fa:16:3e:aa:00:01', [], {
        fixed_ips: [ip('s1', '10.0.1.1')],
        device_owner: 'network:router_interface',
        device_id: R1,
      }),
    );
  if (ifaces.includes('s2'))
    ports.push(
      port('a2000000-0002', 'n1', '', 'fa:16:3e:aa:00:02', [], {
        fixed_ips: [ip('s2', '10.0.2.1')],
        device_owner: 'network:router_interface',
        device_id: R1,
      }),
    );
  ports.push(
    port('ba000000-000a', 'exta', '', 'fa:16:3e:bb:00:0a', [], {
      fixed_ips: [ip('sa', '203.0.113.10')],
      device_owner: 'network:router_gateway',
      device_id: R1,
    }),
    port('bb000000-000b', 'extb', '', 'fa:16:3e:bb:00:0b', [], {
      fixed_ips: [ip('sb', '203.0.113.74')],
      device_owner: 'network:router_gateway',
      device_id: R1,
    }),
  );
  const router: Router = {
    ...base,
    id: R1,
    name: 'r1',
    admin_state_up: o.up ?? true,
    status: 'ACTIVE',
    external_gateway_info: null,
    external_gateways: [
      { network_id: 'exta', enable_snat: o.snat ?? true, external_fixed_ips: [] },
      { network_id: 'extb', enable_snat: true, external_fixed_ips: [] },
    ],
    routes: o.routes ?? [],
  };
  const fips: FloatingIp[] = (o.fips ?? []).map(([id, addr, portId, fixed]) => ({
    ...base,
    id,
    floating_ip_address: addr,
    floating_network_id:
      addr.startsWith('203.0.113.') && Number.parseInt(addr.split('.')[3]!, 10) < 64 ? 'exta' : 'extb',
    router_id: R1,
    port_id: portId,
    fixed_ip_address: fixed,
    status: 'ACTIVE',
    port_details: null,
  }));
  const map = <T extends { id: string }>(xs: T[]) => new Map(xs.map((x) => [x.id, x]));
  return {
    revision: 1,
    networks: map([net('n1', 100), ext('exta', 900, 'cloud-a'), ext('extb', 901, 'cloud-b')]),
    subnets: map([
      subnet('s1', 'n1', '10.0.1.0/24', '10.0.1.1'),
      subnet('s2', 'n1', '10.0.2.0/24', '10.0.2.1'),
      subnet('sa', 'exta', '203.0.113.0/26', '203.0.113.1'),
      subnet('sb', 'extb', '203.0.113.64/26', '203.0.113.65'),
    ]),
    ports: map(ports),
    security_groups: new Map(),
    security_group_rules: new Map(),
    agents: map(
      [
        ['ag-a', 'hostA', '192.0.2.2', 'cloud-a'],
        ['ag-a2', 'hostA2', '192.0.2.3', 'cloud-a'],
        ['ag-b', 'hostB', '192.0.2.66', 'cloud-b'],
      ].map(([id, host, ip, cloud]) => {
        const a = agent(id!, host!, ip!);
        return { ...a, configurations: { ...a.configurations, cloud: cloud! } };
      }),
    ),
    routers: map([router]),
    floatingips: map(fips),
    subnetpools: new Map(),
    hypervms: new Map(),
  };
}
