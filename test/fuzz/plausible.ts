/**
 * Plausible requests for the fuzz suite: what a real client (a tenant, or the admin acting as the
 * agent or operator) sends, built from valid building blocks so that most are accepted and the
 * model the agent compiles keeps growing: real ids of existing objects (symbolic refs, resolved at
 * send time; a subnet or address that fits the network or subnet named alongside), CIDRs of both
 * families down to the smallest usable prefixes, DNS servers, host routes, allocation pools,
 * address pairs and fixed IPs, rules with every protocol of the grammar and fitting port ranges,
 * port security toggles, device owners and bindings to the agent-check host. Each field sometimes
 * takes an adversarial value instead (`mut`), so near-misses probe the validation one field at a time.
 */
import fc from 'fast-check';
import { bigIntToIp } from '../../src/model/grammar/addresses.js';
import {
  IP_PROTOCOLS,
  ICMP_PROTOCOLS,
  IPV6_ONLY_PROTOCOLS,
  PORT_PROTOCOLS,
} from '../../src/model/grammar/protocols.js';
import { HOST } from './agent-check.js';
import { PROJECT_OF, type Who } from './harness.js';
import { IMAGES } from './world.js';
import { addr, ref, refOn, type Ref } from './refs.js';

/** One request in the shape request() of arbitraries.ts builds (sc, query and headers added there). */
export interface PlainRequest {
  method: string;
  path: (string | Ref)[];
  body: { kind: 'none' } | { kind: 'json'; value: unknown };
}

/** A good value, or now and then (1 in `odds`+1) one of the adversarial `bad` ones. */
function mut<T>(good: fc.Arbitrary<T>, bad: readonly unknown[], odds = 12): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: odds, arbitrary: good as fc.Arbitrary<unknown> },
    { weight: 1, arbitrary: fc.constantFrom(...bad) },
  );
}

/** Mostly `v`, sometimes the other boolean (port security off allows no groups and no pairs). */
const mostly = (v: boolean) =>
  fc.oneof({ weight: 4, arbitrary: fc.constant(v) }, { weight: 1, arbitrary: fc.constant(!v) });

/** Names and descriptions: mostly plain, some with what breaks config files (quotes, newlines, `#`). */
const text = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('', 'web', 'db-1', 'front end', 'ǅ💥', 'x'.repeat(255)) },
  { weight: 3, arbitrary: fc.string({ maxLength: 16 }) },
  { weight: 2, arbitrary: fc.constantFrom('a\nb', '"q"', "it's", 'back\\slash', '# x', '; drop', '$(id)', '}') },
);
const tagValue = fc.constantFrom('red', 'blue', 'prod', 'team-a', 'k=v', 'ǅ💥', 'x'.repeat(60), 'a b');
const tags = mut(fc.uniqueArray(tagValue, { maxLength: 4 }), [['a,b'], ['a/b'], [''], ['x'.repeat(61)], ['\n']]);

/**
 * Whose objects a plausible request names and makes: a tenant its own; the admin acts for one project
 * at a time (`project`), so it links no objects of different tenants (which only an admin could, and
 * which would show one tenant another's ids).
 */
interface Scope {
  admin: boolean;
  project: string;
}
const refProject = (sc: Scope) => (sc.admin ? sc.project : undefined);
const own = (sc: Scope, res: string) => ref(res, 'own', refProject(sc));
/** A network a port or subnet may go on: the project's own, or a shared one. */
const usableNet = (sc: Scope) => ref('networks', 'usable', refProject(sc));
const projectField = (sc: Scope) =>
  sc.admin ? fc.constant(sc.project) : mut(fc.constant(sc.project), [sc.project === 'pa' ? 'pb' : 'pa', 'ops']);

