/**
 * UDP ports of the per-port OpenVPN servers on a hyperswitch: each agentless port gets the lowest
 * free one of the configured range (`vpn_port_min`..`vpn_port_max`).
 */

/** The lowest UDP port in [min, max] not in `used`. */
export function allocateVpnPort(used: Iterable<number>, min: number, max: number): number {
  const taken = new Set(used);
  for (let p = min; p <= max; p++) if (!taken.has(p)) return p;
  throw new Error(`no free VPN port in ${min}-${max}`);
}
