/**
 * The custom-route feature's pure parts and its glue, without root: compile (which ports, which
 * objects, the NAT only for `instead`, bad bindings refused again), diff (order, nothing to do when
 * converged, a remade link takes its dependants, stale objects removed in reverse, teardown), the
 * parse of kernel output as iproute2 and nft print it, and the reconciler on a fake runner: the exact
 * commands of a first pass, and none but reads once the kernel holds the state.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Exec, ExecOptions } from '../../../src/common/exec.js';
import { silentLogger } from '../../../src/common/log.js';
import { compileCustomRoutes, natScript } from '../../../src/agent/customroute/compile.js';
import { diffCustomRoutes } from '../../../src/agent/customroute/diff.js';
import { CustomRouteDriver, parseCustomRouteState } from '../../../src/agent/customroute/driver.js';
import { CustomRouteReconciler } from '../../../src/agent/customroute/reconciler.js';
import { CR_FROM_RULE_PREF, CR_RULE_PREF, type CrActual, type CrObject } from '../../../src/agent/customroute/types.js';
import { CUSTOM_ROUTE_PROFILE_KEY as KEY } from '../../../src/model/custom-route.js';
import { net, port, subnet, view } from '../../../testkit/model-fixtures.js';

const ENI = 'eni-0a1b2c3d4e5f60718';
const cr = (mode: string, vpc_ip: string) => ({ 'binding:profile': { [KEY]: { mode, interface: ENI, vpc_ip } } });
const model = (ports = ['cra', 'crb']) =>
  view({
    networks: [net('n1', 100)],
    subnets: [subnet('s1', 'n1', '10.99.0.0/24', '10.99.0.1'), subnet('s6', 'n1', 'fd00::/64', null)],
    ports: [
      port('cra000000000-1', 'n1', 'hs', 'fa:16:3e:00:00:05', ['10.99.0.5'], cr('instead', '10.20.2.10')),
      port(
        'crb000000000-1',
        'n1',
        'hs',
        'fa:16:3e:00:00:06',
        ['10.99.0.6', 'fd00::6'],
        cr('in-addition', '10.20.2.11'),
      ),
      port('peer00000000-1', 'n1', 'node-b', 'fa:16:3e:00:00:07', ['10.99.0.7']),
      port('bad000000000-1', 'n1', 'hs', 'fa:16:3e:00:00:08', ['10.99.0.8'], cr('both', '10.20.2.12')),
      port('far000000000-1', 'n1', 'node-b', 'fa:16:3e:00:00:09', ['10.99.0.9'], cr('instead', '10.20.2.13')),
    ].filter((p) => !p.id.startsWith('cr') || ports.some((x) => p.id.startsWith(x))),
  });

describe('custom-route compile', () => {
  const d = compileCustomRoutes('hs', model());

  it('serves the custom-route ports bound here, refusing a bad binding again', () => {
    assert.deepEqual(
      d.ports.map((p) => [p.portId, p.mode, p.hyperIp, p.vpcIp, p.shim, p.tap]),
      [
        ['cra000000000-1', 'instead', '10.99.0.5', '10.20.2.10', 'hcrcra00000000', 'tapcra00000000'],
        ['crb000000000-1', 'in-addition', '10.99.0.6', '10.20.2.11', 'hcrcrb00000000', 'tapcrb00000000'],
      ],
    );
    assert.match(d.errors.get('bad000000000-1') ?? '', /mode must be one of/);
    assert.equal(d.errors.size, 1);
  });

  it('gives each port its table, proxy entry, neighbours, routes and rules', () => {
    const a = d.ports[0]!;
    const b = d.ports[1]!;
    assert.notEqual(a.table, b.table);
    const of = (shim: string, t: number) =>
      d.objects.filter((o) => ('dev' in o && o.dev === shim) || ('table' in o && o.table === t) || o.key === shim);
    assert.deepEqual(of(a.shim, a.table), [
      { kind: 'link', key: a.shim, shim: a.shim, tap: a.tap, mac: 'fa:16:3e:00:00:05', mtu: 1450, up: true },
      { kind: 'proxy', key: `10.99.0.5 ${a.shim}`, ip: '10.99.0.5', dev: a.shim },
      // Every other port of the network, IPv4 only; the bad one too (it is a port of the network).
      { kind: 'neigh', key: `10.99.0.6 ${a.shim}`, ip: '10.99.0.6', dev: a.shim, mac: 'fa:16:3e:00:00:06' },
      { kind: 'neigh', key: `10.99.0.7 ${a.shim}`, ip: '10.99.0.7', dev: a.shim, mac: 'fa:16:3e:00:00:07' },
      { kind: 'neigh', key: `10.99.0.8 ${a.shim}`, ip: '10.99.0.8', dev: a.shim, mac: 'fa:16:3e:00:00:08' },
      { kind: 'neigh', key: `10.99.0.9 ${a.shim}`, ip: '10.99.0.9', dev: a.shim, mac: 'fa:16:3e:00:00:09' },
      { kind: 'route', key: `${a.table} 10.99.0.0/24`, table: a.table, dst: '10.99.0.0/24', dev: a.shim },
      { kind: 'route', key: `${a.table} 10.99.0.5`, table: a.table, dst: '10.99.0.5', via: '10.20.2.10' },
      // instead: the VM sends from its VPC address; in-addition (below) from its hyper IP.
      { kind: 'rule', key: `from 10.20.2.10 ${a.table}`, sel: 'from', ip: '10.20.2.10', table: a.table },
      { kind: 'rule', key: `to 10.99.0.5 ${a.table}`, sel: 'to', ip: '10.99.0.5', table: a.table, iif: a.shim },
    ]);
    assert.ok(
      d.objects.some((o) => o.kind === 'rule' && o.sel === 'from' && o.ip === '10.99.0.6' && o.table === b.table),
    );
  });

  it('NATs only the instead ports', () => {
    assert.match(d.nft!, /iifname "hcrcra00000000" ip daddr 10\.99\.0\.5 dnat to 10\.20\.2\.10/);
    assert.match(d.nft!, /oifname "hcrcra00000000" ip saddr 10\.20\.2\.10 snat to 10\.99\.0\.5/);
    assert.doesNotMatch(d.nft!, /hcrcrb.*nat/);
    // Each port's flows in a zone of its own (from the top, past the networks' zones).
    assert.deepEqual(
      d.ports.map((p) => p.zone),
      [0xffff, 0xfffe],
    );
    assert.match(
      d.nft!,
      /iifname "hcrcrb00000000" ct zone set 65534\n\s+iifname != "hcr\*" iifname != "hnb-\*" ip saddr 10\.99\.0\.6 ct zone/,
    );
    assert.match(d.nftTag, /^[0-9a-f]{16}$/);
    const none = compileCustomRoutes('node-c', model());
    assert.deepEqual([none.ports, none.objects, none.nft], [[], [], null]);
  });
});

describe('custom-route diff', () => {
  const d = compileCustomRoutes('hs', model(['cra']));
  const converged: CrActual = { objects: d.objects, nftTag: d.nftTag, forwarding: true };

  it('adds in dependency order from nothing, forwarding and NAT included', () => {
    const ops = diffCustomRoutes(d, { objects: [], nftTag: null, forwarding: false });
    const kinds = ops.map((o) => (o.op === 'add' ? o.obj.kind : o.op));
    assert.deepEqual(kinds, [
      'forwarding',
      'link',
      'proxy',
      ...Array(3).fill('neigh'),
      'route',
      'route',
      'rule',
      'rule',
      'nft',
    ]);
  });

  it('does nothing when the kernel holds the state', () => {
    assert.deepEqual(diffCustomRoutes(d, converged), []);
  });

  it('makes a changed link again with what hangs on it, and rewrites a stale NAT', () => {
    const objects = converged.objects.map((o): CrObject => (o.kind === 'link' ? { ...o, mtu: 1500 } : o));
    const ops = diffCustomRoutes(d, { ...converged, objects, nftTag: 'old' });
    assert.deepEqual(
      ops.map((o) => (o.op === 'add' ? `${o.obj.kind} ${o.obj.key}` : o.op)),
      [
        'link hcrcra00000000',
        'proxy 10.99.0.5 hcrcra00000000',
        ...['7', '8', '9'].map((n) => `neigh 10.99.0.${n} hcrcra00000000`),
        `route ${d.ports[0]!.table} 10.99.0.0/24`,
        'nft',
      ],
    );
  });

  it('removes stale objects in reverse order, and the NAT table when no port is left', () => {
    const stale: CrObject[] = [
      { kind: 'link', key: 'hcrold', shim: 'hcrold', tap: 'tapold', mac: 'fa:16:3e:00:00:01', mtu: 1450, up: true },
      { kind: 'rule', key: 'to 10.99.0.1 1751318529', sel: 'to', ip: '10.99.0.1', table: 1751318529 },
      { kind: 'proxy', key: '10.99.0.1 hcrold', ip: '10.99.0.1', dev: 'hcrold' },
    ];
    const ops = diffCustomRoutes(d, { ...converged, objects: [...converged.objects, ...stale] });
    assert.deepEqual(
      ops.map((o) => (o.op === 'del' ? o.obj.kind : o.op)),
      ['rule', 'proxy', 'link'],
    );
    const empty = compileCustomRoutes('node-c', model());
    const down = diffCustomRoutes(empty, converged);
    assert.deepEqual(down[0], { op: 'nft', text: null, tag: '' });
    assert.equal(down.filter((o) => o.op === 'del').length, converged.objects.length);
  });
});

/** Kernel output as iproute2 6.1 and nft 1.0.6 print it, for one instead port (table T). */
function kernelOutput(t: number, withState: boolean, nftTag: string) {
  const link = (name: string, peer: string, mac: string) => ({
    ifname: name,
    link: peer,
    flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
    mtu: 1450,
    address: mac,
    linkinfo: { info_kind: 'veth' },
  });
  const T = String(t);
  return {
    links: JSON.stringify(
      withState
        ? [
            link('hcrcra00000000', 'tapcra00000000', 'fa:16:3e:00:00:05'),
            link('tapcra00000000', 'hcrcra00000000', 'aa:bb:cc:00:00:01'),
          ]
        : [],
    ),
    proxies: JSON.stringify(withState ? [{ dst: '10.99.0.5', dev: 'hcrcra00000000', proxy: null }] : []),
    neighbours: JSON.stringify(
      withState
        ? ['7', '8', '9'].map((n) => ({
            dst: `10.99.0.${n}`,
            dev: 'hcrcra00000000',
            lladdr: `fa:16:3e:00:00:0${n}`,
            state: ['PERMANENT'],
          }))
        : [],
    ),
    routes: JSON.stringify([
      { dst: '10.20.2.0/24', dev: 'eth0', protocol: 'kernel', scope: 'link', prefsrc: '10.20.2.5', flags: [] },
      ...(withState
        ? [
            { dst: '10.99.0.0/24', dev: 'hcrcra00000000', table: T, scope: 'link', flags: [] },
            { dst: '10.99.0.5', gateway: '10.20.2.10', dev: 'eth0', table: T, flags: [] },
          ]
        : []),
      { type: 'local', dst: '10.20.2.5', dev: 'eth0', table: 'local', protocol: 'kernel', scope: 'host', flags: [] },
    ]),
    rules: JSON.stringify([
      { priority: 0, src: 'all', table: 'local' },
      ...(withState
        ? [
            { priority: CR_RULE_PREF, src: 'all', dst: '10.99.0.5', iif: 'hcrcra00000000', table: T },
            { priority: CR_FROM_RULE_PREF, src: '10.20.2.10', table: T },
          ]
        : []),
      { priority: 32766, src: 'all', table: 'main' },
    ]),
    nft: withState ? `table ip hypernet_cr {\n\tcomment "${nftTag}"\n\tchain pre {\n\t}\n}\n` : null,
    forwarding: withState ? '1\n' : '0\n',
  };
}