// ---- addresses ----
const v4Base = fc.oneof(
  fc
    .tuple(fc.nat(255), fc.nat(255), fc.nat(255))
    .map(([a, b, c]) => (10n << 24n) | (BigInt(a) << 16n) | (BigInt(b) << 8n) | BigInt(c)),
  fc.tuple(fc.nat(15), fc.nat(255)).map(([a, b]) => (172n << 24n) | ((16n + BigInt(a)) << 16n) | (BigInt(b) << 8n)),
  fc.nat(255).map((b) => (192n << 24n) | (168n << 16n) | (BigInt(b) << 8n)),
  fc.nat(0xffff).map((b) => (100n << 24n) | (64n << 16n) | (BigInt(b) << 4n)),
);
const v6Base = fc
  .tuple(fc.constantFrom(0x20010db8n, 0xfd00abcdn), fc.nat(0xffff), fc.nat(0xffff), fc.nat(0xffff))
  .map(([hi, a, b, c]) => (hi << 96n) | (BigInt(a) << 80n) | (BigInt(b) << 64n) | BigInt(c));

/** A subnet's CIDR (host bits clear) with its numbers, for gateways and pools made to fit it. */
interface Plan {
  version: 4 | 6;
  prefix: number;
  network: bigint;
  last: bigint;
  cidr: string;
}
function plan(version: 4 | 6, base: bigint, prefix: number): Plan {
  const bits = version === 4 ? 32 : 128;
  const host = (1n << BigInt(bits - prefix)) - 1n;
  const network = base & ~host;
  return { version, prefix, network, last: network | host, cidr: `${bigIntToIp(network, version)}/${prefix}` };
}
const subnetPlan = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .tuple(v4Base, fc.constantFrom(8, 12, 16, 20, 22, 24, 24, 24, 25, 26, 27, 28, 29, 30, 30))
      .map(([b, p]) => plan(4, b, p)),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(v6Base, fc.constantFrom(48, 56, 64, 64, 64, 64, 80, 96, 112, 120, 124, 125, 126))
      .map(([b, p]) => plan(6, b, p)),
  },
);
const ipIn = (p: Plan, offset: bigint) => bigIntToIp(p.network + offset, p.version);
/** Addresses of a subnet's version outside it: public DNS servers, documentation ranges, edges. */
const outside = (v: 4 | 6) =>
  v === 4
    ? fc.constantFrom('8.8.8.8', '1.1.1.1', '192.0.2.53', '198.51.100.1', '0.0.0.0', '255.255.255.255', '127.0.0.1')
    : fc.constantFrom('2001:4860:4860::8888', '2001:db8:ffff::53', '::1', '::', 'fe80::1', '::ffff:1.2.3.4');
const routeDest = (v: 4 | 6) =>
  v === 4
    ? fc.constantFrom('0.0.0.0/0', '198.51.100.0/24', '203.0.113.7/32', '172.31.0.0/16', '10.200.0.0/14')
    : fc.constantFrom('::/0', '2001:db8:beef::/48', '2001:db8::1/128', 'fd00::/8', '64:ff9b::/96');
const BAD_ADDRS = ['10.0.0.1/24', '10.0.0.256', 'fe80::1%eth0', '', ' 10.0.0.1', '::ffff:10.0.0.1/120'];

// ---- networks ----
function networkCreate(sc: Scope) {
  const admin = sc.admin;
  return fc.record(
    {
      name: text,
      description: text,
      admin_state_up: fc.boolean(),
      port_security_enabled: mostly(true),
      mtu: mut(fc.oneof(fc.constantFrom(68, 576, 1280, 1450), fc.integer({ min: 68, max: 1450 })), [67, 1451, 9000]),
      tags,
      ...(admin
        ? {
            shared: fc.boolean(),
            'provider:network_type': fc.constant('vxlan'),
            'provider:segmentation_id': mut(fc.integer({ min: 1001, max: 16_000_000 }), [1, 16_000_001, 2 ** 24]),
            project_id: projectField(sc),
          }
        : // Naming `shared` at all is the admin's (this server's policy, stricter than Neutron's).
          { shared: mut(fc.constant(undefined), [true, false], 20) }),
    },
    { requiredKeys: [] },
  );
}
const networkUpdate = (sc: Scope) =>
  fc.record(
    {
      name: text,
      admin_state_up: fc.boolean(),
      mtu: mut(fc.integer({ min: 68, max: 1450 }), [0, 1451]),
      port_security_enabled: fc.boolean(),
      tags,
      ...(sc.admin ? { shared: fc.boolean() } : {}),
    },
    { requiredKeys: [] },
  );

