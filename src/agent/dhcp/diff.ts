/**
 * diffDhcp: pure. Compares the desired DHCP servers with what the driver found and says, per
 * network, what to create, fix, write, and whether dnsmasq must start, restart (config or address
 * changed) or only reload (hosts changed: SIGHUP). A dnsmasq already running with the same config
 * and command line is adopted untouched, so an agent restart causes no DHCP gap. Leases of MAC/IP
 * pairs that left the hosts file are listed for release (see leases.ts).
 */
import { staleLeases } from './leases.js';
import type {
  DhcpActual,
  DhcpDesired,
  DhcpNetworkActual,
  DhcpNetworkPlan,
  DhcpPlan,
  DhcpProcessAction,
} from './types.js';

export function diffDhcp(desired: DhcpDesired, actual: DhcpActual): DhcpPlan {
  const byVni = new Map<number, DhcpNetworkActual>(actual.networks.map((a) => [a.vni, a]));
  const bridges = new Set(actual.bridges);
  const networks: DhcpNetworkPlan[] = desired.networks.map((d) => {
    const a = byVni.get(d.vni);
    const nsVeth = a?.vethNs ?? null;
    const nodeVeth = a?.vethNode ?? null;
    const createNetns = !a?.netnsExists;
    const createVeth = createNetns || !nsVeth || !nodeVeth;
    const configureVeth =
      createVeth ||
      nsVeth!.mac !== d.mac ||
      nsVeth!.mtu !== d.mtu ||
      !nsVeth!.up ||
      nodeVeth!.master !== d.bridge ||
      nodeVeth!.mtu !== d.mtu ||
      !nodeVeth!.up;
    const have = new Set(createVeth ? [] : nsVeth!.addresses);
    const addAddresses = d.addresses.filter((x) => !have.has(x));
    const delAddresses = [...have].filter((x) => !d.addresses.includes(x)).sort();
    const writeConf = a?.confText !== d.confText;
    const writeHosts = a?.hostsText !== d.hostsText;
    let process: DhcpProcessAction = 'none';
    if (!a?.pid) process = 'start';
    else if (createNetns || createVeth || writeConf || !a.cmdlineMatches || addAddresses.length || delAddresses.length)
      process = 'restart';
    else if (writeHosts) process = 'reload';
    return {
      vni: d.vni,
      networkId: d.networkId,
      bridgeMissing: !bridges.has(d.bridge),
      createNetns,
      createVeth,
      configureVeth,
      addAddresses,
      delAddresses,
      writeConf,
      writeHosts,
      process,
      releaseLeases: staleLeases(a?.leasesText ?? null, d.hostsText),
    };
  });
  const wanted = new Set(desired.networks.map((d) => d.vni));
  const remove = actual.networks
    .map((a) => a.vni)
    .filter((v) => !wanted.has(v))
    .sort((x, y) => x - y);
  return { networks, remove };
}
