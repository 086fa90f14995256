/**
 * Adversarial requests for the fuzz suite: valid-ish Neutron bodies for every resource with fields
 * swapped for hostile values (zone ids, `/abc` suffixes, lone surrogates, huge arrays and numbers,
 * odd protocols, edge and special CIDRs, Object.prototype keys, newlines, bad URL escapes), odd query
 * strings and headers. References to objects (a network id, a group id …) are symbolic (`Ref`) and
 * resolved against the live store when the request is sent, so a replayed seed asks the same things.
 */
import fc from 'fast-check';
import { PROJECT_OF, type Who } from './harness.js';
import { plausible } from './plausible.js';
import { ref, type Ref } from './refs.js';
import { HYPERVM_HOST, IMAGES } from './world.js';

export type Body = { kind: 'none' } | { kind: 'json'; value: unknown } | { kind: 'raw'; text: string };

export interface FuzzRequest {
  who: Who;
  method: string;
  /** Path with Refs in it, joined when sent. */
  path: (string | Ref)[];
  query: string;
  headers: Record<string, string>;
  body: Body;
}

// ---- hostile scalars ----
const PROTO_KEYS = ['__proto__', 'constructor', 'toString', 'prototype', 'hasOwnProperty', 'valueOf'];
const WEIRD_STRINGS = [
  '',
  ' ',
  '\n',
  'a\nb',
  'tab\there',
  '\ud800',
  'x\udfffy',
  '\u0000',
  '%',
  '%zz',
  '../..',
  '/abc',
  'a,b',
  'a/b',
  '\u202e',
  'ǅ',
  '💥',
  ...PROTO_KEYS,
];
const longString = fc.constantFrom(256, 61, 4096, 70_000).map((n) => 'x'.repeat(n));
const weirdString = fc.oneof(
  fc.constantFrom(...WEIRD_STRINGS),
  longString,
  fc.string({ unit: 'binary', maxLength: 12 }),
);
const weirdNumber = fc.constantFrom(
  -1,
  0,
  1,
  1.5,
  255,
  256,
  65535,
  65536,
  2 ** 24 - 1,
  2 ** 24,
  2 ** 31,
  2 ** 53,
  1e308,
);
const weirdScalar = fc.oneof(weirdString, weirdNumber, fc.constantFrom(null, true, false, [], {}));

const V4_IPS = ['10.0.0.5', '10.0.0.1', '10.0.0.0', '10.0.0.255', '192.0.2.7', '0.0.0.0', '255.255.255.255'];
const BAD_IPS = [
  'fe80::1%eth0',
  '10.0.0.5%1',
  '10.0.0.5/abc',
  '10.0.0.5/32',
  '10.0.0.5/33',
  '::ffff:10.0.0.5',
  '010.000.000.005',
  '10.0.0',
  '10.0.0.5 ',
  '2001:db8::5',
  '::',
  '::1',
  '224.0.0.1',
  '127.0.0.1',
  '1.2.3.4.5',
  '999.1.1.1',
];
const ip = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...V4_IPS) },
  { weight: 3, arbitrary: fc.tuple(fc.nat(255), fc.nat(255)).map(([a, b]) => `10.${a % 4}.${b % 4}.${b}`) },
  { weight: 2, arbitrary: fc.constantFrom(...BAD_IPS) },
  { weight: 1, arbitrary: weirdString },
);

const CIDRS = [
  '10.0.0.0/24',
  '10.1.0.0/16',
  '10.2.3.0/28',
  '192.0.2.0/24',
  '2001:db8::/64',
  '2001:db8:1::/120',
  '10.9.9.0/30',
  '10.9.9.8/29',
];
const BAD_CIDRS = [
  '10.0.0.0/31',
  '10.0.0.0/32',
  '2001:db8::/127',
  '2001:db8::/128',
  '0.0.0.0/0',
  '::/0',
  '224.0.0.0/4',
  'ff00::/8',
  '127.0.0.0/8',
  '::1/128',
  '169.254.0.0/16',
  'fe80::/64',
  '10.0.0.1/24',
  '10.0.0.0/33',
  '10.0.0.0/-1',
  '10.0.0.0/abc',
  '10.0.0.0/024',
  'fe80::%eth0/64',
  '10.0.0.0',
  '::ffff:10.0.0.0/120',
];
const cidr = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...CIDRS) },
  { weight: 3, arbitrary: fc.tuple(fc.nat(255), fc.integer({ min: 20, max: 30 })).map(([a, p]) => `10.${a}.0.0/${p}`) },
  { weight: 3, arbitrary: fc.constantFrom(...BAD_CIDRS) },
  { weight: 1, arbitrary: weirdString },
);