// ---- subnets ----
const V6_MODES: readonly [string | null, string | null][] = [
  [null, null],
  ['slaac', 'slaac'],
  ['dhcpv6-stateful', 'dhcpv6-stateful'],
  ['dhcpv6-stateless', 'dhcpv6-stateless'],
  [null, 'slaac'],
  [null, 'dhcpv6-stateful'],
  ['slaac', null],
];
function subnetCreate(sc: Scope) {
  // A tenant's subnet on a shared network it does not own is a near miss (403). The admin's would be
  // accepted, and then go with the network when its owner deletes it: one project's delete removing
  // another's object, which only an admin's cross-project create allows.
  const net = sc.admin
    ? own(sc, 'networks')
    : fc.oneof({ weight: 4, arbitrary: own(sc, 'networks') }, { weight: 1, arbitrary: usableNet(sc) });
  return fc.tuple(net, subnetPlan).chain(([network_id, p]) => {
    const size = p.last - p.network;
    const usableEnd = p.version === 4 ? p.last - 1n : p.last;
    const offset = fc.bigInt({ min: 2n, max: size > 2n ? size - 1n : 2n });
    const pools = fc.tuple(offset, offset).map(([a, b]) => {
      const [lo, hi] = a <= b ? [a, b] : [b, a];
      return [{ start: ipIn(p, lo), end: ipIn(p, hi) }];
    });
    return fc.record(
      {
        network_id: fc.constant(network_id),
        cidr: mut(fc.constant(p.cidr), [`${ipIn(p, 1n)}/${p.prefix}`, '10.0.0.0/31', '224.0.0.0/24', '::/0']),
        ip_version: mut(fc.constant(p.version), [p.version === 4 ? 6 : 4]),
        gateway_ip: mut(fc.constantFrom(ipIn(p, 1n), bigIntToIp(usableEnd, p.version), null), [
          bigIntToIp(p.network, p.version),
          bigIntToIp(p.last + 1n, p.version),
        ]),
        allocation_pools: mut(pools, [[{ start: ipIn(p, 0n), end: ipIn(p, 1n) }], []]),
        enable_dhcp: fc.oneof(
          { weight: 3, arbitrary: fc.constant(true) },
          { weight: 1, arbitrary: fc.constant(false) },
        ),
        dns_nameservers: mut(fc.uniqueArray(fc.oneof(outside(p.version), fc.constant(ipIn(p, 1n))), { maxLength: 3 }), [
          ['8.8.8.8', '8.8.8.8'],
          BAD_ADDRS.slice(0, 2),
          [p.version === 4 ? '2001:db8::53' : '8.8.8.8'],
        ]),
        host_routes: mut(
          fc.array(
            fc.record({
              destination: routeDest(p.version),
              nexthop: fc.oneof(fc.constant(ipIn(p, 1n)), outside(p.version)),
            }),
            { maxLength: 3 },
          ),
          [[{ destination: '10.0.0.1/24', nexthop: '10.0.0.1' }], [{ destination: '0.0.0.0/0', nexthop: 'fe80::1' }]],
        ),
        ...(p.version === 6
          ? {
              ipv6_ra_mode: fc.constantFrom(...V6_MODES).map((m) => m[0]),
              ipv6_address_mode: fc.constantFrom(...V6_MODES).map((m) => m[1]),
            }
          : {}),
        name: text,
        description: text,
        tags,
        ...(sc.admin ? { project_id: projectField(sc) } : {}),
      },
      { requiredKeys: ['network_id', 'cidr'] },
    );
  });
}
function subnetUpdate(subnet: Ref) {
  const host = (k: fc.Arbitrary<number> = fc.nat(40)) => addr(subnet, 'host', k);
  return fc.record(
    {
      name: text,
      enable_dhcp: fc.boolean(),
      dns_nameservers: mut(fc.array(fc.oneof(addr(subnet, 'outside'), host()), { maxLength: 2 }), [BAD_ADDRS]),
      host_routes: fc.array(fc.record({ destination: addr(subnet, 'route'), nexthop: host() }), { maxLength: 2 }),
      gateway_ip: mut(host(fc.constant(-1)), [null]),
      allocation_pools: fc
        .tuple(fc.nat(10), fc.nat(30))
        .chain(([a, b]) => fc.tuple(host(fc.constant(a)), host(fc.constant(a + b))))
        .map(([start, end]) => [{ start, end }]),
      tags,
    },
    { requiredKeys: [] },
  );
}

