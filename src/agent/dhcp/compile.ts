/**
 * compileDhcp: pure and frozen. From the watched model and this host, the DHCP servers this node must
 * run: one per network that has local ports on a DHCP-enabled IPv4 subnet, answering only those
 * ports' MACs. Ports bound to other hosts never appear, so this node never answers for them.
 */
import ipaddr from 'ipaddr.js';
import { wiredOn } from '../../model/bindings.js';
import type { Network, Port, Subnet } from '../../model/types.js';
import { findDhcpPort } from './dhcp-port.js';
import {
  hostLines,
  joinHostLines,
  renderDnsmasqConf,
  type DhcpHostEntry,
  type DhcpSubnetOptions,
} from './dnsmasq-conf.js';
import { deepFreeze } from '../../common/freeze.js';
import { isCidr, isIp } from '../../model/grammar/addresses.js';
import { isMac } from '../../model/grammar/mac.js';
import { isWord } from '../../model/grammar/words.js';
import { VXLAN_OVERHEAD } from '../../model/vxlan.js';
import { bridgeName, dhcpNetnsName, vethNodeName, vethNsName } from './names.js';
import type { DhcpDesired, DhcpNetworkDesired } from './types.js';

export interface DhcpCompileInput {
  host: string;
  networks: readonly Network[];
  subnets: readonly Subnet[];
  ports: readonly Port[];
  /** MTU of the underlay interface; the overlay (and DHCP option 26) gets 50 less (VXLAN). */
  underlayMtu: number;
  netnsPrefix: string;
  /** Default 86400 (Neutron's dhcp_lease_duration). */
  leaseSeconds?: number;
  /** A network's workload MTU when not underlay − 50 (less on networks crossing encrypted tunnels). */
  mtuOf?: (networkId: string) => number;
  /** The metadata service runs here: each subnet gets a host route (option 121) to 169.254.169.254
   * via the DHCP port, whose namespace serves it (src/agent/metadata/). */
  metadata?: boolean;
}

/** The metadata address's route via the DHCP port's address in the subnet, unless the subnet has one. */
function withMetadataRoute(o: DhcpSubnetOptions, dhcpIp: string | undefined): DhcpSubnetOptions {
  if (!dhcpIp || o.hostRoutes.some((r) => r.destination === '169.254.169.254/32')) return o;
  return { ...o, hostRoutes: [...o.hostRoutes, { destination: '169.254.169.254/32', nexthop: dhcpIp }] };
}

export const DEFAULT_LEASE_SECONDS = 86400;

/** A workload port wired (or prepared as a migration target) on this host, not a network:* service port. */
const isLocalWorkloadPort = (p: Port, host: string): boolean =>
  wiredOn(p, host) && !p.device_owner.startsWith('network:');

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * A port's `MAC,IP` host lines for the served subnets, memoised per port object (ports are
 * replaced, never mutated).
 */
const portLines = new WeakMap<Port, { served: ReadonlySet<string>; lines: readonly string[] }>();
function hostLinesOf(p: Port, served: ReadonlySet<string>): readonly string[] {
  const hit = portLines.get(p);
  if (hit && sameSet(hit.served, served)) return hit.lines;
  const entries: DhcpHostEntry[] = p.fixed_ips
    .filter((f) => served.has(f.subnet_id) && isIp(f.ip_address, 4) && isMac(p.mac_address))
    .map((f) => ({ mac: p.mac_address, ip: f.ip_address }));
  const lines = hostLines(entries);
  portLines.set(p, { served, lines });
  return lines;
}
function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

/**
 * The hosts file of a network's local ports: the last text again when the lines are the same (at
 * 1,000 ports, building, sorting and joining them on every pass was a visible part of a pass).
 * A cache by network id; compileDhcp drops the networks it no longer serves.
 */
const lastHosts = new Map<string, { lines: string[]; text: string }>();
function hostsText(networkId: string, locals: readonly Port[], served: ReadonlySet<string>): string {
  const lines = locals.flatMap((p) => hostLinesOf(p, served));
  const last = lastHosts.get(networkId);
  if (last && last.lines.length === lines.length && last.lines.every((l, i) => l === lines[i])) return last.text;
  const text = joinHostLines(lines);
  lastHosts.set(networkId, { lines, text });
  return text;
}

/** Whether a subnet can go into dnsmasq's config at all: an IPv4 CIDR and an id that is a plain word. */
function servable(net: Network, s: Subnet, problems: string[]): boolean {
  if (isWord(s.id) && isCidr(s.cidr, true) && isIp(s.cidr.split('/')[0], 4)) return true;
  problems.push(`network ${net.id}: subnet ${JSON.stringify(s.id)} has no valid IPv4 CIDR; not served`);
  return false;
}