/**
 * Bodies come in two moods, half each: `clean` ones use only well-typed values (which still include
 * the edge CIDRs, addresses and protocols above), so that many are accepted and reach the agent's
 * compilers; hostile ones also swap fields for wrong types, huge arrays and extra keys.
 */
let hostile = false;
/** A value for a field: mostly a good one; when hostile, sometimes a value of the wrong kind. */
function field<T>(good: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  if (!hostile) return good;
  return fc.oneof({ weight: 4, arbitrary: good as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: weirdScalar });
}
function list<T>(a: fc.Arbitrary<T>, max = 4): fc.Arbitrary<unknown> {
  if (!hostile) return fc.array(a, { maxLength: max });
  return fc.oneof(
    { weight: 4, arbitrary: fc.array(a, { maxLength: max }) },
    { weight: 1, arbitrary: a.map(huge) },
    { weight: 1, arbitrary: weirdScalar },
  );
}

/**
 * Up to 3,000 copies of one item, but about 200 kB at most: copies of a 70,000-character string
 * (nested lists included) once made bodies too long for JSON.stringify, which failed the test itself.
 */
function huge(x: unknown): unknown[] {
  const size = JSON.stringify(x)?.length ?? 1;
  return Array.from({ length: Math.min(3000, Math.max(2, Math.floor(200_000 / size))) }, () => x);
}

/** A record where each listed field may be left out; when hostile, sometimes one extra key. */
function body(fields: Record<string, fc.Arbitrary<unknown>>, required: string[] = []): fc.Arbitrary<unknown> {
  const rec = fc.record(fields, { requiredKeys: required });
  if (!hostile) return rec;
  return fc
    .tuple(
      rec,
      fc.option(fc.tuple(fc.constantFrom(...PROTO_KEYS, 'bogus', 'id', 'revision_number', 'status'), weirdScalar), {
        freq: 6,
      }),
    )
    .map(([r, extra]) => {
      if (!extra) return r;
      // defineProperty so that `__proto__` becomes an own key (JSON.stringify then sends it).
      Object.defineProperty(r, extra[0], { value: extra[1], enumerable: true, configurable: true, writable: true });
      return r;
    });
}

