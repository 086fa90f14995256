/**
 * The metadata service end to end, as root: a real `hypernet server` (token auth, the shared
 * secret in its config), one node namespace running a real `hypernet agent` with the secret, and
 * two workload namespaces of two tenants whose networks have the same CIDR and whose workloads the
 * same address. Each gets a DHCP lease (with the host route to 169.254.169.254), then curls the
 * metadata address and must get its own instance, never the other's; forged headers and a spoofed
 * source address get nothing of another instance's; the server refuses an unsigned request.
 */
import { after, before, describe, test } from 'node:test';
import type { ChildProcess } from 'node:child_process';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../../../src/client/api.js';
import { realExec } from '../../../src/common/exec.js';
import { runDhclient, writeDhclientFiles } from '../../../src/lab/dhclient.js';
import { labPaths } from '../../../src/lab/plan.js';
import { tapName } from '../../../src/model/kernel-names.js';
import type { Network, Port, Subnet } from '../../../src/model/types.js';
import { needsRoot } from '../../../testkit/preconditions.js';
import { alive, listNetns } from '../../../testkit/runs.js';
import { addNetns, Children, eventually, removeRun } from '../netns.js';

const BIN = new URL('../../../../bin/hypernet.js', import.meta.url).pathname;
const prefix = `hnD-${process.pid}-`;
const dir = join(tmpdir(), `hypernet-test-${prefix.slice(0, -1)}`);
const sock = join(dir, 'server.sock');
const logDir = new URL('../../../../artifacts/agent-metadata/', import.meta.url).pathname;
const SECRET = 'root-test-metadata-secret-0123456789';
const TOKENS = {
  ADMIN: { project_id: 'ops', roles: ['admin'] },
  ALICE: { project_id: 'pa', roles: ['member'] },
  BOB: { project_id: 'pb', roles: ['member'] },
};
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHh5cGVybmV0dGVzdGtleWJ5dGVzMDEyMzQ1Njc4OTAx alice@laptop';

/**
 * Ends the daemons this run's agent and dhclients started (dnsmasq, the metadata proxies, dhclient),
 * by their PID files, once their command line proves they are this run's: `ip netns pids` does not
 * list a process started by `ip netns exec` from inside another namespace, as the agent starts them.
 */
function killRunDaemons(): void {
  const under = (d: string, name: RegExp) =>
    existsSync(d) ? readdirSync(d, { recursive: true, encoding: 'utf8' }).filter((f) => name.test(f)) : [];
  const pidFiles = [join(dir, 'agent'), join(dir, 'lab')].flatMap((d) => under(d, /\.pid$/).map((f) => join(d, f)));
  for (const f of pidFiles) {
    const pid = Number(readFileSync(f, 'utf8').trim());
    const cmdline = existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, 'utf8') : '';
    if (pid > 1 && cmdline.includes(dir)) process.kill(pid, 'SIGTERM');
  }
}

/** Namespaces of crashed earlier runs of this file (their PID is gone). */
async function sweepStale(): Promise<void> {
  for (const ns of await listNetns()) {
    const m = /^hnD-(\d+)-/.exec(ns);
    if (m && !alive(Number(m[1]))) await removeRun(`hnD-${m[1]}-`);
  }
}

