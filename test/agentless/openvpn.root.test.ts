/**
 * Agentless OpenVPN end to end in namespaces (needs root): a "hyperswitch" namespace with an underlay
 * bridge (198.51.100.1/24) and the network bridge hnb-100 (hyper 10.0.1.0/24, a tiny dnsmasq standing
 * in for the agent's DHCP), one OpenVPN server run by OpenVpnServers with certificates from our CA,
 * and "VM" namespaces running Debian's stock openvpn client from the files of the port's user_data.
 * Checks: the port's links (OpenVPN's TAP, tc redirects, the GRO veth pair, repaired when changed),
 * DHCP hyper IP + MAC + MTU + routes on the client, ping across the bridge, GRO coalescing a TCP flow
 * from the tunnel, refusal of a wrong source IP and of a foreign CA, and revocation dropping the
 * connected client for good.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { realExec, inNetns, type Exec } from '../../src/common/exec.js';
import { silentLogger } from '../../src/common/log.js';
import { CertificateAuthority } from '../../src/server/agentless/pki/ca.js';
import { dirStorage, memoryStorage } from '../../src/server/agentless/pki/storage.js';
import { OpenVpnServers } from '../../src/agent/vpn/driver.js';
import type { VpnServerSpec } from '../../src/agent/vpn/server-config.js';
import { buildUserData, type UserDataSpec } from '../../src/server/agentless/userdata.js';
import { labBootFromUserData, labClientArgv } from '../../src/lab/cloud-init.js';
import { addNetns, eventually, isRoot, removeRun, runPrefix, sh, sweepStale } from '../agent/netns.js';
import { needsRoot } from '../../testkit/preconditions.js';

const P = runPrefix('vpn');
const NS = { hs: `${P}hs`, vm: `${P}vm`, bad: `${P}bad`, peer: `${P}peer` };
const PORT_ID = randomUUID();
const MAC = 'fa:16:3e:0a:01:0a';
const VMS_IP = '198.51.100.1';
const VM_IP = '198.51.100.10';
const BAD_IP = '198.51.100.11';
const HYPER_IP = '10.0.1.10';

describe('agentless OpenVPN in namespaces', { skip: needsRoot(), timeout: 120_000 }, () => {
  let tmp = '';
  let ca: CertificateAuthority;
  let servers: OpenVpnServers;
  let spec: VpnServerSpec;
  let udSpec: UserDataSpec;
  const ex: Record<string, Exec> = {};

  /** Starts the stock client from a user_data document in `ns`, in its own directory `name`. */
  async function startClient(ns: string, name: string, userData: string): Promise<string> {
    const dir = join(tmp, name);
    await mkdir(dir, { recursive: true });
    const boot = labBootFromUserData(userData);
    for (const f of boot.files) await writeFile(join(dir, f.name), f.content, { mode: f.mode });
    const [bin, ...args] = labClientArgv(dir, boot, join(dir, 'client.pid'), join(dir, 'client.log'));
    await inNetns(realExec, ns)(bin!, args, { timeoutMs: 10_000 });
    return dir;
  }

  async function stopClient(dir: string): Promise<void> {
    const pid = Number((await readFile(join(dir, 'client.pid'), 'utf8').catch(() => '')).trim());
    if (pid > 0) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      await eventually(async () => !(await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')), 5000);
    }
  }

  const serverLog = () => readFile(join(tmp, 'hs', 'ports', PORT_ID, 'openvpn.log'), 'utf8').catch(() => '');

  before(async () => {
    await sweepStale();
    tmp = await mkdtemp(join(tmpdir(), 'hypernet-agentless-test-'));
    for (const [k, ns] of Object.entries(NS)) ex[k] = await addNetns(ns);
    // Underlay: the hyperswitch namespace bridges the VMs' provider NICs (and routes for them).
    await sh(ex.hs!, ['ip link add ul type bridge', `ip addr add ${VMS_IP}/24 dev ul`, 'ip link set ul up']);
    for (const [k, ip] of [
      ['vm', VM_IP],
      ['bad', BAD_IP],
    ] as const) {
      await sh(ex.hs!, [
        `ip link add u-${k} type veth peer name eth0 netns ${NS[k]}`,
        `ip link set u-${k} master ul up`,
      ]);
      await sh(ex[k]!, [`ip addr add ${ip}/24 dev eth0`, 'ip link set eth0 up', `ip route add default via ${VMS_IP}`]);
    }
    // Hyper network bridge with a gateway address, a peer "VM" wired directly, and DHCP.
    await sh(ex.hs!, [
      'ip link add hnb-100 type bridge',
      'ip link set hnb-100 mtu 1450',
      'ip addr add 10.0.1.1/24 dev hnb-100',
      'ip link set hnb-100 up',
      `ip link add p-peer type veth peer name eth0 netns ${NS.peer}`,
      'ip link set p-peer mtu 1450 master hnb-100 up',
    ]);
    await sh(ex.peer!, ['ip addr add 10.0.1.20/24 dev eth0', 'ip link set eth0 mtu 1450 up']);
    await ex.hs!('dnsmasq', [
      '--conf-file=/dev/null',
      '--port=0',
      '--interface=hnb-100',
      '--bind-interfaces',
      '--except-interface=lo',
      '--dhcp-range=10.0.1.0,static,255.255.255.0,10m',
      `--dhcp-host=${MAC},${HYPER_IP}`,
      '--dhcp-option=option:router,10.0.1.1',
      '--dhcp-option=option:mtu,1450',
      `--dhcp-leasefile=${join(tmp, 'leases')}`,
      `--pid-file=${join(tmp, 'dnsmasq.pid')}`,
    ]);

    ca = await CertificateAuthority.open(dirStorage(join(tmp, 'pki')));
    const server = await ca.issueServer({ name: 'hs-test', ips: [VMS_IP] });
    servers = new OpenVpnServers({ exec: realExec, log: silentLogger(), dir: join(tmp, 'hs'), netns: NS.hs });
    await servers.setCredentials({
      caPem: server.caPem,
      certPem: server.certPem,
      keyPem: server.keyPem,
      crlPem: await ca.crlPem(),
    });
    spec = {
      portId: PORT_ID,
      providerIp: VM_IP,
      macAddress: MAC,
      listenIp: VMS_IP,
      listenPort: 1194,
      mtu: 1450,
      underlayMtu: 1500,
    };
    const client = await ca.issueClient({ portId: PORT_ID, providerIp: VM_IP });
    udSpec = {
      portId: PORT_ID,
      macAddress: MAC,
      remoteIp: VMS_IP,
      remotePort: 1194,
      mtu: 1450,
      underlayMtu: 1500,
      serverName: 'hs-test',
      caPem: client.caPem,
      certPem: client.certPem,
      keyPem: client.keyPem,
    };
  });

  after(async () => {
    // Every process in these namespaces was started by this test (openvpn, dhclient, dnsmasq).
    for (const ns of Object.values(NS)) {
      const r = await realExec('ip', ['netns', 'pids', ns], { allowFail: true });
      for (const pid of r.stdout.split(/\s+/).filter(Boolean).map(Number)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    await removeRun(P);
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  let vmDir = '';

  const id11 = PORT_ID.slice(0, 11);
  const linkOf = async (name: string) =>
    JSON.parse((await ex.hs!('ip', ['-d', '-json', 'link', 'show', 'dev', name])).stdout)[0];
  const redirectOf = async (dev: string) => {
    const filters = JSON.parse((await ex.hs!('tc', ['-json', 'filter', 'show', 'dev', dev, 'ingress'])).stdout) as {
      options?: { actions?: { kind: string; to_dev: string }[] };
    }[];
    return filters.flatMap((f) => f.options?.actions ?? []).map((a) => `${a.kind}:${a.to_dev}`);
  };
  const counter = async (dev: string, what: string) =>
    Number((await ex.hs!('cat', [`/sys/class/net/${dev}/statistics/${what}`])).stdout);

  it('starts the port server on its TAP, joined by a GRO veth pair to the port interface in the bridge; ensure is idempotent and repairs', async () => {
    // An older layout made the port interface OpenVPN's TAP itself: ensure converts it.
    await ex.hs!('ip', ['tuntap', 'add', 'dev', `tap${id11}`, 'mode', 'tap']);
    assert.equal(await servers.ensure(spec, { bridge: 'hnb-100' }), 'started');
    assert.equal(await servers.ensure(spec, { bridge: 'hnb-100' }), 'unchanged');
    const port = await linkOf(`tap${id11}`);
    assert.equal(port.linkinfo.info_kind, 'veth');
    assert.equal(port.master, 'hnb-100');
    assert.equal(port.mtu, 1450);
    const vpn = await linkOf(`vpn${id11}`);
    assert.equal(vpn.linkinfo.info_kind, 'tun');
    assert.equal(vpn.mtu, 1450);
    assert.equal((await linkOf(`vps${id11}`)).linkinfo.info_kind, 'veth');
    assert.deepEqual(await redirectOf(`vpn${id11}`), [`mirred:vps${id11}`]);
    assert.deepEqual(await redirectOf(`vps${id11}`), [`mirred:vpn${id11}`]);
    assert.match((await ex.hs!('ethtool', ['-k', `tap${id11}`])).stdout, /generic-receive-offload: on/);
    assert.match((await ex.hs!('ethtool', ['-k', `vps${id11}`])).stdout, /tcp-segmentation-offload: off/);
    assert.equal((await ex.hs!('cat', [`/sys/class/net/tap${id11}/threaded`])).stdout.trim(), '1');
    assert.match(
      await readFile(join(tmp, 'hs', 'ports', PORT_ID, 'server.conf'), 'utf8'),
      new RegExp(`^dev vpn${id11}$`, 'm'),
    );
    // Drift: a redirect removed and the shim taken down by hand are put back, by ensure and by sync
    // (which reads the namespace's links once for all its ports), without restarting the server.
    const pid = await servers.pidOf(PORT_ID);
    assert.ok(pid);
    await ex.hs!('tc', ['filter', 'del', 'dev', `vps${id11}`, 'ingress']);
    await ex.hs!('ip', ['link', 'set', 'dev', `vps${id11}`, 'down']);
    assert.equal(await servers.ensure(spec, { bridge: 'hnb-100' }), 'unchanged');
    assert.deepEqual(await redirectOf(`vps${id11}`), [`mirred:vpn${id11}`]);
    assert.ok((await linkOf(`tap${id11}`)).flags.includes('LOWER_UP'));
    await ex.hs!('tc', ['filter', 'del', 'dev', `vpn${id11}`, 'ingress']);
    await ex.hs!('ip', ['link', 'set', 'dev', `tap${id11}`, 'nomaster']);
    await servers.sync([spec], { bridge: 'hnb-100' });
    assert.deepEqual(await redirectOf(`vpn${id11}`), [`mirred:vps${id11}`]);
    assert.equal((await linkOf(`tap${id11}`)).master, 'hnb-100');
    assert.equal(await servers.pidOf(PORT_ID), pid);
    // Without a bridge to set, the port interface's state is the agent's (admin_state_up=false).
    await ex.hs!('ip', ['link', 'set', 'dev', `tap${id11}`, 'down']);
    assert.equal(await servers.ensure(spec), 'unchanged');
    await servers.sync([spec]);
    assert.ok(!(await linkOf(`tap${id11}`)).flags.includes('UP'));
    assert.equal(await servers.ensure(spec, { bridge: 'hnb-100' }), 'unchanged');
    assert.ok((await linkOf(`tap${id11}`)).flags.includes('UP'));
  });

  it('a VM booted from the user_data gets its hyper IP by DHCP, its MAC, MTU and routes, and pings the peer', async () => {
    vmDir = await startClient(NS.vm, 'vm', buildUserData(udSpec));
    const got = await eventually(
      async () => (await ex.vm!('ip', ['-4', '-o', 'addr', 'show', 'dev', 'tap0'])).stdout.includes(`${HYPER_IP}/24`),
      30_000,
    );
    assert.ok(
      got,
      `no DHCP address on tap0; client log:\n${await readFile(join(vmDir, 'client.log'), 'utf8').catch(() => '')}`,
    );
    const link = JSON.parse((await ex.vm!('ip', ['-json', 'link', 'show', 'dev', 'tap0'])).stdout)[0];
    assert.equal(link.address, MAC);
    assert.equal(link.mtu, 1450);
    assert.match((await ex.vm!('ip', ['-4', 'route', 'show', 'default'])).stdout, /default via 10\.0\.1\.1 dev tap0/);
    assert.match((await ex.vm!('ip', ['-4', 'route', 'get', VMS_IP])).stdout, /dev eth0/);
    const ping = await ex.vm!('ping', ['-c', '3', '-i', '0.2', '-W', '2', '-w', '10', '10.0.1.20'], {
      allowFail: true,
    });
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
    const clients = await servers.clients(PORT_ID);
    assert.deepEqual(
      clients.map((c) => [c.commonName, c.realAddress.split(':')[0]]),
      [[PORT_ID, VM_IP]],
    );
    const nft = await ex.vm!('nft', ['list', 'table', 'inet', 'hypernet_vpn'], { allowFail: true });
    assert.match(nft.stdout, /maxseg size set rt mtu/);
  });

  it('GRO coalesces a TCP flow from the tunnel before the bridge', async () => {
    await ex.peer!('timeout', ['15', 'iperf3', '-s', '-1', '-D', '-B', '10.0.1.20', '-p', '5301']);
    const frames0 = await counter(`vps${id11}`, 'tx_packets');
    const skbs0 = await counter('p-peer', 'tx_packets');
    const r = await ex.vm!('timeout', ['15', 'iperf3', '-c', '10.0.1.20', '-p', '5301', '-t', '2', '-J'], {
      allowFail: true,
    });
    assert.equal(r.code, 0, r.stdout.slice(-500) + r.stderr);
    const frames = (await counter(`vps${id11}`, 'tx_packets')) - frames0;
    const skbs = (await counter('p-peer', 'tx_packets')) - skbs0;
    // Every frame OpenVPN wrote crossed the shim; the bridge forwarded them to the peer in fewer skbs.
    assert.ok(frames > 1000, `only ${frames} frames crossed the shim`);
    assert.ok(skbs * 1.5 < frames, `no coalescing: ${frames} frames from the tunnel, ${skbs} skbs to the peer`);
  });

  it('refuses the right certificate from the wrong provider IP', async () => {
    const dir = await startClient(NS.bad, 'bad', buildUserData(udSpec));
    const refused = await eventually(
      async () => (await serverLog()).includes(`refused tls-verify cn='${PORT_ID}' from '${BAD_IP}'`),
      20_000,
    );
    await stopClient(dir);
    assert.ok(refused, `no refusal in the server log:\n${(await serverLog()).slice(-2000)}`);
    const clients = await servers.clients(PORT_ID);
    assert.deepEqual(
      clients.map((c) => c.realAddress.split(':')[0]),
      [VM_IP],
    );
  });

  it('refuses a certificate from a foreign CA, even with the right CN and source', async () => {
    const foreign = await CertificateAuthority.open(memoryStorage(), { name: 'hypernet agentless CA' });
    const cert = await foreign.issueClient({ portId: PORT_ID, providerIp: VM_IP });
    const before = (await serverLog()).length;
    const dir = await startClient(
      NS.vm,
      'foreign',
      buildUserData({ ...udSpec, certPem: cert.certPem, keyPem: cert.keyPem }),
    );
    const refused = await eventually(
      async () => /VERIFY ERROR|certificate verify failed/.test((await serverLog()).slice(before)),
      20_000,
    );
    await stopClient(dir);
    assert.ok(refused, `no verify error in the server log:\n${(await serverLog()).slice(before, before + 3000)}`);
    assert.equal((await servers.clients(PORT_ID)).length, 1);
  });

  it('revoking the port certificate drops the connected client and keeps it out', async () => {
    const serials = await ca.revokeClient(PORT_ID);
    assert.equal(serials.length, 1);
    await servers.setCrl(await ca.crlPem());
    const before = (await serverLog()).length;
    assert.equal(await servers.dropClient(PORT_ID), 1);
    const revoked = await eventually(async () => /revoked/i.test((await serverLog()).slice(before)), 20_000);
    assert.ok(revoked, `no revocation refusal in the server log:\n${(await serverLog()).slice(before, before + 3000)}`);
    // client-kill keeps the old instance up to 5 s to deliver RESTART; then nobody is connected.
    const gone = await eventually(async () => (await servers.clients(PORT_ID)).length === 0, 10_000);
    assert.ok(gone, JSON.stringify(await servers.clients(PORT_ID)));
    const ping = await ex.vm!('ping', ['-c', '1', '-W', '1', '-w', '2', '10.0.1.20'], { allowFail: true });
    assert.notEqual(ping.code, 0);
    await stopClient(vmDir);
    // The client's down hook restored the provider default route.
    assert.match(
      (await ex.vm!('ip', ['-4', 'route', 'show', 'default'])).stdout,
      new RegExp(`default via ${VMS_IP.replace(/\./g, '\\.')} dev eth0`),
    );
  });

  it('remove() stops the server and deletes its TAP and veth pair', async () => {
    const pid = await servers.pidOf(PORT_ID);
    assert.ok(pid);
    await servers.sync([]);
    assert.equal(await servers.pidOf(PORT_ID), undefined);
    for (const name of [`tap${id11}`, `vpn${id11}`, `vps${id11}`]) {
      const link = await ex.hs!('ip', ['link', 'show', 'dev', name], { allowFail: true });
      assert.notEqual(link.code, 0, `${name} is still there`);
    }
    assert.deepEqual(await servers.ports(), []);
  });
});
