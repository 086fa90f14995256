/**
 * What the dashboard shows of routers and floating IPs, as plain rows: per router its gateways (one
 * per cloud), interfaces and extra routes; per floating IP its address, port, fixed IP, cloud,
 * router and status. Pure (no DOM), built with the model's L3 index, so it is unit tested under Node.
 */
import { buildL3Index } from '../../model/l3-index.js';
import type { FloatingIp, Network, Port, Router, Subnet } from '../../model/types.js';

export interface L3Tables {
  networks: readonly Network[];
  subnets: readonly Subnet[];
  ports: readonly Port[];
  routers: readonly Router[];
  floatingips: readonly FloatingIp[];
}

export interface GatewayRow {
  cloud: string;
  network: string;
  addresses: string;
  snat: boolean;
}

export interface InterfaceRow {
  subnet: string;
  address: string;
  network: string;
}

export interface RouterView {
  id: string;
  name: string;
  status: string;
  adminUp: boolean;
  gateways: GatewayRow[];
  interfaces: InterfaceRow[];
  routes: string[];
}

export interface FloatingIpRow {
  id: string;
  address: string;
  port: string;
  fixedIp: string;
  cloud: string;
  router: string;
  status: string;
}

const nameOr = (o: { name: string; id: string } | undefined, id: string) => o?.name || o?.id || id;
const byName = (a: { name: string; id: string }, b: { name: string; id: string }) =>
  (a.name || a.id).localeCompare(b.name || b.id);

export function routerViews(t: L3Tables): RouterView[] {
  const networks = new Map(t.networks.map((n) => [n.id, n]));
  const subnets = new Map(t.subnets.map((s) => [s.id, s]));
  const index = buildL3Index({
    networks,
    ports: new Map(t.ports.map((p) => [p.id, p])),
    floatingips: new Map(t.floatingips.map((f) => [f.id, f])),
  });
  return [...t.routers].sort(byName).map((r) => ({
    id: r.id,
    name: r.name || r.id,
    status: r.status,
    adminUp: r.admin_state_up,
    gateways: r.external_gateways
      .map((g) => ({
        cloud: networks.get(g.network_id)?.['hypernet:cloud'] || '—',
        network: nameOr(networks.get(g.network_id), g.network_id),
        addresses: g.external_fixed_ips.map((f) => f.ip_address).join(', '),
        snat: g.enable_snat,
      }))
      .sort((a, b) => a.cloud.localeCompare(b.cloud)),
    interfaces: (index.interfacesByRouter.get(r.id) ?? []).flatMap((p) =>
      p.fixed_ips.map((f) => {
        const s = subnets.get(f.subnet_id);
        return {
          subnet: s ? `${s.name ? `${s.name} ` : ''}${s.cidr}` : f.subnet_id,
          address: f.ip_address,
          network: nameOr(networks.get(p.network_id), p.network_id),
        };
      }),
    ),
    routes: r.routes.map((x) => `${x.destination} via ${x.nexthop}`),
  }));
}

export function floatingIpRows(t: L3Tables): FloatingIpRow[] {
  const networks = new Map(t.networks.map((n) => [n.id, n]));
  const ports = new Map(t.ports.map((p) => [p.id, p]));
  const routers = new Map(t.routers.map((r) => [r.id, r]));
  return [...t.floatingips]
    .sort((a, b) => a.floating_ip_address.localeCompare(b.floating_ip_address, 'en', { numeric: true }))
    .map((f) => ({
      id: f.id,
      address: f.floating_ip_address,
      port: f.port_id ? nameOr(ports.get(f.port_id), f.port_id) : '—',
      fixedIp: f.fixed_ip_address ?? '—',
      cloud: networks.get(f.floating_network_id)?.['hypernet:cloud'] || '—',
      router: f.router_id ? nameOr(routers.get(f.router_id), f.router_id) : '—',
      status: f.status,
    }));
}