/** The body arbitraries of every resource, in one mood. */
function bodies(h: boolean) {
  hostile = h;
  const name = field(fc.string({ maxLength: 20 }));
  const tags = list(fc.oneof(fc.constantFrom('red', 'blue', 'a,b', 'a/b', 'x\ny', ''), fc.string({ maxLength: 8 })));
  const project = fc.constantFrom('pa', 'pb', 'ops', '', '__proto__');

  const networkBody = body({
    name,
    description: name,
    admin_state_up: field(fc.boolean()),
    shared: field(fc.boolean()),
    mtu: field(fc.integer({ min: 60, max: 9100 })),
    port_security_enabled: field(fc.boolean()),
    'provider:segmentation_id': field(fc.integer({ min: 1, max: 2 ** 24 + 5 })),
    'provider:network_type': field(fc.constantFrom('vxlan', 'vlan')),
    tags,
    project_id: field(project),
  });

  const prefixLen = fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: 8, max: 30 }) },
    { weight: 1, arbitrary: fc.constantFrom(-1, 0, 64, 128, 129, '24', '0x18', '', 'x') },
  );
  const pool = fc.record({ start: ip, end: ip });
  const route = fc.record({ destination: cidr, nexthop: ip });
  const subnetBody = body(
    {
      network_id: field(ref('networks')),
      cidr,
      ip_version: field(fc.constantFrom(4, 6)),
      gateway_ip: field(fc.option(ip)),
      allocation_pools: list(pool, 2),
      enable_dhcp: field(fc.boolean()),
      dns_nameservers: list(ip, 3),
      host_routes: list(route, 3),
      ipv6_ra_mode: field(fc.constantFrom('slaac', 'dhcpv6-stateful', null)),
      ipv6_address_mode: field(fc.constantFrom('slaac', 'dhcpv6-stateless', null)),
      subnetpool_id: field(fc.option(ref('subnetpools'))),
      prefixlen: field(prefixLen),
      use_default_subnetpool: field(fc.boolean()),
      tags,
      project_id: field(project),
    },
    ['network_id'],
  );
  // Bounds are mostly coherent (min <= default <= max), else three independent lengths.
  const bounds = fc.oneof(
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.integer({ min: 16, max: 30 }), fc.integer({ min: 16, max: 30 }), fc.integer({ min: 16, max: 30 }))
        .map((t) => t.sort((a, b) => a - b))
        .map(([min, dflt, max]) => ({ min_prefixlen: min, default_prefixlen: dflt, max_prefixlen: max })),
    },
    {
      weight: 1,
      arbitrary: fc.record(
        { min_prefixlen: field(prefixLen), default_prefixlen: field(prefixLen), max_prefixlen: field(prefixLen) },
        { requiredKeys: [] },
      ),
    },
  );
  const withBounds = (b: fc.Arbitrary<unknown>) =>
    fc.tuple(b, fc.option(bounds)).map(([x, bs]) => (typeof x === 'object' && x !== null && bs ? { ...bs, ...x } : x));
  const subnetpoolFields = {
    name,
    description: name,
    prefixes: fc.oneof(
      {
        weight: 2,
        arbitrary: fc.array(
          fc.tuple(fc.nat(255), fc.integer({ min: 12, max: 24 })).map(([a, p]) => `10.${a}.0.0/${p}`),
          { minLength: 1, maxLength: 2 },
        ),
      },
      { weight: 1, arbitrary: list(cidr, 3) },
    ),
    is_default: field(fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, fc.constant(true))),
    default_quota: field(fc.option(fc.integer({ min: -1, max: 70000 }), { freq: 2 })),
    address_scope_id: field(fc.oneof({ weight: 5, arbitrary: fc.constant(null) }, fc.constant('x'))),
    tags,
  };
  const subnetpoolBody = withBounds(
    body({ ...subnetpoolFields, shared: field(fc.boolean()), project_id: field(project) }, ['prefixes']),
  );
  const subnetpoolUpdate = withBounds(body(subnetpoolFields));

  const mac = fc.oneof(
    fc.constantFrom(
      'fa:16:3e:00:00:01',
      'FA-16-3E-00-00-02',
      '01:00:5e:00:00:01',
      'ff:ff:ff:ff:ff:ff',
      '00:00:00:00:00:00',
    ),
    fc.constantFrom('fa:16:3e:00:00', 'fa16.3e00.0003', 'zz:zz:zz:zz:zz:zz'),
  );
  const fixedIp = fc.record({ subnet_id: field(ref('subnets')), ip_address: ip }, { requiredKeys: [] });
  const pair = fc.record(
    { ip_address: fc.oneof(ip, cidr, fc.constantFrom('10.0.0.9/abc', '10.0.0.0/24')), mac_address: mac },
    { requiredKeys: ['ip_address'] },
  );
  const portFields = {
    name,
    admin_state_up: field(fc.boolean()),
    mac_address: field(mac),
    fixed_ips: list(fixedIp, 3),
    allowed_address_pairs: list(pair, 3),
    port_security_enabled: field(fc.boolean()),
    security_groups: field(fc.option(fc.array(ref('security-groups'), { maxLength: 3 }))),
    device_id: field(fc.string({ maxLength: 12 })),
    device_owner: field(fc.constantFrom('', 'compute:nova', 'network:dhcp', 'network:router_interface')),
    'binding:host_id': field(fc.constantFrom('fz-h1', 'fz-h2', '')),
    'binding:profile': field(fc.constantFrom({}, { a: 1 }, null)),
    status: field(fc.constantFrom('ACTIVE', 'DOWN')),
    tags,
  };
  const portBody = body({ ...portFields, network_id: field(ref('networks')), project_id: field(project) }, [
    'network_id',
  ]);
  const portUpdate = body(portFields);

  const protocol = fc.oneof(
    fc.constantFrom('tcp', 'udp', 'icmp', 'icmpv6', 'ipv6-icmp', 'sctp', 'any', null, 6, 17, 1, 58),
    fc.constantFrom('ipip', '006', '6', '256', '-1', 'TCP', 'ipv6-route', 'ipv6-frag', 'gre', 'vrrp', '0', 255, 256),
  );
  const ruleBody = body(
    {
      security_group_id: field(ref('security-groups')),
      direction: field(fc.constantFrom('ingress', 'egress')),
      ethertype: field(fc.constantFrom('IPv4', 'IPv6')),
      protocol: field(protocol),
      port_range_min: field(fc.option(fc.integer({ min: -1, max: 65536 }))),
      port_range_max: field(fc.option(fc.integer({ min: -1, max: 65536 }))),
      remote_ip_prefix: field(fc.option(cidr)),
      remote_group_id: field(fc.option(ref('security-groups'))),
      description: name,
    },
    ['security_group_id', 'direction'],
  );
  const sgBody = body({ name, description: name, stateful: field(fc.boolean()), tags, project_id: field(project) });
  const agentBody = body(
    {
      host: field(fc.constantFrom('fz-h1', 'fz-h2', 'fz-h3')),
      agent_type: field(fc.constant('hypernet agent')),
      configurations: field(
        fc.record({
          tunneling_ip: ip,
          cloud: field(fc.constantFrom('aws', 'lab')),
          underlay_mtu: field(fc.integer({ min: 0, max: 70000 })),
          capabilities: list(fc.string({ maxLength: 6 })),
        }),
      ),
      heartbeat: field(fc.boolean()),
    },
    ['host'],
  );
  const bindingBody = body(
    { host: field(fc.constantFrom('fz-h1', 'fz-h2')), vnic_type: field(fc.constant('normal')) },
    ['host'],
  );

  const gateway = fc.record(
    { network_id: field(ref('networks')), enable_snat: field(fc.boolean()), external_fixed_ips: list(fixedIp, 2) },
    { requiredKeys: ['network_id'] },
  );
  const routerFields = {
    name,
    description: name,
    admin_state_up: field(fc.boolean()),
    external_gateway_info: field(fc.oneof(fc.constant(null), fc.constant({}), gateway)),
    tags,
  };
  const routerBody = body({ ...routerFields, project_id: field(project) });
  const routerUpdate = body({ ...routerFields, routes: field(fc.option(fc.array(route, { maxLength: 3 }))) });
  const fipFields = {
    port_id: field(fc.option(ref('ports'))),
    fixed_ip_address: field(fc.option(ip)),
    description: name,
    tags,
  };
  const fipBody = body(
    {
      ...fipFields,
      floating_network_id: field(ref('networks')),
      floating_ip_address: field(ip),
      subnet_id: field(ref('subnets')),
      project_id: field(project),
    },
    ['floating_network_id'],
  );
  const keyName = fc.constantFrom('default', 'k', '__proto__', 'two words', '');
  const sshKey = fc.constantFrom(
    'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHh5cGVybmV0 me@host',
    'ssh-rsa AAAA\nssh-rsa BBBB',
    'not a key',
  );
  const instanceFields = {
    name,
    hostname: field(fc.constantFrom('vm-1', 'bad host', 'a.b', '')),
    user_data: field(fc.string({ maxLength: 40 })),
    public_keys: field(fc.dictionary(keyName, sshKey, { maxKeys: 2 })),
    meta: field(fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 3 })),
    tags,
  };
  const instanceBody = body(
    {
      ...instanceFields,
      device_id: field(fc.constantFrom('vm-1', 'vm-2', 'bad id', '', '../x')),
      project_id: field(project),
    },
    ['device_id'],
  );
  const hypervmFields = { name, description: name, tags };
  const hypervmBody = body(
    {
      ...hypervmFields,
      image_id: field(fc.constantFrom(IMAGES.pa, IMAGES.public, 'f0e1d2c3-0000-4000-8000-0000000000ff', 'x')),
      port_id: field(ref('ports')),
      network_id: field(ref('networks')),
      cloud: field(fc.constantFrom('lab', 'aws', '', 'two words')),
      flavor: field(fc.constantFrom('small', 'large', '')),
      host: field(fc.constantFrom(HYPERVM_HOST, 'fz-h1', 'nowhere')),
      project_id: field(project),
    },
    ['image_id', 'cloud'],
  );
  const hypervmUpdate = body({
    ...hypervmFields,
    status: field(fc.constantFrom('BUILD', 'PULLING', 'STARTING', 'ACTIVE', 'ERROR', 'active', 'DELETED')),
    status_reason: field(fc.string({ maxLength: 20 })),
  });
  // The router member actions' bodies: interface info, gateway lists, route lists.
  const routerAction = fc.oneof(
    fc
      .record({ subnet_id: field(ref('subnets')), port_id: field(ref('ports')) }, { requiredKeys: [] })
      .map((value) => ({ kind: 'json' as const, value })),
    list(gateway, 3).map((g) => ({ kind: 'json' as const, value: { router: { external_gateways: g } } })),
    list(route, 3).map((r) => ({ kind: 'json' as const, value: { router: { routes: r } } })),
  );

  const create: Record<string, [string, fc.Arbitrary<unknown>]> = {
    networks: ['network', networkBody],
    subnets: ['subnet', subnetBody],
    ports: ['port', portBody],
    'security-groups': ['security_group', sgBody],
    'security-group-rules': ['security_group_rule', ruleBody],
    agents: ['agent', agentBody],
    routers: ['router', routerBody],
    floatingips: ['floatingip', fipBody],
    instances: ['instance', instanceBody],
    subnetpools: ['subnetpool', subnetpoolBody],
    hypervms: ['hypervm', hypervmBody],
  };
  const update: Record<string, [string, fc.Arbitrary<unknown>]> = {
    ...create,
    ports: ['port', portUpdate],
    routers: ['router', routerUpdate],
    floatingips: ['floatingip', body(fipFields)],
    instances: ['instance', body(instanceFields)],
    subnetpools: ['subnetpool', subnetpoolUpdate],
    hypervms: ['hypervm', hypervmUpdate],
  };
  return { create, update, bindingBody, routerAction };
}
const CLEAN = bodies(false);
const HOSTILE = bodies(true);
hostile = false;