// ---- ports ----
const mac = mut(
  fc
    .tuple(fc.nat(255), fc.nat(255), fc.nat(255))
    .map((b) => `fa:16:3e:${b.map((x) => x.toString(16).padStart(2, '0')).join(':')}`),
  ['01:00:5e:00:00:01', 'ff:ff:ff:ff:ff:ff', '00:00:00:00:00:00', 'fa:16:3e:00:00'],
);
const pairAddress = fc.constantFrom(
  '10.0.0.200',
  '10.0.0.0/24',
  '10.0.0.9/24',
  '0.0.0.0/0',
  '192.0.2.1/32',
  '::/0',
  '2001:db8::5',
  '2001:db8::/64',
  '2001:db8::1/128',
  '169.254.169.254',
  'fe80::/10',
);
const pairs = mut(
  fc.array(fc.record({ ip_address: pairAddress, mac_address: mac }, { requiredKeys: ['ip_address'] }), {
    minLength: 1,
    maxLength: 3,
  }),
  [
    [{ ip_address: '10.0.0.9/abc' }],
    [{ ip_address: 'fe80::1%eth0' }],
    Array.from({ length: 11 }, () => ({ ip_address: '10.0.0.1' })),
  ],
);
const DEVICE_OWNERS = [
  '',
  'compute:nova',
  'compute:az-1',
  'baremetal:none',
  'trunk:subport',
  'network:router_interface',
  'network:dhcp',
];
const deviceId = fc.constantFrom('', 'vm-1', '7b0f2c4e-7d2a-4a7e-9a55-0e1f3b1c2d3e', 'd'.repeat(255));

/** fixed_ips on the network `net` names (a network, or a port's network): subnets of it, addresses in them. */
function fixedIps(net: Ref) {
  const subnet = refOn('subnets', net);
  const entry = subnet.chain((s) =>
    fc.oneof(
      fc.constant({ subnet_id: s }),
      addr(s, 'host').map((ip_address) => ({ subnet_id: s, ip_address })),
      addr(s, 'host').map((ip_address) => ({ ip_address })),
    ),
  );
  return mut(fc.array(entry, { maxLength: 2 }), [[{ ip_address: '10.0.0.0' }], [{}], [{ subnet_id: 'nope' }]]);
}

/** The fields a port create and update share; port security off comes with no groups and no pairs. */
function portFields(sc: Scope, net: Ref) {
  const admin = sc.admin;
  const security = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record(
        { security_groups: fc.uniqueArray(own(sc, 'security-groups'), { maxLength: 2 }), allowed_address_pairs: pairs },
        { requiredKeys: [] },
      ),
    },
    {
      weight: 1,
      arbitrary: fc.constant({ port_security_enabled: false, security_groups: [], allowed_address_pairs: [] }),
    },
    { weight: 1, arbitrary: fc.constant({ port_security_enabled: true }) },
    { weight: 1, arbitrary: mut(fc.constant({}), [{ port_security_enabled: false }], 3) },
  );
  const rest = fc.record(
    {
      name: text,
      description: text,
      admin_state_up: fc.boolean(),
      fixed_ips: fixedIps(net),
      device_owner: fc.constantFrom(...DEVICE_OWNERS),
      device_id: deviceId,
      tags,
      ...(admin
        ? {
            mac_address: mac,
            'binding:host_id': fc.constantFrom(HOST, HOST, HOST, '', 'fz-h2'),
            'binding:vnic_type': fc.constantFrom('normal', 'direct'),
            'binding:profile': fc.constantFrom({}, { migrating_to: 'fz-h2' }),
            status: fc.constantFrom('ACTIVE', 'DOWN'),
          }
        : { 'binding:host_id': mut(fc.constant(undefined), [HOST], 20) }),
    },
    { requiredKeys: [] },
  );
  return fc.tuple(security, rest).map(([s, r]) => {
    const out: Record<string, unknown> = { ...r, ...(s as object) };
    if (out['binding:host_id'] === undefined) delete out['binding:host_id'];
    return out;
  });
}
function portCreate(sc: Scope) {
  const net = fc.oneof({ weight: 3, arbitrary: own(sc, 'networks') }, { weight: 1, arbitrary: usableNet(sc) });
  return net.chain((n) =>
    fc
      .tuple(portFields(sc, n), fc.option(projectField(sc), { nil: undefined }))
      .map(([f, project_id]) => ({ ...f, network_id: n, ...(project_id === undefined ? {} : { project_id }) })),
  );
}