/**
 * A subnet's DHCP options in the shared grammar: DNS servers, host routes and gateway of another
 * family or form (from an older server) are left out and reported, so dnsmasq never gets a broken config.
 */
function subnetOptions(s: Subnet, problems: string[]): DhcpSubnetOptions {
  const skip = (what: string, v: unknown) => problems.push(`subnet ${s.id}: ${what} ${JSON.stringify(v)} skipped`);
  const dnsServers = s.dns_nameservers.filter((d) => isIp(d, 4) || void skip('DNS server', d));
  const hostRoutes = s.host_routes.filter(
    (r) =>
      (isCidr(r.destination, true) && isIp(r.destination.split('/')[0], 4) && isIp(r.nexthop, 4)) ||
      void skip('host route', r),
  );
  const gatewayIp =
    s.gateway_ip === null || isIp(s.gateway_ip, 4) ? s.gateway_ip : (skip('gateway', s.gateway_ip), null);
  return { id: s.id, cidr: s.cidr, gatewayIp, dnsServers, hostRoutes };
}

export function compileDhcp(input: DhcpCompileInput): DhcpDesired {
  const lease = input.leaseSeconds ?? DEFAULT_LEASE_SECONDS;
  const baseMtu = input.underlayMtu - VXLAN_OVERHEAD;
  const networks: DhcpNetworkDesired[] = [];
  const needsDhcpPort: string[] = [];
  const problems: string[] = [];

  const localByNet = new Map<string, Port[]>();
  for (const p of input.ports) {
    if (!isLocalWorkloadPort(p, input.host)) continue;
    const list = localByNet.get(p.network_id) ?? [];
    list.push(p);
    localByNet.set(p.network_id, list);
  }

  const nets = input.networks
    .filter((n) => localByNet.has(n.id))
    .sort((a, b) => a['provider:segmentation_id'] - b['provider:segmentation_id']);

  for (const net of nets) {
    const mtu = input.mtuOf?.(net.id) ?? baseMtu;
    const vni = net['provider:segmentation_id'];
    const dhcpSubnets = input.subnets
      .filter((s) => s.network_id === net.id && s.enable_dhcp && s.ip_version === 4)
      .sort((a, b) => byString(a.id, b.id));
    const locals = localByNet.get(net.id)!;
    const dhcpIds = new Set(dhcpSubnets.map((s) => s.id));
    if (!locals.some((p) => p.fixed_ips.some((f) => dhcpIds.has(f.subnet_id)))) continue;

    const dhcpPort = findDhcpPort(input.ports, net.id, input.host);
    if (!dhcpPort) {
      needsDhcpPort.push(net.id);
      continue;
    }
    const withPort = dhcpSubnets.filter((s) => dhcpPort.fixed_ips.some((f) => f.subnet_id === s.id));
    for (const s of dhcpSubnets) {
      if (!withPort.includes(s))
        problems.push(`network ${net.id}: DHCP port ${dhcpPort.id} has no IP in subnet ${s.id}`);
    }
    const served = withPort.filter((s) => servable(net, s, problems));
    if (served.length === 0) continue;

    const servedIds = new Set(served.map((s) => s.id));
    const addresses = dhcpPort.fixed_ips
      .filter((f) => servedIds.has(f.subnet_id))
      .map((f) => `${f.ip_address}/${ipaddr.IPv4.parseCIDR(served.find((s) => s.id === f.subnet_id)!.cidr)[1]}`)
      .sort(byString);
    const iface = vethNsName(vni);
    networks.push({
      networkId: net.id,
      portId: dhcpPort.id,
      vni,
      bridge: bridgeName(vni),
      netns: dhcpNetnsName(input.netnsPrefix, vni),
      vethNode: vethNodeName(vni),
      vethNs: iface,
      mac: dhcpPort.mac_address.toLowerCase(),
      addresses,
      mtu,
      confText: renderDnsmasqConf({
        networkId: net.id,
        vni,
        interfaceName: iface,
        mtu,
        leaseSeconds: lease,
        subnets: served.map((s) =>
          withMetadataRoute(
            subnetOptions(s, problems),
            input.metadata ? dhcpPort.fixed_ips.find((f) => f.subnet_id === s.id)?.ip_address : undefined,
          ),
        ),
      }),
      hostsText: hostsText(net.id, locals, servedIds),
    });
  }
  for (const id of lastHosts.keys()) if (!networks.some((n) => n.networkId === id)) lastHosts.delete(id);
  return deepFreeze({
    netnsPrefix: input.netnsPrefix,
    networks,
    needsDhcpPort: needsDhcpPort.sort(byString),
    problems,
  });
}
