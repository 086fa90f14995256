/**
 * Agentless mode end to end (needs root): a 2-cloud lab whose server runs the agentless plugin with
 * the `lab` provider. vm-a1/vm-a2/vm-b1 have agents; vm-b2 has none — only the stock openvpn client
 * booted from its agentless port's user_data, via the tenant's hyperswitch (a namespace running a real
 * `hypernet agent --agentless`). Checks the datapath (DHCP over the tunnel, cross-cloud ping), admission
 * (wrong provider IP, foreign CA, revoked certificate), the hyperswitch lifecycle at tenant and vm
 * level, tunnel teardown on delete, and the two resources over HTTP (filters, 404s, validation).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiClient } from '../../src/client/api.js';
import { CertificateAuthority } from '../../src/server/agentless/pki/ca.js';
import { memoryStorage } from '../../src/server/agentless/pki/storage.js';
import { buildUserData } from '../../src/server/agentless/userdata.js';
import { labBootFromUserData } from '../../src/lab/cloud-init.js';
import { listNetns } from '../../src/lab/netns.js';
import { addAgentlessVm, bootFromUserData, CLIENT_TAP, clientDir, stopClient } from '../../src/lab/agentless.js';
import { vmInterface } from '../../src/lab/vms.js';
import { vmTable } from '../../src/lab/report.js';
import { labStatus } from '../../src/lab/status.js';
import type { AgentlessPortWire, HyperswitchWire } from '../../src/model/agentless.js';
import type { Port } from '../../src/model/types.js';
import { deps, eventually, expectStatus, isRoot, newWorld, nsRun, readLog, sweepStaleRuns } from './fixture.js';
import { needsRoot } from '../../testkit/preconditions.js';

const world = newWorld('g', { clouds: 2, vmsPerCloud: 2, agentlessVms: 1 });
const plan = world.plan;
const providerDir = join(plan.paths.serverDataDir, 'lab-provider');
const vpnLog = (hs: string, portId: string) => join(providerDir, 'a', hs, 'openvpn', 'ports', portId, 'openvpn.log');

describe('agentless mode in a lab', { skip: needsRoot(), timeout: 300_000 }, () => {
  let api: ApiClient;
  let hs: HyperswitchWire;
  let b2: { port: Port; al: AgentlessPortWire };
  const a1 = () => world.state.vms.find((v) => v.name === 'vm-a1')!;
  const b2Vm = () => plan.vms.find((v) => v.name === 'vm-b2')!;

  before(async () => {
    await sweepStaleRuns();
    await world.up();
    api = world.api;
    const rec = world.state.vms.find((v) => v.name === 'vm-b2')!;
    const [al] = await api.list<AgentlessPortWire>('agentlessports', { port_id: rec.portId });
    b2 = { port: await api.show<Port>('ports', 'port', rec.portId), al: al! };
    hs = await api.show<HyperswitchWire>('hyperswitches', 'hyperswitch', al!.hyperswitch_id);
  });

  after(async () => {
    // Post-mortem copies of the server's and the hyperswitch agents' logs (artifacts/agentless).
    const dest = join(process.cwd(), 'artifacts', 'agentless');
    rmSync(dest, { recursive: true, force: true });
    mkdirSync(dest, { recursive: true });
    for (const [from, to] of [
      [plan.paths.logDir, 'lab'],
      [join(providerDir, 'logs'), 'hyperswitches'],
    ] as const) {
      if (existsSync(from)) cpSync(from, join(dest, to), { recursive: true });
    }
    await world.down();
  });

  it('the agentless VM got its hyper IP by DHCP over OpenVPN and reaches a VM in the other cloud', async () => {
    const got = await vmInterface(deps.exec, b2Vm().ns, CLIENT_TAP);
    assert.equal(got.ip, b2.port.fixed_ips[0]!.ip_address);
    assert.equal(got.mac, b2.port.mac_address);
    assert.equal(got.mtu, plan.overlayMtu);
    // No agent for it: its port is bound to the hyperswitch's agent, which reports it ACTIVE.
    assert.equal(b2.port['binding:host_id'], hs.id);
    assert.ok(
      await eventually(async () => (await api.show<Port>('ports', 'port', b2.port.id)).status === 'ACTIVE', 15_000),
    );
    assert.ok(await world.pingRetry(b2Vm().ns, a1().ip, 5), 'vm-b2 → vm-a1');
    assert.ok(await world.pingRetry(a1().ns, b2.port.fixed_ips[0]!.ip_address, 5), 'vm-a1 → vm-b2');
    // The tunnel runs over the VM's provider NIC only.
    const nic = JSON.parse((await nsRun(b2Vm().ns, 'ip', ['-json', 'addr', 'show', 'dev', 'eth0'])).stdout)[0];
    assert.equal(nic.addr_info[0].local, b2.al.private_ip);
    // `lab up`'s table and `lab status` know the agentless VM: its hyperswitch's underlay IP, its hyper
    // IP on the OpenVPN TAP, the hyperswitch's agent alive.
    assert.match(vmTable(plan, world.state.vms), new RegExp(`vm-b2 .*${hs.id} .*${hs.data_ip!.replace(/\./g, '\\.')}`));
    const status = await labStatus(world.state, deps.exec);
    assert.deepEqual(
      status.vms.find((v) => v.name === 'vm-b2'),
      {
        name: 'vm-b2',
        expectedIp: b2.port.fixed_ips[0]!.ip_address,
        ifname: CLIENT_TAP,
        ip: b2.port.fixed_ips[0]!.ip_address,
        ok: true,
      },
    );
    assert.deepEqual(
      status.agents.find((a) => a.host === hs.id),
      { host: hs.id, alive: true },
    );
    assert.ok(
      status.vms.every((v) => v.ok),
      JSON.stringify(status.vms),
    );
  });

  it('the hyperswitch: designed attributes, a real agent registered in its cloud', async () => {
    for (const k of [
      'id',
      'flavor',
      'device_id',
      'tenant_id',
      'instance_id',
      'instance_type',
      'private_ip',
      'mgnt_ip',
      'data_ip',
      'vms_ip_0',
      'vms_ip_1',
      'vms_ip_2',
    ]) {
      assert.ok(k in hs, k);
    }
    assert.equal(hs.flavor, '1G');
    assert.equal(hs.device_id, null);
    assert.equal(hs.tenant_id, b2.port.project_id);
    assert.match(hs.vms_ip_0!, /^203\.0\.113\./);
    const agents = await api.list<{ host: string; alive: boolean; configurations: { cloud: string } }>('agents', {
      host: hs.id,
    });
    assert.equal(agents.length, 1);
    assert.equal(agents[0]!.configurations.cloud, plan.agentless!.cloud);
  });

  it('refuses the right certificate from the wrong provider IP', async () => {
    const bad = await world.newVmSite(plan.clouds[1]!, 'bad');
    const hsNs = `${plan.prefix}${hs.id}`;
    await deps.exec('ip', ['-n', hsNs, 'link', 'add', 'nbad', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', bad.ns]);
    await deps.exec('ip', ['-n', hsNs, 'link', 'set', 'nbad', 'master', 'vms0', 'up']);
    await deps.exec('ip', ['-n', bad.ns, 'addr', 'add', '203.0.113.94/27', 'dev', 'eth0']);
    await deps.exec('ip', ['-n', bad.ns, 'link', 'set', 'eth0', 'up']);
    const dir = join(plan.paths.stateDir, 'agentless-vms', 'bad');
    await bootFromUserData(deps.exec, bad.ns, dir, b2.al.user_data);
    const log = vpnLog(hs.id, b2.port.id);
    const refused = await eventually(
      async () => readLog(log).includes(`refused tls-verify cn='${b2.port.id}' from '203.0.113.94'`),
      20_000,
    );
    const tap = await vmInterface(deps.exec, bad.ns, CLIENT_TAP);
    await stopClient(dir, deps.clock);
    assert.ok(refused, readLog(log).slice(-2000));
    assert.equal(tap.ip, null);
    assert.ok(await world.pingRetry(b2Vm().ns, a1().ip, 3), 'the real client still works');
  });

  it('refuses a certificate of a foreign CA from the right IP', async () => {
    const foreign = await CertificateAuthority.open(memoryStorage(), { name: 'hypernet agentless CA' });
    const cert = await foreign.issueClient({ portId: b2.port.id, providerIp: b2.al.private_ip });
    const boot = labBootFromUserData(b2.al.user_data);
    const conf = boot.files.find((f) => f.name === boot.configName)!.content;
    const remote = /^remote (\S+) (\d+)$/m.exec(conf)!;
    // The real CA stays the client's trust anchor (so the client accepts the server and shows its cert).
    const realCa = /<ca>\n([\s\S]*?)\n<\/ca>/.exec(conf)![1]!;
    const ud = buildUserData({
      portId: b2.port.id,
      macAddress: '02:00:00:00:00:99',
      remoteIp: remote[1]!,
      remotePort: Number(remote[2]),
      mtu: plan.overlayMtu,
      underlayMtu: plan.underlayMtu,
      serverName: hs.id,
      caPem: realCa,
      certPem: cert.certPem,
      keyPem: cert.keyPem,
    });
    const log = vpnLog(hs.id, b2.port.id);
    const before = readLog(log).length;
    const dir = join(plan.paths.stateDir, 'agentless-vms', 'foreign');
    await bootFromUserData(deps.exec, b2Vm().ns, dir, ud);
    const refused = await eventually(
      async () => /VERIFY ERROR|certificate verify failed/.test(readLog(log).slice(before)),
      20_000,
    );
    await stopClient(dir, deps.clock);
    assert.ok(refused, readLog(log).slice(before, before + 3000));
    assert.ok(await world.pingRetry(b2Vm().ns, a1().ip, 3));
  });

  it('tenant level: a second port reuses the hyperswitch; deleting it tears its tunnel down and revokes its certificate', async () => {
    const site = await world.newVmSite(plan.clouds[1]!, 'vm-b3');
    const b3 = await addAgentlessVm({ api, exec: deps.exec, clock: deps.clock, plan }, site, world.state.networkId!);
    assert.equal(b3.agentlessPort.hyperswitch_id, hs.id);
    assert.equal((await api.list('hyperswitches', { tenant_id: hs.tenant_id! })).length, 1);
    assert.ok(await world.pingRetry(site.ns, a1().ip, 5));
    const oldUserData = b3.agentlessPort.user_data;

    await api.delete('agentlessports', b3.agentlessPort.id);
    // The agent stops that port's server: the connected client is cut off at once.
    const cut = await eventually(async () => !(await world.ping(site.ns, a1().ip)), 15_000);
    assert.ok(cut, 'the deleted port still passes traffic');
    assert.ok(existsSync(join(plan.paths.stateDir)));
    assert.equal(
      (await api.list('hyperswitches', { id: hs.id })).length,
      1,
      'the tenant still has vm-b2: the hyperswitch stays',
    );
    await stopClient(b3.dir, deps.clock);

    // Same hyper port made agentless again: same provider IP and VPN port, new certificate.
    const again = await api.create<AgentlessPortWire>('agentlessports', 'agentlessport', { port_id: b3.port.id });
    assert.equal(again.private_ip, b3.agentlessPort.private_ip);
    assert.notEqual(again.user_data, oldUserData);
    const log = vpnLog(hs.id, b3.port.id);
    try {
      const up = await eventually(async () => readLog(log).includes('Initialization Sequence Completed'), 20_000);
      assert.ok(up, 'the re-created port has no OpenVPN server');
      await new Promise((r) => setTimeout(r, 2000));
      const before = readLog(log).length;
      const oldDir = join(plan.paths.stateDir, 'agentless-vms', 'vm-b3-old');
      await bootFromUserData(deps.exec, site.ns, oldDir, oldUserData);
      const revoked = await eventually(async () => /revoked/i.test(readLog(log).slice(before)), 30_000);
      await stopClient(oldDir, deps.clock);
      assert.ok(
        revoked,
        `the revoked certificate was not refused:\n${readLog(log).slice(before, before + 3000)}\nclient:\n${readLog(join(oldDir, 'client.log')).slice(-1500)}`,
      );
      assert.equal((await vmInterface(deps.exec, site.ns, CLIENT_TAP)).ip, null);
    } finally {
      await api.delete('agentlessports', again.id);
    }
  });

  it('vm level: a port with device_id gets its own hyperswitch, removed with it', async () => {
    const site = await world.newVmSite(plan.clouds[1]!, 'vm-b4');
    const b4 = await addAgentlessVm({ api, exec: deps.exec, clock: deps.clock, plan }, site, world.state.networkId!, {
      deviceLevel: true,
    });
    const [own] = await api.list<HyperswitchWire>('hyperswitches', { device_id: 'vm-b4' });
    assert.ok(own);
    assert.equal(b4.agentlessPort.hyperswitch_id, own.id);
    assert.notEqual(own.id, hs.id);
    assert.ok(await world.pingRetry(site.ns, a1().ip, 5));
    assert.ok(
      await world.pingRetry(site.ns, b2.port.fixed_ips[0]!.ip_address, 5),
      'two agentless VMs of two hyperswitches',
    );
    await api.delete('agentlessports', b4.agentlessPort.id);
    await stopClient(b4.dir, deps.clock);
    assert.equal((await api.list('hyperswitches', { device_id: 'vm-b4' })).length, 0);
    assert.ok(
      !(await listNetns(deps.exec)).includes(`${plan.prefix}${own.id}`),
      'namespace of the vm-level hyperswitch removed',
    );
    assert.equal((await api.show<Port>('ports', 'port', b4.port.id))['binding:host_id'], '');
  });

  describe('API over HTTP', () => {
    it('lists with the designed filters, shows, and 404s', async () => {
      const all = await api.list<AgentlessPortWire>('agentlessports');
      assert.deepEqual(
        all.map((p) => p.id),
        [b2.al.id],
      );
      for (const [k, v] of [
        ['port_id', b2.port.id],
        ['device_id', 'vm-b2'],
        ['private_ip', b2.al.private_ip],
        ['tenant_id', b2.port.project_id],
        ['index', '0'],
        ['name', b2.al.id],
        ['id', b2.al.id],
      ] as const) {
        assert.deepEqual(
          (await api.list<AgentlessPortWire>('agentlessports', { [k]: v })).map((p) => p.id),
          [b2.al.id],
          k,
        );
      }
      for (const [k, v] of [
        ['port_id', 'nope'],
        ['device_id', 'nope'],
        ['private_ip', '203.0.113.99'],
        ['tenant_id', 'nope'],
        ['index', '2'],
      ] as const) {
        assert.deepEqual(await api.list('agentlessports', { [k]: v }), [], k);
      }
      const shown = await api.show<AgentlessPortWire>('agentlessports', 'agentlessport', b2.al.id);
      for (const k of ['id', 'port_id', 'flavor', 'device_id', 'index', 'user_data', 'project_id'])
        assert.ok(k in shown, k);
      assert.match(shown.user_data, /^#cloud-config\n/);
      assert.deepEqual((await api.list('hyperswitches', { name: hs.id })).length, 1);
      assert.deepEqual((await api.list('hyperswitches', { tenant_id: 'nope' })).length, 0);
      assert.deepEqual((await api.list('hyperswitches', { device_id: 'nope' })).length, 0);
      await expectStatus(api.show('agentlessports', 'agentlessport', 'eni-nope'), 404, 'AgentlessportNotFound');
      await expectStatus(api.show('hyperswitches', 'hyperswitch', 'nope'), 404, 'HyperswitchNotFound');
      await expectStatus(api.delete('agentlessports', 'eni-nope'), 404, 'AgentlessportNotFound');
      await expectStatus(api.list('agentlessports', { color: 'red' }), 400);
      const ext = await api.call<{ extensions: { alias: string }[] }>('GET', '/v2.0/extensions');
      assert.ok(ext.extensions.some((e) => e.alias === 'agentlessport'));
      assert.ok(ext.extensions.some((e) => e.alias === 'hyperswitch'));
    });

    it('validates bodies', async () => {
      await expectStatus(api.create('agentlessports', 'agentlessport', {}), 400);
      await expectStatus(api.create('agentlessports', 'agentlessport', { port_id: b2.port.id, flavor: '5G' }), 400);
      await expectStatus(api.create('agentlessports', 'agentlessport', { port_id: b2.port.id, index: 3 }), 400);
      await expectStatus(api.create('agentlessports', 'agentlessport', { port_id: b2.port.id, user_data: 'x' }), 400);
      await expectStatus(
        api.create('agentlessports', 'agentlessport', { port_id: 'no-such-port' }),
        404,
        'PortNotFound',
      );
      await expectStatus(
        api.create('agentlessports', 'agentlessport', { port_id: b2.port.id }),
        409,
        'AgentlessportExists',
      );
      await expectStatus(api.create('hyperswitches', 'hyperswitch', { instance_id: 'i-1' }), 400);
      await expectStatus(
        api.create('hyperswitches', 'hyperswitch', { tenant_id: hs.tenant_id }),
        409,
        'HyperswitchExists',
      );
      await expectStatus(api.delete('hyperswitches', hs.id), 409, 'HyperswitchInUse');
      await expectStatus(api.update('agentlessports', 'agentlessport', b2.al.id, { index: 1 }), 400); // PUT moves a port (cloud) only
    });

    it('creates and deletes a hyperswitch directly', async () => {
      const h = await api.create<HyperswitchWire>('hyperswitches', 'hyperswitch', {
        tenant_id: 'tenant-x',
        flavor: '0G',
      });
      assert.equal(h.flavor, '0G');
      assert.equal(h.tenant_id, 'tenant-x');
      assert.ok((await listNetns(deps.exec)).includes(`${plan.prefix}${h.id}`));
      await api.delete('hyperswitches', h.id);
      await expectStatus(api.show('hyperswitches', 'hyperswitch', h.id), 404);
      assert.ok(!(await listNetns(deps.exec)).includes(`${plan.prefix}${h.id}`));
    });
  });

  it('the last port of the tenant takes the hyperswitch with it', async () => {
    await api.delete('agentlessports', b2.al.id);
    await stopClient(clientDir(plan, 'vm-b2'), deps.clock);
    assert.deepEqual(await api.list('hyperswitches'), []);
    assert.ok(
      !(await listNetns(deps.exec)).some(
        (n) => n.startsWith(`${plan.prefix}hst-`) || n.startsWith(`${plan.prefix}hsv-`),
      ),
    );
  });
});