// ---- security groups and rules ----
const groupBody = (sc: Scope, create: boolean) =>
  fc.record(
    {
      name: mut(text, ['default']),
      description: text,
      stateful: fc.boolean(),
      tags,
      ...(create && sc.admin ? { project_id: projectField(sc) } : {}),
    },
    { requiredKeys: [] },
  );

const protocolNum = (p: unknown): number | null => {
  if (p === null || p === 'any') return null;
  const named = IP_PROTOCOLS.get(String(p).toLowerCase());
  return named ?? Number(p);
};
const protocol = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...IP_PROTOCOLS.keys()) },
  { weight: 2, arbitrary: fc.constantFrom(null, 'any', 'TCP', 'Udp', '6', '006', '17', '58', '132') },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 255 }) },
);
const portRange = fc.oneof(
  fc
    .tuple(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 0, max: 1000 }))
    .map(([a, d]) => [a, Math.min(65535, a + d)]),
  fc.constantFrom([1, 65535], [65535, 65535], [1, 1], [22, null], [80, 80]),
);
const icmpRange = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 255 }), fc.option(fc.integer({ min: 0, max: 255 }), { nil: null })),
  fc.constantFrom([8, 0], [0, null], [255, 255], [128, null]),
);
const v4Prefix = fc.constantFrom(
  '0.0.0.0/0',
  '10.0.0.0/8',
  '192.0.2.0/24',
  '10.1.2.3/8',
  '203.0.113.9/32',
  '10.0.0.0/31',
);
const v6Prefix = fc.constantFrom(
  '::/0',
  '2001:db8::/32',
  '2001:db8::1/128',
  'fe80::/10',
  '2001:db8::5/64',
  '::ffff:0:0/96',
);
function ruleCreate(sc: Scope) {
  return fc.tuple(protocol, fc.nat(3)).chain(([proto, coin]) => {
    const num = protocolNum(proto);
    const v6only = num !== null && IPV6_ONLY_PROTOCOLS.has(num);
    const ethertype = v6only
      ? mut(fc.constant('IPv6'), ['IPv4'])
      : coin === 0
        ? fc.constant('IPv6')
        : fc.constant('IPv4');
    const ranges: fc.Arbitrary<readonly unknown[]> =
      num !== null && PORT_PROTOCOLS.has(num)
        ? fc.oneof(portRange, fc.constant([]))
        : num !== null && ICMP_PROTOCOLS.has(num)
          ? fc.oneof(icmpRange, fc.constant([]))
          : (mut(fc.constant([]), [[1, 2]], 20) as fc.Arbitrary<readonly unknown[]>);
    return fc.tuple(ethertype, ranges).chain(([eth, range]) => {
      const remote = fc.oneof(
        { weight: 3, arbitrary: fc.constant({}) },
        {
          weight: 2,
          arbitrary: mut(eth === 'IPv6' ? v6Prefix : v4Prefix, [
            '10.0.0.0/33',
            eth === 'IPv6' ? '10.0.0.0/8' : '::/0',
          ]).map((remote_ip_prefix) => ({ remote_ip_prefix })),
        },
        { weight: 2, arbitrary: own(sc, 'security-groups').map((remote_group_id) => ({ remote_group_id })) },
      );
      return fc
        .tuple(
          fc.record(
            {
              security_group_id: own(sc, 'security-groups'),
              direction: fc.constantFrom('ingress', 'egress'),
              description: text,
            },
            { requiredKeys: ['security_group_id', 'direction'] },
          ),
          remote,
        )
        .map(([r, rem]) => ({
          ...r,
          ...rem,
          ethertype: eth,
          protocol: proto,
          ...(range.length ? { port_range_min: range[0], port_range_max: range[1] } : {}),
        }));
    });
  });
}