/** A JSON body in its envelope, or the envelope broken in one of the usual ways. */
function enveloped(key: string, inner: fc.Arbitrary<unknown>, plural: string): fc.Arbitrary<Body> {
  return fc.oneof(
    { weight: 10, arbitrary: inner.map((v) => ({ kind: 'json' as const, value: { [key]: v } })) },
    {
      weight: 1,
      arbitrary: fc.array(inner, { maxLength: 3 }).map((v) => ({ kind: 'json' as const, value: { [plural]: v } })),
    },
    { weight: 1, arbitrary: weirdScalar.map((v) => ({ kind: 'json' as const, value: v })) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('{', '{"a":}', '[]', 'null', '"x"', '', '{"__proto__":{"x":1}}', '\ufeff{}', '{"a":1,"a":2}')
        .map((text) => ({ kind: 'raw' as const, text })),
    },
  );
}

// ---- query strings ----
const QUERY_KEYS = [
  'name',
  'id',
  'fields',
  'limit',
  'marker',
  'sort_key',
  'sort_dir',
  'page_reverse',
  'tags',
  'tags-any',
  'not-tags',
  'shared',
  'fixed_ips',
  'network_id',
  'project_id',
  'status',
  'since',
  ...PROTO_KEYS,
];
const QUERY_VALUES = ['', 'x', '1', '-1', '0', 'True', 'asc', 'desc', 'name', 'id', 'ip_address=10.0.0.5', '%', '%zz'];
const enc = (s: string) => {
  try {
    return encodeURIComponent(s);
  } catch {
    return '%ED%A0%80'; // a lone surrogate as UTF-8 bytes
  }
};
const queryPart = fc.oneof(
  // Values stay under node's 16 KiB request-head limit: past it node itself answers 431 and hangs up.
  fc
    .tuple(
      fc.constantFrom(...QUERY_KEYS),
      fc.oneof(
        fc.constantFrom(...QUERY_VALUES),
        weirdString.map((w) => w.slice(0, 4096)),
      ),
    )
    .map(([k, v]) => `${enc(k)}=${v === '%' || v === '%zz' ? v : enc(v)}`),
  fc.constantFrom('%', '%zz=1', 'a=%E0%A4%A', '=1', '&&', 'limit=1e3', 'fields=', `limit=${'9'.repeat(400)}`),
);
export const query = fc.oneof(
  { weight: 3, arbitrary: fc.constant('') },
  { weight: 2, arbitrary: fc.array(queryPart, { minLength: 1, maxLength: 4 }).map((ps) => ps.join('&')) },
);

