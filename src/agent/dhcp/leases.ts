/**
 * Stale DHCP leases. When a port is deleted its workload sends no DHCPRELEASE (like a VM that nova
 * deletes), so dnsmasq keeps the lease and would refuse the same IP to the next port that IPAM gives
 * it to ("leased to <old MAC>"). Neutron releases such leases with `dhcp_release`; so do we. Pure:
 * which leases no longer match a hosts line.
 */
export interface Lease {
  mac: string;
  ip: string;
}

/** dnsmasq's lease file: `EXPIRY MAC IP HOSTNAME CLIENT-ID` per line (IPv4 leases only here). */
export function parseLeases(text: string): Lease[] {
  const out: Lease[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 3 && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(f[1]) && f[2].includes('.')) {
      out.push({ mac: f[1].toLowerCase(), ip: f[2] });
    }
  }
  return out;
}

/** Leases whose MAC → IP pair is not in the hosts file (`mac,ip` lines, see dnsmasq-conf.ts). */
export function staleLeases(leasesText: string | null, hostsText: string): Lease[] {
  if (!leasesText) return [];
  const wanted = new Set(
    hostsText
      .split('\n')
      .filter(Boolean)
      .map((l) => l.toLowerCase()),
  );
  return parseLeases(leasesText).filter((l) => !wanted.has(`${l.mac},${l.ip}`));
}