// ---- routers, floating IPs, instances, hypervms ----
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHh5cGVybmV0dGVzdGtleWJ5dGVz me@host';
const external = ref('networks', 'external');

function l3Requests(sc: Scope, mine: (res: string) => fc.Arbitrary<Ref>): fc.WeightedArbitrary<PlainRequest>[] {
  const action = (name: string, body: fc.Arbitrary<unknown>) =>
    fc.tuple(mine('routers'), body).map(([r, b]) => ({
      method: 'PUT',
      path: ['/v2.0/routers/', r, `/${name}`],
      body: { kind: 'json' as const, value: b },
    }));
  const routerBody = fc.record(
    {
      name: text,
      project_id: projectField(sc),
      admin_state_up: mostly(true),
      external_gateway_info: fc.option(external.map((network_id) => ({ network_id }))),
    },
    { requiredKeys: [] },
  );
  const routes = mine('subnets').chain((s) =>
    fc.array(fc.record({ destination: addr(s, 'route'), nexthop: mut(addr(s, 'host'), ['10.255.0.1', 'x']) }), {
      maxLength: 2,
    }),
  );
  const fipBody = fc.record(
    {
      floating_network_id: mut(external, ['nope']),
      port_id: fc.option(mine('ports')),
      description: text,
      project_id: projectField(sc),
    },
    { requiredKeys: ['floating_network_id'] },
  );
  const instanceBody = fc.record(
    {
      device_id: mut(fc.constantFrom('vm-1', 'vm-2', 'vm-3'), ['bad id']),
      name: text,
      user_data: fc.string({ maxLength: 30 }),
      public_keys: mut(fc.constant({ default: KEY }), [{ k: 'not a key' }]),
      meta: fc.dictionary(fc.constantFrom('role', 'tier'), fc.constantFrom('web', 'db')),
      project_id: projectField(sc),
    },
    { requiredKeys: ['device_id'] },
  );
  // A HyperVM on one of the caller's ports or networks, from pa's image or the public one.
  const hypervmBody = fc
    .tuple(
      fc.record(
        {
          image_id: mut(fc.constantFrom(IMAGES.pa, IMAGES.public), ['f0e1d2c3-0000-4000-8000-0000000000ff']),
          cloud: mut(fc.constant('lab'), ['aws']),
          flavor: fc.constantFrom('small', 'large'),
          name: text,
          project_id: projectField(sc),
        },
        { requiredKeys: ['image_id', 'cloud'] },
      ),
      fc.oneof(
        mine('ports').map((port_id) => ({ port_id })),
        mine('networks').map((network_id) => ({ network_id })),
      ),
    )
    .map(([b, where]) => ({ ...b, ...where }));
  const post = (res: string, key: string, b: fc.Arbitrary<unknown>) =>
    b.map((v) => ({ method: 'POST', path: [`/v2.0/${res}`], body: json(key)(v) }));
  const put = (res: string, key: string, b: fc.Arbitrary<unknown>) =>
    fc.tuple(mine(res), b).map(([t, v]) => ({ method: 'PUT', path: [`/v2.0/${res}/`, t], body: json(key)(v) }));
  const del = (res: string) => mine(res).map((t) => ({ method: 'DELETE', path: [`/v2.0/${res}/`, t], body: none }));
  return [
    { weight: 2, arbitrary: post('routers', 'router', routerBody) },
    {
      weight: 3,
      arbitrary: action(
        'add_router_interface',
        mine('subnets').map((subnet_id) => ({ subnet_id })),
      ),
    },
    {
      weight: 1,
      arbitrary: action(
        'remove_router_interface',
        mine('subnets').map((subnet_id) => ({ subnet_id })),
      ),
    },
    {
      weight: 1,
      arbitrary: put(
        'routers',
        'router',
        routes.map((r) => ({ routes: r })),
      ),
    },
    { weight: 3, arbitrary: post('floatingips', 'floatingip', fipBody) },
    {
      weight: 2,
      arbitrary: put(
        'floatingips',
        'floatingip',
        fc.option(mine('ports')).map((port_id) => ({ port_id })),
      ),
    },
    { weight: 1, arbitrary: post('instances', 'instance', instanceBody) },
    { weight: 1, arbitrary: post('hypervms', 'hypervm', hypervmBody) },
    { weight: 1, arbitrary: fc.constantFrom('routers', 'floatingips', 'instances', 'hypervms').chain(del) },
  ];
}

