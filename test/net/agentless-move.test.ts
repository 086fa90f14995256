/**
 * Moving agentless ports to another cloud (needs root): a 2-cloud lab whose agentless provider has a
 * home cloud (cloud-b, where vm-b2 starts with only the stock openvpn client) and a second cloud
 * (cloud-a: other vms subnets, other hyperswitches). vm-b3 joins cloud-b's tenant hyperswitch too.
 * vm-b2 moves with `hypernet lab migrate`'s code path (PUT /v2.0/agentlessports/{id} {"cloud"}, then
 * the client restarted from the new user_data) while vm-b1 pings it every 10 ms: it keeps its hyper
 * IP (by DHCP) and MAC, reaches VMs of both clouds, the old hyperswitch stays (vm-b3 still uses it)
 * but serves vm-b2 no more, and its old certificate is refused by the new hyperswitch (revoked). Then
 * vm-b3 moves too: the tenant's cloud-a hyperswitch is reused and the old one, now unused, is removed;
 * then the CLI (`hypernet agentless set --cloud … --user-data-out FILE`) moves it home again.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiClient } from '../../src/client/api.js';
import { buildUserData } from '../../src/server/agentless/userdata.js';
import { labBootFromUserData } from '../../src/lab/cloud-init.js';
import {
  addAgentlessVm,
  bootFromUserData,
  CLIENT_TAP,
  clientDir,
  stopClient,
  waitForLease,
} from '../../src/lab/agentless.js';
import { migrateMeasured } from '../../src/lab/migrate.js';
import { listNetns } from '../../src/lab/netns.js';
import { vmInterface } from '../../src/lab/vms.js';
import type { AgentlessPortWire, HyperswitchWire } from '../../src/model/agentless.js';
import type { Port } from '../../src/model/types.js';
import { hypernet } from '../ctl/server.js';
import { deps, eventually, expectStatus, isRoot, newWorld, readLog, sweepStaleRuns, teardown } from './fixture.js';
import { needsRoot } from '../../testkit/preconditions.js';

/** Longest the moved VM may stay unreachable (ping blackout) and the client switch may take. */
const BLACKOUT_BOUND_MS = 5000;
const world = newWorld('w', { clouds: 2, vmsPerCloud: 2, agentlessVms: 1 });
const plan = world.plan;
const providerDir = (cloud: string) =>
  join(plan.paths.serverDataDir, cloud === plan.agentless!.cloud ? 'lab-provider' : `lab-provider-${cloud}`);
const vpnLog = (cloud: string, hs: string, portId: string) =>
  join(providerDir(cloud), 'a', hs, 'openvpn', 'ports', portId, 'openvpn.log');
const vm = (name: string) => world.state.vms.find((v) => v.name === name)!;
const block = (conf: string, tag: string) => new RegExp(`<${tag}>\\n([\\s\\S]*?)\\n</${tag}>`).exec(conf)![1]!;
const clientConf = (userData: string) => {
  const boot = labBootFromUserData(userData);
  return boot.files.find((f) => f.name === boot.configName)!.content;
};

