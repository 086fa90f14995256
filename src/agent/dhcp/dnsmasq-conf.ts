/**
 * Renders dnsmasq's config file and hosts file for one network. Pure text, no I/O. The config holds
 * everything that needs a restart to change (interface, ranges, options); the hosts file holds the
 * MAC → IP lines, which dnsmasq rereads on SIGHUP. Paths (pid, lease, hosts file) go on the command
 * line, so this text depends on the model only.
 */
import ipaddr from 'ipaddr.js';
import type { HostRoute } from '../../model/types.js';

export interface DhcpSubnetOptions {
  id: string;
  cidr: string;
  gatewayIp: string | null;
  dnsServers: readonly string[];
  hostRoutes: readonly HostRoute[];
}

export interface DnsmasqConfInput {
  networkId: string;
  vni: number;
  interfaceName: string;
  mtu: number;
  leaseSeconds: number;
  subnets: readonly DhcpSubnetOptions[];
}

export interface DhcpHostEntry {
  mac: string;
  ip: string;
}

const tag = (subnetId: string): string => `subnet-${subnetId}`;

/** Option 121 list: the subnet's host routes, plus the default route via the gateway, because
 * RFC 3442 clients ignore option 3 (router) when option 121 is present. */
function classlessRoutes(s: DhcpSubnetOptions): string[] {
  if (s.hostRoutes.length === 0) return [];
  const routes = s.hostRoutes.map((r) => `${r.destination},${r.nexthop}`);
  const hasDefault = s.hostRoutes.some((r) => r.destination === '0.0.0.0/0');
  if (s.gatewayIp && !hasDefault) routes.push(`0.0.0.0/0,${s.gatewayIp}`);
  return routes;
}

export function renderDnsmasqConf(c: DnsmasqConfInput): string {
  const lines = [
    `# hypernet DHCP for network ${c.networkId} (VNI ${c.vni}). Generated; do not edit.`,
    'no-resolv',
    'no-hosts',
    'port=0',
    'bind-interfaces',
    `interface=${c.interfaceName}`,
    'dhcp-ignore=tag:!known',
    // The only DHCP server for its ports: answer a REQUEST for a lease another node gave (a migrated
    // workload) at once instead of waiting for the client to fall back to DISCOVER.
    'dhcp-authoritative',
    `dhcp-option=option:mtu,${c.mtu}`,
  ];
  for (const s of c.subnets) {
    const [net, prefix] = ipaddr.IPv4.parseCIDR(s.cidr);
    const start = ipaddr.IPv4.networkAddressFromCIDR(`${net.toString()}/${prefix}`).toString();
    const mask = ipaddr.IPv4.subnetMaskFromPrefixLength(prefix).toString();
    const t = tag(s.id);
    lines.push(`dhcp-range=set:${t},${start},static,${mask},${c.leaseSeconds}s`);
    // An empty value stops dnsmasq from offering itself as router / DNS server.
    lines.push(`dhcp-option=tag:${t},option:router${s.gatewayIp ? `,${s.gatewayIp}` : ''}`);
    lines.push(`dhcp-option=tag:${t},option:dns-server${s.dnsServers.map((d) => `,${d}`).join('')}`);
    const routes = classlessRoutes(s);
    if (routes.length) lines.push(`dhcp-option=tag:${t},option:classless-static-route,${routes.join(',')}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The `MAC,IP` lines of some entries (lower-case MACs), in entry order. */
export const hostLines = (entries: readonly DhcpHostEntry[]): string[] =>
  entries.map((e) => `${e.mac.toLowerCase()},${e.ip}`);

/** The hosts file of some lines: sorted, one per line. */
export function joinHostLines(lines: readonly string[]): string {
  const sorted = [...lines].sort();
  return sorted.length ? `${sorted.join('\n')}\n` : '';
}
