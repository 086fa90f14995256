/**
 * The metadata trees cloud-init reads, answered from one port's facts: the OpenStack tree
 * (`/openstack/<version>/meta_data.json`, `user_data`, `network_data.json`) and the EC2 tree
 * (`/<version>/meta-data/…`, `user-data`). Pure: path and facts in, status and body out.
 */
import ipaddr from 'ipaddr.js';
import type { Instance, Port, Subnet } from '../../model/types.js';

/** What one request is answered from: the caller's port, its instance (if stored), subnets, floating IP. */
export interface MetadataFacts {
  port: Port;
  instance: Instance | undefined;
  subnets: readonly Subnet[];
  mtu: number;
  floatingIp: string | null;
}

export interface MetadataAnswer {
  status: number;
  type: string;
  body: string;
}

/** Nova's OpenStack versions (all served alike). */
const OPENSTACK_VERSIONS = ['2012-08-10', '2013-04-04', '2013-10-17', '2015-10-15', '2016-06-30', '2018-08-27'];
const EC2_VERSIONS = ['1.0', '2007-01-19', '2009-04-04'];

const text = (body: string): MetadataAnswer => ({ status: 200, type: 'text/plain; charset=utf-8', body });
const json = (v: unknown): MetadataAnswer => ({ status: 200, type: 'application/json', body: JSON.stringify(v) });
const NOT_FOUND: MetadataAnswer = { status: 404, type: 'text/plain; charset=utf-8', body: 'Not Found\n' };

const uuidOf = (f: MetadataFacts): string => f.instance?.device_id ?? f.port.device_id;
/** The instance's host name, else Neutron's default DNS name of a port (`host-` + dashed address). */
function hostnameOf(f: MetadataFacts): string {
  if (f.instance) return f.instance.hostname;
  const ip = f.port.fixed_ips[0]?.ip_address;
  return ip ? `host-${ip.replace(/[.:]/g, '-')}` : f.port.id;
}
const keysOf = (f: MetadataFacts): [string, string][] => Object.entries(f.instance?.public_keys ?? {}).sort();
const firstIpv4 = (f: MetadataFacts): string | undefined =>
  f.port.fixed_ips.find((i) => ipaddr.IPv4.isValidFourPartDecimal(i.ip_address))?.ip_address;

function metaDataJson(f: MetadataFacts): unknown {
  const keys = keysOf(f);
  return {
    uuid: uuidOf(f),
    name: f.instance?.name ?? '',
    hostname: hostnameOf(f),
    project_id: f.port.project_id,
    launch_index: 0,
    public_keys: Object.fromEntries(keys),
    keys: keys.map(([name, data]) => ({ name, type: 'ssh', data })),
    meta: f.instance?.meta ?? {},
  };
}

/** Nova's network_data.json: one link (the port), one network per fixed IP, DNS services. */
function networkDataJson(f: MetadataFacts): unknown {
  const link = `tap${f.port.id.slice(0, 11)}`;
  const networks = f.port.fixed_ips.flatMap((ip, n) => {
    const s = f.subnets.find((x) => x.id === ip.subnet_id);
    if (!s) return [];
    const v4 = s.ip_version === 4;
    const [, prefix] = ipaddr.parseCIDR(s.cidr);
    const netmask = v4 ? ipaddr.IPv4.subnetMaskFromPrefixLength(prefix).toString() : `${prefix}`;
    const routes = [
      ...(s.gateway_ip
        ? [{ network: v4 ? '0.0.0.0' : '::', netmask: v4 ? '0.0.0.0' : '0', gateway: s.gateway_ip }]
        : []),
      ...s.host_routes.map((r) => {
        const [net, len] = ipaddr.parseCIDR(r.destination);
        const mask = v4 ? ipaddr.IPv4.subnetMaskFromPrefixLength(len).toString() : `${len}`;
        return { network: net.toString(), netmask: mask, gateway: r.nexthop };
      }),
    ];
    return [
      {
        id: `network${n}`,
        type: v4 ? 'ipv4' : 'ipv6',
        link,
        ip_address: ip.ip_address,
        netmask,
        routes,
        network_id: f.port.network_id,
        services: s.dns_nameservers.map((address) => ({ type: 'dns', address })),
      },
    ];
  });
  const dns = [...new Set(f.subnets.flatMap((s) => s.dns_nameservers))];
  return {
    links: [{ id: link, type: 'bridge', ethernet_mac_address: f.port.mac_address, mtu: f.mtu, vif_id: f.port.id }],
    networks,
    services: dns.map((address) => ({ type: 'dns', address })),
  };
}