describe('agentless ports move across clouds', { skip: needsRoot(), timeout: 300_000 }, () => {
  let api: ApiClient;
  const home = () => plan.agentless!.cloud;
  const other = () => plan.agentless!.others[0]!.cloud;
  let b3Dir = '';

  before(async () => {
    await sweepStaleRuns();
    await world.up();
    api = world.api;
    const site = await world.newVmSite(plan.clouds[1]!, 'vm-b3');
    const b3 = await addAgentlessVm({ api, exec: deps.exec, clock: deps.clock, plan }, site, world.state.networkId!);
    b3Dir = b3.dir;
    world.state.vms.push({
      name: 'vm-b3',
      cloud: home(),
      ns: site.ns,
      hostId: b3.agentlessPort.hyperswitch_id,
      portId: b3.port.id,
      mac: b3.port.mac_address,
      ip: b3.ip,
      tap: CLIENT_TAP,
    });
    world.save();
  });

  after(async () => {
    if (b3Dir) await stopClient(b3Dir, deps.clock);
    await teardown(world, 'agentless-move');
  });

  it('validates a move: unknown cloud 400, same cloud 409, unknown port 404, other attributes 400', async () => {
    const [al] = await api.list<AgentlessPortWire>('agentlessports', { port_id: vm('vm-b2').portId });
    assert.equal(al!.cloud, home());
    await expectStatus(api.update('agentlessports', 'agentlessport', al!.id, { cloud: 'nowhere' }), 400);
    await expectStatus(
      api.update('agentlessports', 'agentlessport', al!.id, { cloud: home() }),
      409,
      'AgentlessportInCloud',
    );
    await expectStatus(
      api.update('agentlessports', 'agentlessport', 'eni-nope', { cloud: other() }),
      404,
      'AgentlessportNotFound',
    );
    await expectStatus(api.update('agentlessports', 'agentlessport', al!.id, { cloud: other(), index: 1 }), 400);
    await expectStatus(api.update('hyperswitches', 'hyperswitch', al!.hyperswitch_id, { flavor: '0G' }), 405);
  });

  it('vm-b2 moves to the other cloud: same hyper IP (DHCP) and MAC, new NIC and endpoint, old certificate revoked', async (t) => {
    const b2 = vm('vm-b2');
    const [before] = await api.list<AgentlessPortWire>('agentlessports', { port_id: b2.portId });
    const oldHs = before!.hyperswitch_id;
    const cloudA = plan.clouds.find((c) => c.label === other())!;
    const report = await migrateMeasured(world, b2, cloudA, vm('vm-b1'));
    t.diagnostic(
      `api ${report.prepareMs} ms, client switch ${report.switchMs} ms, blackout ${report.probe?.blackoutMs} ms, probe ${JSON.stringify(report.probe)}`,
    );
    console.log(
      `agentless move vm-b2 → ${other()}: blackout ${report.probe?.blackoutMs} ms (api ${report.prepareMs} ms, client switch ${report.switchMs} ms)`,
    );
    assert.ok(
      report.probe && report.probe.received > 0 && Number.isFinite(report.probe.blackoutMs),
      'the prober saw vm-b2 answer again',
    );
    // The API activates only once the target serves the port, the client retries its handshake every
    // second and dhclient skips INIT-REBOOT: measured 2.4 s here (it was 12-26 s).
    assert.ok(
      report.probe.blackoutMs < BLACKOUT_BOUND_MS,
      `blackout ${report.probe.blackoutMs} ms ≥ ${BLACKOUT_BOUND_MS} ms`,
    );
    assert.ok(report.switchMs < BLACKOUT_BOUND_MS, `client switch ${report.switchMs} ms ≥ ${BLACKOUT_BOUND_MS} ms`);
    // The PUT waits (at most 20 s) for the target agent to report the port's OpenVPN server running.
    assert.ok(
      report.prepareMs < 15_000,
      `the PUT took ${report.prepareMs} ms: did the target agent report the port served?`,
    );

    const [after] = await api.list<AgentlessPortWire>('agentlessports', { port_id: b2.portId });
    assert.equal(after!.cloud, other());
    assert.notEqual(after!.id, before!.id, 'a new provider NIC');
    assert.notEqual(after!.hyperswitch_id, oldHs);
    assert.match(
      after!.private_ip,
      /^203\.0\.113\.(1[6-8]\d|19[01])$/,
      "the NIC is on the other cloud's vms subnet (203.0.113.160/27)",
    );
    assert.equal((await api.list('agentlessports', { id: before!.id })).length, 0, 'the old NIC is gone');
    const hs = await api.show<HyperswitchWire>('hyperswitches', 'hyperswitch', after!.hyperswitch_id);
    assert.equal(hs.cloud, other());
    assert.notEqual(
      /^remote (\S+) /m.exec(clientConf(after!.user_data))![1],
      /^remote (\S+) /m.exec(clientConf(before!.user_data))![1],
      'new VPN endpoint',
    );

    const port = await api.show<Port>('ports', 'port', b2.portId);
    const tap = await vmInterface(deps.exec, b2.ns, CLIENT_TAP);
    assert.equal(tap.ip, port.fixed_ips[0]!.ip_address);
    assert.equal(tap.mac, port.mac_address);
    assert.equal(
      (await vmInterface(deps.exec, b2.ns, `${plan.agentless!.others[0]!.nicPrefix}0`)).ip,
      after!.private_ip,
    );
    assert.equal(port['binding:host_id'], hs.id);
    assert.deepEqual(port['binding:inactive'] ?? [], []);
    assert.ok(
      await eventually(async () => (await api.show<Port>('ports', 'port', b2.portId)).status === 'ACTIVE', 15_000),
    );
    const agents = await api.list<{ configurations: { cloud: string } }>('agents', { host: hs.id });
    assert.equal(agents[0]?.configurations.cloud, other(), "the new hyperswitch's agent registered in the other cloud");

    assert.ok(await world.pingRetry(b2.ns, vm('vm-a1').ip, 5), 'vm-b2 → vm-a1 (agent VM, cloud-a)');
    assert.ok(await world.pingRetry(b2.ns, vm('vm-b1').ip, 5), 'vm-b2 → vm-b1 (agent VM, cloud-b)');
    assert.ok(
      await world.pingRetry(b2.ns, vm('vm-b3').ip, 5),
      'vm-b2 → vm-b3 (agentless, still on the old hyperswitch)',
    );

    // The old hyperswitch serves vm-b3 still, vm-b2 no more.
    assert.equal((await api.list('hyperswitches', { id: oldHs })).length, 1);
    const oldServer = join(providerDir(home()), 'a', oldHs, 'openvpn', 'ports', b2.portId);
    assert.ok(
      await eventually(async () => !existsSync(join(oldServer, 'openvpn.pid')) && !existsSync(oldServer), 15_000),
      `old hyperswitch still runs vm-b2's server (${oldServer})`,
    );

    // The old certificate (old provider IP) presented to the new endpoint from the new NIC: revoked.
    const oldConf = clientConf(before!.user_data);
    const remote = /^remote (\S+) (\d+)$/m.exec(clientConf(after!.user_data))!;
    const ud = buildUserData({
      portId: b2.portId,
      macAddress: '02:00:00:00:00:98',
      remoteIp: remote[1]!,
      remotePort: Number(remote[2]),
      mtu: plan.overlayMtu,
      underlayMtu: plan.underlayMtu,
      serverName: hs.id,
      caPem: block(oldConf, 'ca'),
      certPem: block(oldConf, 'cert'),
      keyPem: block(oldConf, 'key'),
    });
    const log = vpnLog(other(), hs.id, b2.portId);
    const from = readLog(log).length;
    const dir = join(plan.paths.stateDir, 'agentless-vms', 'vm-b2-oldcert');
    await bootFromUserData(deps.exec, b2.ns, dir, ud);
    const refused = await eventually(async () => /revoked/i.test(readLog(log).slice(from)), 30_000);
    await stopClient(dir, deps.clock);
    assert.ok(refused, `the old certificate was not refused:\n${readLog(log).slice(from, from + 3000)}`);
    assert.ok(await world.pingRetry(b2.ns, vm('vm-a1').ip, 5), 'the moved client still works');
  });

  it("vm-b3 moves too: the tenant's hyperswitch in the other cloud is reused, the old one (now unused) is removed", async (t) => {
    const b3 = vm('vm-b3');
    const [before] = await api.list<AgentlessPortWire>('agentlessports', { port_id: b3.portId });
    const [b2al] = await api.list<AgentlessPortWire>('agentlessports', { port_id: vm('vm-b2').portId });
    const cloudA = plan.clouds.find((c) => c.label === other())!;
    const r = await migrateMeasured(world, b3, cloudA, undefined);
    t.diagnostic(`to an existing hyperswitch: api ${r.prepareMs} ms, client switch ${r.switchMs} ms`);
    // Measured 3.0-4.1 s on a loaded 2-core machine (no prober here): a looser bound than vm-b2's.
    assert.ok(r.switchMs < 2 * BLACKOUT_BOUND_MS, `client switch ${r.switchMs} ms ≥ ${2 * BLACKOUT_BOUND_MS} ms`);
    const [after] = await api.list<AgentlessPortWire>('agentlessports', { port_id: b3.portId });
    assert.equal(after!.hyperswitch_id, b2al!.hyperswitch_id, 'tenant level: one hyperswitch per tenant and cloud');
    // The old hyperswitch goes after the move's answer (its teardown takes seconds; the client does not wait for it).
    assert.ok(
      await eventually(
        async () => (await api.list('hyperswitches', { id: before!.hyperswitch_id })).length === 0,
        20_000,
      ),
      'the old hyperswitch is removed',
    );
    assert.ok(
      !(await listNetns(deps.exec)).includes(`${plan.prefix}${before!.hyperswitch_id}`),
      'its namespace (and OpenVPN servers) are gone',
    );
    assert.equal((await vmInterface(deps.exec, b3.ns, CLIENT_TAP)).ip, b3.ip);
    assert.ok(await world.pingRetry(b3.ns, vm('vm-b2').ip, 5), 'vm-b3 → vm-b2 on the same hyperswitch');
    assert.ok(await world.pingRetry(vm('vm-b1').ns, b3.ip, 5), 'vm-b1 (cloud-b) → vm-b3');
  });

  it('the CLI moves vm-b3 home again: hypernet agentless set --cloud, the new user_data to a 0600 file', async () => {
    const b3 = vm('vm-b3');
    const [before] = await api.list<AgentlessPortWire>('agentlessports', { port_id: b3.portId });
    const file = join(plan.paths.stateDir, 'vm-b3.user-data');
    const r = await hypernet(
      ['agentless', 'set', before!.id, '--cloud', home(), '--user-data-out', file, '-o', 'json'],
      { HYPERNET_URL: `unix:${plan.paths.socket}` },
    );
    assert.equal(r.code, 0, r.stderr);
    const printed = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(printed.user_data_file, file);
    assert.ok(!('user_data' in printed), 'the private key is not printed');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const [after] = await api.list<AgentlessPortWire>('agentlessports', { port_id: b3.portId });
    assert.equal(readFileSync(file, 'utf8'), after!.user_data);
    assert.notEqual(after!.hyperswitch_id, before!.hyperswitch_id);
    assert.equal(
      (await api.show<HyperswitchWire>('hyperswitches', 'hyperswitch', after!.hyperswitch_id)).tenant_id,
      before!.tenant_id,
    );
    // The VM boots its stock client from the new file: same hyper IP, reachable from the other cloud.
    const dir = clientDir(plan, b3.name);
    await stopClient(dir, deps.clock);
    await bootFromUserData(deps.exec, b3.ns, dir, readFileSync(file, 'utf8'));
    await waitForLease(deps, b3, dir, b3.ip, 30_000, 10);
    assert.equal((await vmInterface(deps.exec, b3.ns, CLIENT_TAP)).ip, b3.ip);
    assert.ok(await world.pingRetry(vm('vm-a1').ns, b3.ip, 5), 'vm-a1 (cloud-a) → vm-b3 back home');
    const bad = await hypernet(['agentless', 'set', before!.id, '--cloud', 'nowhere'], {
      HYPERNET_URL: `unix:${plan.paths.socket}`,
    });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^Error: /);
  });
});
