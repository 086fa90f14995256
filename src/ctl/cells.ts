/**
 * How one attribute value is shown in a table cell (CLI tables and dashboard tables alike):
 * lists joined, fixed IPs as addresses, objects as compact JSON, null as empty.
 * Pure; no Node or browser APIs, so the dashboard bundles it too.
 */

export function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v !== 'object' || v === null)) return value.map(cellText).join(', ');
    return value.map((v) => cellText(v)).join('\n');
  }
  if (typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.ip_address === 'string') return o.subnet_id ? `${o.ip_address} (${o.subnet_id})` : o.ip_address;
    if (typeof o.start === 'string' && typeof o.end === 'string') return `${o.start}-${o.end}`;
    return JSON.stringify(value);
  }
  return String(value);
}

/** Just the addresses of a port's fixed IPs ("hyper IPs"), comma separated. */
export function addressesText(fixedIps: unknown): string {
  if (!Array.isArray(fixedIps)) return '';
  return fixedIps
    .map((f) => (f && typeof f === 'object' ? String((f as { ip_address?: unknown }).ip_address ?? '') : ''))
    .join(', ');
}

/** A security group rule in a few words, e.g. "ingress IPv4 tcp 22 from 0.0.0.0/0". */
export function ruleSummary(r: Record<string, unknown>): string {
  const range =
    r.port_range_min == null
      ? ''
      : r.port_range_min === r.port_range_max
        ? String(r.port_range_min)
        : `${r.port_range_min}-${r.port_range_max ?? ''}`;
  const remote = r.remote_ip_prefix
    ? `${r.direction === 'egress' ? 'to' : 'from'} ${r.remote_ip_prefix}`
    : r.remote_group_id
      ? `group ${r.remote_group_id}`
      : '';
  return [r.direction, r.ethertype, r.protocol ?? 'any', range, remote].filter((x) => x !== '' && x != null).join(' ');
}
