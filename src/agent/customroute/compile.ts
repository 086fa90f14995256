/**
 * Pure: (this node, the watched model) → the custom-route state it should hold. A port is served here
 * when its active binding is this host and its `binding:profile` has a custom-route binding that
 * passes the shared grammar again (the API checked it; an older server or a hand edit may not have).
 *
 * Per port, both modes: `hcr<id>` answers ARP for the hyper IP (a proxy entry: it holds no address,
 * so the hyper IP is never delivered locally), and knows the network's other ports as permanent
 * neighbours, so it never sends an ARP request, whose sender address anti-spoofing on the tap would
 * refuse. The port's table sends the hyper subnets out of `hcr<id>` and the hyper IP to the VM; rules
 * lead into it packets from the VM's source (its VPC address in `instead`, its hyper IP in
 * `in-addition`) and packets in from `hcr<id>` to the hyper IP (so proxy ARP finds the VM).
 * `instead` adds the 1:1 NAT: to the hyper IP from `hcr<id>` → the VPC address, and back.
 */
import { createHash } from 'node:crypto';
import type { ModelView } from '../../model/model-cache.js';
import { customRouteOf } from '../../model/custom-route.js';
import { BRIDGE_PREFIX, CUSTOM_ROUTE_SHIM_PREFIX, customRouteShimName, tapName } from '../../model/kernel-names.js';
import { isMac } from '../../model/grammar/mac.js';
import { isIp } from '../../model/grammar/addresses.js';
import { CR_NFT_TABLE, CR_TABLE_BASE, CR_TABLE_SLOTS, type CrDesired, type CrObject, type CrPort } from './types.js';

/** FNV-1a of the port id: its table's preferred slot, stable while the port lives. */
function slotOf(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193) >>> 0;
  return h % CR_TABLE_SLOTS;
}

export function compileCustomRoutes(host: string, model: ModelView): CrDesired {
  const errors = new Map<string, string>();
  const ports: CrPort[] = [];
  const taken = new Set<number>();
  // Zones from the top down, skipping those the firewall gives networks (their VNI's low 16 bits).
  const vniZones = new Set([...model.networks.values()].map((n) => Number(n['provider:segmentation_id']) & 0xffff));
  let zone = 0x10000;
  const nextZone = (): number => {
    do zone--;
    while (vniZones.has(zone));
    return zone;
  };
  const sorted = [...model.ports.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  for (const p of sorted) {
    if (p['binding:host_id'] !== host) continue;
    let b: ReturnType<typeof customRouteOf>;
    try {
      b = customRouteOf(p['binding:profile']);
    } catch (e) {
      errors.set(p.id, (e as Error).message);
      continue;
    }
    if (!b) continue;
    const hyperIp = p.fixed_ips.map((f) => f.ip_address).find((ip) => isIp(ip, 4));
    if (!hyperIp) {
      errors.set(p.id, 'a custom-route port needs an IPv4 fixed IP');
      continue;
    }
    if (!isMac(p.mac_address)) {
      errors.set(p.id, `bad MAC ${p.mac_address}`);
      continue;
    }
    let slot = slotOf(p.id);
    while (taken.has(slot)) slot = (slot + 1) % CR_TABLE_SLOTS;
    taken.add(slot);
    const subnets = [...model.subnets.values()]
      .filter((s) => s.network_id === p.network_id && isIp(s.cidr.split('/')[0], 4))
      .map((s) => s.cidr)
      .sort();
    const neighbours = [...model.ports.values()]
      .filter((o) => o.network_id === p.network_id && o.id !== p.id && isMac(o.mac_address))
      .flatMap((o) =>
        o.fixed_ips
          .filter((f) => isIp(f.ip_address, 4))
          .map((f) => ({ ip: f.ip_address, mac: o.mac_address.toLowerCase() })),
      )
      .sort((x, y) => (x.ip < y.ip ? -1 : x.ip > y.ip ? 1 : 0));
    ports.push({
      portId: p.id,
      tap: tapName(p.id),
      shim: customRouteShimName(p.id),
      mac: p.mac_address.toLowerCase(),
      mtu: model.networks.get(p.network_id)?.mtu ?? 1450,
      mode: b.mode,
      vpcIp: b.vpc_ip,
      hyperIp,
      table: CR_TABLE_BASE + slot,
      zone: nextZone(),
      subnets,
      neighbours,
    });
  }
  const objects = ports.flatMap(objectsOf);
  const nft = ports.length ? renderNat(ports) : null;
  return { ports, objects, nft, nftTag: nft === null ? '' : tagOf(nft), errors };
}

function objectsOf(p: CrPort): CrObject[] {
  const src = p.mode === 'instead' ? p.vpcIp : p.hyperIp;
  return [
    { kind: 'link', key: p.shim, shim: p.shim, tap: p.tap, mac: p.mac, mtu: p.mtu, up: true },
    { kind: 'proxy', key: `${p.hyperIp} ${p.shim}`, ip: p.hyperIp, dev: p.shim },
    ...p.neighbours.map(
      (n): CrObject => ({ kind: 'neigh', key: `${n.ip} ${p.shim}`, ip: n.ip, dev: p.shim, mac: n.mac }),
    ),
    ...p.subnets.map((c): CrObject => ({ kind: 'route', key: `${p.table} ${c}`, table: p.table, dst: c, dev: p.shim })),
    { kind: 'route', key: `${p.table} ${p.hyperIp}`, table: p.table, dst: p.hyperIp, via: p.vpcIp },
    { kind: 'rule', key: `from ${src} ${p.table}`, sel: 'from', ip: src, table: p.table },
    { kind: 'rule', key: `to ${p.hyperIp} ${p.table}`, sel: 'to', ip: p.hyperIp, table: p.table, iif: p.shim },
  ];
}

/** The NAT table's text, without its comment (the tag is the digest of this text). */
function renderNat(ports: CrPort[]): string {
  const instead = ports.filter((p) => p.mode === 'instead');
  return [
    '  chain zone {',
    '    type filter hook prerouting priority raw; policy accept;',
    ...ports.flatMap((p) => [
      `    iifname "${p.shim}" ct zone set ${p.zone}`,
      // Only routed packets from the VPC side: bridged ones (br_netfilter shows them with the bridge's
      // name) keep the firewall's zone of their network.
      `    iifname != "${CUSTOM_ROUTE_SHIM_PREFIX}*" iifname != "${BRIDGE_PREFIX}*" ip saddr ${p.mode === 'instead' ? p.vpcIp : p.hyperIp} ct zone set ${p.zone}`,
    ]),
    '  }',
    '  chain pre {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    ...instead.map((p) => `    iifname "${p.shim}" ip daddr ${p.hyperIp} dnat to ${p.vpcIp}`),
    '  }',
    '  chain post {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    ...instead.map((p) => `    oifname "${p.shim}" ip saddr ${p.vpcIp} snat to ${p.hyperIp}`),
    '  }',
  ].join('\n');
}

const tagOf = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** The nft script that replaces the table with `body` (tagged), or deletes it (`body` null). */
export function natScript(body: string | null, tag: string): string {
  const head = [`table ip ${CR_NFT_TABLE} {}`, `delete table ip ${CR_NFT_TABLE}`];
  if (body === null) return `${head.join('\n')}\n`;
  return [...head, `table ip ${CR_NFT_TABLE} {`, `  comment "${tag}"`, body, '}', ''].join('\n');
}