// ---- headers ----
const headers = fc.record(
  {
    'content-type': fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/json; charset=utf-16',
    ),
    'if-match': fc.constantFrom('revision_number=1', 'revision_number=abc', `revision_number=${'9'.repeat(30)}`, '*'),
    accept: fc.constantFrom('application/json', 'text/html', '*/*'),
    'x-forwarded-proto': fc.constantFrom('https', 'javascript', 'a b'),
  },
  { requiredKeys: [] },
);

const RES = Object.keys(CLEAN.create);
const either = (pick: (b: typeof CLEAN) => fc.Arbitrary<unknown>) => fc.oneof(pick(CLEAN), pick(HOSTILE));
const weirdId = fc.constantFrom('x', '%25', '..', 'a'.repeat(300), '__proto__', 'constructor', '%ff', '%00', '%zz');
const target = (res: string) =>
  fc.oneof({ weight: 6, arbitrary: ref(res) as fc.Arbitrary<string | Ref> }, { weight: 1, arbitrary: weirdId });
const tag = fc.oneof(
  fc.constantFrom('red', 'blue'),
  weirdId,
  weirdString.map((w) => enc(w.slice(0, 2048))),
);

/** One request at any resource, with any method a client may try. */
export function request(whoArb: fc.Arbitrary<Who>): fc.Arbitrary<FuzzRequest> {
  const resourceReq = fc.constantFrom(...RES).chain((res) => {
    const [key] = CLEAN.create[res];
    const [ukey] = CLEAN.update[res];
    const create = either((b) => b.create[res][1]);
    const update = either((b) => b.update[res][1]);
    const plural = `${key}s`;
    const base = `/v2.0/${res}`;
    return fc.oneof(
      {
        weight: 3,
        arbitrary: fc.record({
          method: fc.constant('GET'),
          path: fc.constant([base]),
          body: fc.constant<Body>({ kind: 'none' }),
        }),
      },
      {
        weight: 2,
        arbitrary: fc.record({
          method: fc.constant('GET'),
          path: target(res).map((t) => [base, '/', t]),
          body: fc.constant<Body>({ kind: 'none' }),
        }),
      },
      {
        weight: 5,
        arbitrary: fc.record({
          method: fc.constant('POST'),
          path: fc.constant([base]),
          body: enveloped(key, create, plural),
        }),
      },
      {
        weight: 4,
        arbitrary: fc.record({
          method: fc.constant('PUT'),
          path: target(res).map((t) => [base, '/', t]),
          body: enveloped(ukey, update, plural),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          method: fc.constant('DELETE'),
          path: target(res).map((t) => [base, '/', t]),
          body: fc.constant<Body>({ kind: 'none' }),
        }),
      },
      {
        weight: 2,
        arbitrary: fc.record({
          method: fc.constantFrom('GET', 'PUT', 'DELETE'),
          path: fc
            .tuple(target(res), fc.option(tag, { nil: undefined }))
            .map(([t, g]) => [base, '/', t, '/tags', ...(g === undefined ? [] : ['/', g])]),
          body: fc.oneof(
            fc.constant<Body>({ kind: 'none' }),
            fc.array(tag, { maxLength: 4 }).map((v) => ({ kind: 'json' as const, value: { tags: v } })),
          ),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          method: fc.constantFrom('PATCH', 'OPTIONS', 'HEAD', 'POST'),
          path: target(res).map((t) => [base, '/', t]),
          body: fc.constant<Body>({ kind: 'none' }),
        }),
      },
    );
  });
  const bindingReq = fc.record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'),
    path: fc
      .tuple(target('ports'), fc.constantFrom('', '/fz-h1', '/fz-h2', '/fz-h2/activate', '/%zz'))
      .map(([t, rest]) => ['/v2.0/ports/', t, '/bindings', rest]),
    body: fc.oneof(
      fc.constant<Body>({ kind: 'none' }),
      enveloped(
        'binding',
        either((b) => b.bindingBody),
        'bindings',
      ),
    ),
  });
  const routerActionReq = fc.record({
    method: fc.constantFrom('PUT', 'PUT', 'PUT', 'GET', 'POST'),
    path: fc
      .tuple(
        target('routers'),
        fc.constantFrom(
          'add_router_interface',
          'remove_router_interface',
          'add_external_gateways',
          'remove_external_gateways',
          'update_external_gateways',
          'add_extraroutes',
          'remove_extraroutes',
          '%zz',
        ),
      )
      .map(([t, action]) => ['/v2.0/routers/', t, `/${action}`]),
    body: fc.oneof(
      fc.constant<Body>({ kind: 'none' }),
      either((b) => b.routerAction),
    ),
  });
  const prefixOpReq = fc.record({
    method: fc.constantFrom('PUT', 'PUT', 'POST', 'GET'),
    path: fc
      .tuple(target('subnetpools'), fc.constantFrom('/add_prefixes', '/remove_prefixes'))
      .map(([t, op]) => ['/v2.0/subnetpools/', t, op]),
    body: fc.oneof(
      fc.constant<Body>({ kind: 'none' }),
      fc.array(cidr, { maxLength: 3 }).map((v) => ({ kind: 'json' as const, value: { prefixes: v } })),
      weirdScalar.map((v) => ({ kind: 'json' as const, value: { prefixes: v } })),
    ),
  });
  const otherReq = fc.record({
    method: fc.constantFrom('GET', 'POST'),
    path: fc
      .constantFrom(
        '/',
        '/v2.0',
        '/v2.0/',
        '/v2.0/extensions',
        '/v2.0/extensions/%zz',
        '/v2.0/watch',
        '/ui/%25',
        '/v2.0/networks.json',
        '/v2.0//networks',
        '/%',
      )
      .map((p) => [p]),
    body: fc.constant<Body>({ kind: 'none' }),
  });
  const hostileReq = fc
    .record({
      who: whoArb,
      req: fc.oneof(
        { weight: 12, arbitrary: resourceReq },
        { weight: 2, arbitrary: bindingReq },
        { weight: 2, arbitrary: routerActionReq },
        { weight: 1, arbitrary: prefixOpReq },
        { weight: 1, arbitrary: otherReq },
      ),
      query,
      headers: fc.oneof({ weight: 2, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: headers }),
    })
    .map(({ who, req, query: q, headers: h }) => ({
      who,
      method: req.method,
      path: [...req.path] as (string | Ref)[],
      query: q,
      headers: h,
      body: req.body as Body,
    }));
  // What a real caller (a tenant, the admin) sends, without the broken envelopes, headers and queries:
  // most of these are accepted, so the model the agent compiles grows and changes all run long.
  const plausibleReq = whoArb
    .filter((w) => PROJECT_OF[w] !== undefined)
    .chain((who) => plausible(who).map((req) => ({ who, ...req, query: '', headers: {} })));
  return fc.oneof({ weight: 3, arbitrary: plausibleReq }, { weight: 5, arbitrary: hostileReq });
}

/** The same request aimed at the other tenant's object (the path's target; body refs stay mixed). */
export function atOthers(r: FuzzRequest): FuzzRequest {
  return { ...r, path: r.path.map((p) => (typeof p === 'string' ? p : { ...p, owner: 'other' as const })) };
}