// ---- requests ----
const json = (key: string) => (value: unknown) => ({ kind: 'json' as const, value: { [key]: value } });
const none = { kind: 'none' as const };

/** Plausible requests of one caller (a tenant, or the admin acting for some project). */
export function plausible(who: Who): fc.Arbitrary<PlainRequest> {
  if (who === 'admin')
    return fc.constantFrom('pa', 'pb', 'pc', 'ops').chain((project) => plausibleIn({ admin: true, project }));
  return plausibleIn({ admin: false, project: PROJECT_OF[who] ?? 'pa' });
}

function plausibleIn(sc: Scope): fc.Arbitrary<PlainRequest> {
  const mine = (res: string) => own(sc, res);
  const post = (res: string, key: string, b: fc.Arbitrary<unknown>) =>
    b.map((v) => ({ method: 'POST', path: [`/v2.0/${res}`], body: json(key)(v) }));
  const put = (res: string, key: string, b: (target: Ref) => fc.Arbitrary<unknown>) =>
    mine(res).chain((t) => b(t).map((v) => ({ method: 'PUT', path: [`/v2.0/${res}/`, t], body: json(key)(v) })));
  const del = (res: string) => mine(res).map((t) => ({ method: 'DELETE', path: [`/v2.0/${res}/`, t], body: none }));
  const tagPut = fc
    .tuple(fc.constantFrom('networks', 'subnets', 'ports', 'security-groups'), tagValue)
    .chain(([res, t]) =>
      mine(res).map((id) => ({
        method: 'PUT',
        path: [`/v2.0/${res}/`, id, `/tags/${encodeURIComponent(t)}`],
        body: none,
      })),
    );
  const binding: fc.WeightedArbitrary<PlainRequest>[] = sc.admin
    ? [
        {
          weight: 1,
          arbitrary: fc.tuple(mine('ports'), fc.constantFrom('fz-h2', HOST)).map(([p, host]) => ({
            method: 'POST',
            path: ['/v2.0/ports/', p, '/bindings'],
            body: json('binding')({ host }),
          })),
        },
        {
          weight: 1,
          arbitrary: fc.tuple(mine('ports'), fc.constantFrom('fz-h2', HOST)).map(([p, host]) => ({
            method: 'PUT',
            path: ['/v2.0/ports/', p, `/bindings/${host}/activate`],
            body: none,
          })),
        },
      ]
    : [];
  const all: fc.WeightedArbitrary<PlainRequest>[] = [
    { weight: 3, arbitrary: post('networks', 'network', networkCreate(sc)) },
    { weight: 5, arbitrary: post('subnets', 'subnet', subnetCreate(sc)) },
    { weight: 8, arbitrary: post('ports', 'port', portCreate(sc)) },
    { weight: 2, arbitrary: post('security-groups', 'security_group', groupBody(sc, true)) },
    { weight: 7, arbitrary: post('security-group-rules', 'security_group_rule', ruleCreate(sc)) },
    { weight: 1, arbitrary: put('networks', 'network', () => networkUpdate(sc)) },
    { weight: 2, arbitrary: put('subnets', 'subnet', subnetUpdate) },
    { weight: 4, arbitrary: put('ports', 'port', (p) => portFields(sc, p)) },
    { weight: 1, arbitrary: put('security-groups', 'security_group', () => groupBody(sc, false)) },
    { weight: 1, arbitrary: tagPut },
    { weight: 1, arbitrary: del('ports') },
    { weight: 1, arbitrary: del('security-group-rules') },
    { weight: 1, arbitrary: fc.constantFrom('subnets', 'security-groups', 'networks').chain(del) },
    ...binding,
    ...l3Requests(sc, mine),
  ];
  return fc.oneof(...all);
}