function openstack(parts: readonly string[], f: MetadataFacts): MetadataAnswer {
  if (parts.length === 0) return text(`${[...OPENSTACK_VERSIONS, 'latest'].join('\n')}\n`);
  if (parts[0] !== 'latest' && !OPENSTACK_VERSIONS.includes(parts[0])) return NOT_FOUND;
  const userData = f.instance?.user_data ?? '';
  if (parts.length === 1) {
    const files = ['meta_data.json', ...(userData ? ['user_data'] : []), 'network_data.json', 'vendor_data.json'];
    return text(`${files.join('\n')}\n`);
  }
  if (parts.length !== 2) return NOT_FOUND;
  switch (parts[1]) {
    case 'meta_data.json':
      return json(metaDataJson(f));
    case 'network_data.json':
      return json(networkDataJson(f));
    case 'vendor_data.json':
      return json({});
    case 'user_data':
      return userData ? { status: 200, type: 'application/octet-stream', body: userData } : NOT_FOUND;
    default:
      return NOT_FOUND;
  }
}

/** The EC2 `meta-data/` tree as nested entries: a string is a leaf, an object a directory. */
function ec2Tree(f: MetadataFacts): Record<string, unknown> {
  const keys = keysOf(f);
  const ip = firstIpv4(f);
  return {
    'ami-launch-index': '0',
    hostname: hostnameOf(f),
    'instance-id': uuidOf(f),
    'local-hostname': hostnameOf(f),
    ...(ip ? { 'local-ipv4': ip } : {}),
    ...(f.floatingIp ? { 'public-ipv4': f.floatingIp } : {}),
    ...(keys.length
      ? { 'public-keys': Object.fromEntries(keys.map(([, data], i) => [String(i), { 'openssh-key': data }])) }
      : {}),
  };
}

/** A directory listing as EC2 writes it: sub-directories end with '/', public keys are `N=name`. */
function listing(dir: Record<string, unknown>, names?: readonly string[]): string {
  const lines = Object.entries(dir).map(([k, v], i) =>
    names ? `${k}=${names[i]}` : typeof v === 'string' ? k : `${k}/`,
  );
  return `${lines.join('\n')}\n`;
}

function ec2(parts: readonly string[], f: MetadataFacts): MetadataAnswer {
  if (parts.length === 0) return text(`${[...EC2_VERSIONS, 'latest'].join('\n')}\n`);
  if (parts[0] !== 'latest' && !EC2_VERSIONS.includes(parts[0])) return NOT_FOUND;
  const userData = f.instance?.user_data ?? '';
  if (parts.length === 1) return text(`meta-data/\n${userData ? 'user-data\n' : ''}`);
  if (parts[1] === 'user-data' && parts.length === 2)
    return userData ? { status: 200, type: 'application/octet-stream', body: userData } : NOT_FOUND;
  if (parts[1] !== 'meta-data') return NOT_FOUND;
  let node: unknown = ec2Tree(f);
  for (const p of parts.slice(2)) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, p)) return NOT_FOUND;
    node = (node as Record<string, unknown>)[p];
  }
  if (typeof node === 'string') return text(node);
  const dir = node as Record<string, unknown>;
  const keyNames = parts.length === 3 && parts[2] === 'public-keys' ? keysOf(f).map(([n]) => n) : undefined;
  return text(listing(dir, keyNames));
}

/** The answer for a path below the metadata prefix (`openstack/latest/meta_data.json`, `latest/meta-data/`…). */
export function metadataAnswer(path: string, f: MetadataFacts): MetadataAnswer {
  const parts = path
    .split('?')[0]
    .split('/')
    .filter((p) => p !== '');
  if (parts[0] === 'openstack') return openstack(parts.slice(1), f);
  return ec2(parts, f);
}