describe('custom-route driver and reconciler on a fake runner', () => {
  const d = compileCustomRoutes('hs', model(['cra']));
  const t = d.ports[0]!.table;

  it('parses the kernel as printed back into the compiled objects', () => {
    const a = parseCustomRouteState(kernelOutput(t, true, d.nftTag));
    assert.deepEqual(diffCustomRoutes(d, a), []);
    const half = parseCustomRouteState({ ...kernelOutput(t, true, d.nftTag), nft: null });
    assert.equal(half.nftTag, null);
  });

  /** A runner answering reads from `kernelOutput` and recording every other command. */
  const fake = (withState: boolean) => {
    const ran: string[] = [];
    const out = kernelOutput(t, withState, d.nftTag);
    const exec: Exec = async (cmd: string, args: readonly string[], opts?: ExecOptions) => {
      const line = [cmd, ...args].join(' ');
      const ok = (stdout: string) => ({ stdout, stderr: '', code: 0 });
      if (line === 'ip -d -json link show') return ok(out.links);
      if (line === 'ip -4 -json neigh show proxy') return ok(out.proxies);
      if (line === 'ip -4 -json neigh show nud permanent') return ok(out.neighbours);
      if (line === 'ip -4 -json route show table all') return ok(out.routes);
      if (line === 'ip -4 -json rule show') return ok(out.rules);
      if (line === 'sysctl -n net.ipv4.ip_forward') return ok(out.forwarding);
      if (line === 'nft list table ip hypernet_cr')
        return out.nft === null ? { stdout: '', stderr: 'No such file', code: 1 } : ok(out.nft);
      ran.push(opts?.input ? `${line} <<\n${opts.input}` : line);
      return ok('');
    };
    return { ran, exec };
  };

  it('a first pass runs exactly these commands', async () => {
    const { ran, exec } = fake(false);
    const r = new CustomRouteReconciler({ host: 'hs', driver: new CustomRouteDriver(exec), log: silentLogger() });
    await r.reconcile(model(['cra']));
    assert.deepEqual(ran, [
      'sysctl -qw net.ipv4.ip_forward=1',
      'ip link del hcrcra00000000',
      'ip link del tapcra00000000',
      'ip link add hcrcra00000000 mtu 1450 address fa:16:3e:00:00:05 type veth peer name tapcra00000000',
      'ip link set tapcra00000000 mtu 1450',
      'ip link set hcrcra00000000 up',
      'ip neigh replace proxy 10.99.0.5 dev hcrcra00000000',
      ...['7', '8', '9'].map(
        (n) => `ip neigh replace 10.99.0.${n} lladdr fa:16:3e:00:00:0${n} dev hcrcra00000000 nud permanent`,
      ),
      `ip route replace 10.99.0.0/24 dev hcrcra00000000 table ${t}`,
      `ip route replace 10.99.0.5 via 10.20.2.10 table ${t}`,
      `ip rule add pref ${CR_FROM_RULE_PREF} from 10.20.2.10 lookup ${t}`,
      `ip rule add pref ${CR_RULE_PREF} to 10.99.0.5 iif hcrcra00000000 lookup ${t}`,
      `nft -f - <<\n${natScript(d.nft, d.nftTag)}`,
    ]);
  });

  it('a pass over the converged kernel only reads', async () => {
    const { ran, exec } = fake(true);
    const r = new CustomRouteReconciler({ host: 'hs', driver: new CustomRouteDriver(exec), log: silentLogger() });
    await r.reconcile(model(['cra']));
    assert.deepEqual(ran, []);
  });
});