describe('metadata service end to end (root, server, agent, two tenants)', { skip: needsRoot() }, () => {
  const children = new Children(logDir);
  const client = (token: string) => new ApiClient({ url: `unix:${sock}`, token, timeoutMs: 5_000 });
  const [admin, alice, bob] = [client('ADMIN'), client('ALICE'), client('BOB')];
  const ns = { node: `${prefix}n`, wa: `${prefix}wa`, wb: `${prefix}wb` };
  const ports: Record<'a' | 'b' | 'c', Port> = {} as Record<'a' | 'b' | 'c', Port>;
  let agent: ChildProcess | undefined;
  const startAgent = () => {
    const args = ['--server', `unix:${sock}`, '--token', 'ADMIN', '--host', 'node1', '--underlay-ip', '192.0.2.1'];
    const more = ['--cloud', 'cloud-a', '--netns-prefix', `${prefix}d-`, '--state-dir', join(dir, 'agent')];
    const secret = ['--metadata-secret-file', join(dir, 'metadata-secret')];
    agent = children.start(
      ['ip', 'netns', 'exec', ns.node, 'node', BIN, 'agent', ...args, ...more, ...secret],
      'agent',
    );
  };
  /** PIDs of the metadata proxies, from their PID files. */
  const proxyPids = () => {
    const d = join(dir, 'agent', 'metadata');
    return readdirSync(d)
      .filter((f) => f.endsWith('.pid'))
      .sort()
      .map((f) => readFileSync(join(d, f), 'utf8').trim());
  };
  /** A bounded curl of the metadata address from a workload namespace. */
  const curl = (wl: string, path: string, extra: string[] = []) =>
    realExec('ip', ['netns', 'exec', wl, 'curl', '-sS', '-m', '5', ...extra, `http://169.254.169.254${path}`], {
      allowFail: true,
      timeoutMs: 10_000,
    });

  before(async () => {
    await sweepStale();
    rmSync(dir, { recursive: true, force: true });
    rmSync(logDir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'tokens.json'), JSON.stringify(TOKENS));
    writeFileSync(join(dir, 'server.yaml'), `metadata_proxy_shared_secret: ${SECRET}\n`);
    writeFileSync(join(dir, 'metadata-secret'), `${SECRET}\n`, { mode: 0o600 });
    const serverArgs = ['--host', '127.0.0.1', '--port', '0', '--unix-socket', sock, '--data-dir', join(dir, 'db')];
    const authArgs = ['--auth', 'token', '--tokens-file', join(dir, 'tokens.json')];
    children.start(['node', BIN, 'server', ...serverArgs, ...authArgs, '--config', join(dir, 'server.yaml')], 'server');
    assert.ok(
      await eventually(async () => existsSync(sock) && (await admin.list('networks')) !== undefined, 15_000),
      'server up',
    );

    const node = await addNetns(ns.node);
    // The underlay: one end of a veth pair held in the node (no dummy driver on every kernel).
    await node('ip', ['link', 'add', 'u0', 'type', 'veth', 'peer', 'name', 'u1']);
    await node('ip', ['addr', 'add', '192.0.2.1/24', 'dev', 'u0']);
    await node('ip', ['link', 'set', 'u0', 'up']);
    await addNetns(ns.wa);
    await addNetns(ns.wb);

    // Two tenants, the same CIDR; their workloads get the same address.
    const tenantNet = async (c: ApiClient, name: string) => {
      const net = await c.create<Network>('networks', 'network', { name });
      const sub = await c.create<Subnet>('subnets', 'subnet', {
        network_id: net.id,
        cidr: '10.0.1.0/24',
        ip_version: 4,
      });
      return { net, sub };
    };
    const a = await tenantNet(alice, 'md-a');
    const b = await tenantNet(bob, 'md-b');
    const mk = (project: string, net: { net: Network; sub: Subnet }, device: string, ip: string) =>
      admin.create<Port>('ports', 'port', {
        project_id: project,
        network_id: net.net.id,
        device_id: device,
        device_owner: 'compute:nova',
        'binding:host_id': 'node1',
        fixed_ips: [{ subnet_id: net.sub.id, ip_address: ip }],
      });
    ports.a = await mk('pa', a, 'vm-a', '10.0.1.11');
    ports.b = await mk('pb', b, 'vm-b', '10.0.1.11');
    ports.c = await mk('pa', a, 'vm-c', '10.0.1.12'); // on the node, no workload: a target to forge
    await alice.create('instances', 'instance', {
      device_id: 'vm-a',
      name: 'alpha',
      user_data: '#cloud-config\n# alpha-user-data\n',
      public_keys: { laptop: KEY },
    });
    await bob.create('instances', 'instance', { device_id: 'vm-b', name: 'bravo', user_data: 'bravo-user-data' });
    await alice.create('instances', 'instance', { device_id: 'vm-c', name: 'charlie', user_data: 'charlie-secret' });

    // Play "nova": a veth per port, the tap end on the node, eth0 in the workload.
    for (const [wl, p] of [
      [ns.wa, ports.a],
      [ns.wb, ports.b],
    ] as const) {
      await node('ip', ['link', 'add', tapName(p.id), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', wl]);
      await realExec('ip', ['-n', wl, 'link', 'set', 'eth0', 'address', p.mac_address, 'up']);
    }
    startAgent();
    const paths = labPaths(join(dir, 'lab'));
    writeDhclientFiles(paths);
    await Promise.all([
      runDhclient(realExec, paths, 'wa', ns.wa, 'eth0', 60_000),
      runDhclient(realExec, paths, 'wb', ns.wb, 'eth0', 60_000),
    ]);
  });

  after(async () => {
    await children.stopAll();
    killRunDaemons();
    await removeRun(prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  test('DHCP gives each workload the host route to the metadata address', async () => {
    for (const wl of [ns.wa, ns.wb]) {
      const r = await realExec('ip', ['-n', wl, 'route', 'show', '169.254.169.254']);
      assert.match(r.stdout, /^169\.254\.169\.254 via 10\.0\.1\.\d+ dev eth0/m, `${wl}: ${r.stdout}`);
    }
    // The address itself is not answered by ARP (only the local DHCP port is the way to it).
    const arp = await realExec(
      'ip',
      ['netns', 'exec', ns.wa, 'arping', '-c', '2', '-w', '3', '-I', 'eth0', '169.254.169.254'],
      {
        allowFail: true,
        timeoutMs: 10_000,
      },
    );
    assert.notEqual(arp.code, 0, `ARP for 169.254.169.254 answered: ${arp.stdout}`);
  });

  test('each workload gets its own meta_data.json, user_data and EC2 keys', async () => {
    const up = await eventually(async () => (await curl(ns.wa, '/openstack/latest/meta_data.json')).code === 0, 20_000);
    assert.ok(up, 'metadata answers from workload A');
    const metaA = JSON.parse((await curl(ns.wa, '/openstack/latest/meta_data.json')).stdout);
    assert.equal(metaA.uuid, 'vm-a');
    assert.equal(metaA.hostname, 'alpha');
    assert.deepEqual(metaA.public_keys, { laptop: KEY });
    assert.equal((await curl(ns.wa, '/openstack/latest/user_data')).stdout, '#cloud-config\n# alpha-user-data\n');
    assert.equal((await curl(ns.wa, '/latest/meta-data/instance-id')).stdout, 'vm-a');
    assert.equal((await curl(ns.wa, '/latest/meta-data/local-ipv4')).stdout, '10.0.1.11');
    assert.equal((await curl(ns.wa, '/latest/meta-data/public-keys/0/openssh-key')).stdout, KEY);
    // Same address, other tenant's network: its own instance.
    assert.ok(await eventually(async () => (await curl(ns.wb, '/latest/meta-data/instance-id')).code === 0, 20_000));
    assert.equal((await curl(ns.wb, '/latest/meta-data/instance-id')).stdout, 'vm-b');
    assert.equal((await curl(ns.wb, '/latest/user-data')).stdout, 'bravo-user-data');
    assert.equal(JSON.parse((await curl(ns.wb, '/openstack/latest/meta_data.json')).stdout).uuid, 'vm-b');
  });

  test("forged headers get the caller's own data; a spoofed source gets nothing", async () => {
    const forged = [
      ['X-Forwarded-For', '10.0.1.12'],
      ['X-Hypernet-Network-Id', ports.c.network_id],
      ['X-Instance-ID', 'vm-c'],
      ['X-Tenant-ID', 'pa'],
      ['X-Hypernet-Port-Id', ports.c.id],
      ['X-Instance-ID-Signature', 'f'.repeat(64)],
    ].flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
    const r = await curl(ns.wa, '/openstack/latest/user_data', forged);
    assert.equal(r.stdout, '#cloud-config\n# alpha-user-data\n');
    // Workload A takes port C's address: anti-spoofing drops it, so no answer at all.
    await realExec('ip', ['-n', ns.wa, 'addr', 'add', '10.0.1.12/32', 'dev', 'eth0']);
    try {
      const spoofed = await curl(ns.wa, '/openstack/latest/user_data', ['--interface', '10.0.1.12', '-m', '3']);
      assert.notEqual(spoofed.code, 0, `spoofed source answered: ${spoofed.stdout}`);
      assert.doesNotMatch(spoofed.stdout, /charlie/);
    } finally {
      await realExec('ip', ['-n', ns.wa, 'addr', 'del', '10.0.1.12/32', 'dev', 'eth0']);
    }
  });

  // The proxies are adopted when their namespace is the one the new agent sees. An agent started by
  // `ip netns exec` makes its DHCP namespaces inside that command's own mount namespace, so its
  // successor does not see them and DHCP makes them again; the proxies must then follow, none left behind.
  test('a restarted agent keeps metadata served and leaves no stale proxy', async () => {
    const before = proxyPids();
    assert.equal(before.length, 2);
    await children.stop(agent!);
    startAgent();
    assert.ok(await eventually(async () => existsSync(join(dir, 'agent', 'metadata', 'agent.sock')), 20_000));
    const served = async () =>
      (await curl(ns.wb, '/latest/meta-data/instance-id')).stdout === 'vm-b' &&
      (await curl(ns.wa, '/latest/meta-data/instance-id')).stdout === 'vm-a';
    assert.ok(await eventually(served, 20_000), 'both workloads get their instance ids again');
    assert.equal(agent!.exitCode, null, 'agent still running');
    const now = proxyPids();
    assert.equal(now.length, 2);
    for (const pid of before.filter((p) => !now.includes(p)))
      assert.equal(alive(Number(pid)), false, `replaced proxy ${pid} still running`);
  });

  test('the server refuses a request without a valid signature', async () => {
    const plain = new ApiClient({ url: `unix:${sock}` });
    const headers = { 'x-instance-id': 'vm-c', 'x-tenant-id': 'pa', 'x-hypernet-port-id': ports.c.id };
    const unsigned = await plain.raw('GET', '/metadata/openstack/latest/user_data', undefined, headers);
    assert.equal(unsigned.status, 403);
    const bad = { ...headers, 'x-instance-id-signature': '0'.repeat(64) };
    const r = await plain.raw('GET', '/metadata/openstack/latest/user_data', undefined, bad);
    assert.equal(r.status, 403);
    assert.doesNotMatch(String(r.body), /charlie/);
  });
});
