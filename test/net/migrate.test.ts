/**
 * Live migration across clouds in a real lab (server, three agents, VMs with DHCP): vm-a1 moves from
 * cloud-a to cloud-b through the port bindings API while vm-c1 pings it every 10 ms and an iperf3
 * TCP session runs through the move. Afterwards it keeps its IP and MAC, its security group still
 * applies at the new node (an allowed port answers, a denied one stays denied), VMs in every cloud
 * reach it, and the old node holds nothing of it. Then it moves back (a second prepare/activate).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Port, PortBinding, SecurityGroup } from '../../src/model/types.js';
import { migrateMeasured } from '../../src/lab/migrate.js';
import { vmInterface } from '../../src/lab/vms.js';
import { eventually, isRoot, newWorld, nsRun, sweepStaleRuns, teardown } from './fixture.js';
import { skipOrFail } from '../../testkit/preconditions.js';

const world = newWorld('m', { clouds: 3, vmsPerCloud: 1 });
const started: ChildProcess[] = [];
const vm = (name: string) => world.state.vms.find((v) => v.name === name)!;

/** A process in a namespace that this test started (killed by PID in after()). */
function bg(ns: string, cmd: string, args: string[]): ChildProcess & { exited: Promise<number> } {
  const c = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }) as ChildProcess & {
    exited: Promise<number>;
  };
  c.exited = new Promise((r) => c.once('close', (code) => r(code ?? -1)));
  started.push(c);
  return c;
}
const tcpOpen = async (fromNs: string, ip: string, port: number) =>
  (await nsRun(fromNs, 'nc', ['-z', '-w', '1', ip, String(port)], 5_000)).code === 0;

before(async () => {
  if (!isRoot()) return;
  await sweepStaleRuns();
  await world.up();
});
after(async () => {
  for (const c of started) if (c.exitCode === null && c.pid) c.kill('SIGKILL');
  if (isRoot()) await teardown(world, 'migrate');
});

test('migrate: a VM moves to another cloud keeping IP, MAC and security group, with a short blackout', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  const [a1, b1, c1] = [vm('vm-a1'), vm('vm-b1'), vm('vm-c1')];
  const [, cloudB] = world.plan.clouds;
  // A group that allows ping, 8080 and iperf3 (5201) from anywhere; 9090 is denied.
  const sg = await world.api.create<SecurityGroup>('security-groups', 'security_group', { name: 'mig-web' });
  for (const r of [
    { protocol: 'icmp' },
    { protocol: 'tcp', port_range_min: 8080, port_range_max: 8080 },
    { protocol: 'tcp', port_range_min: 5201, port_range_max: 5201 },
  ]) {
    await world.api.create('security-group-rules', 'security_group_rule', {
      security_group_id: sg.id,
      direction: 'ingress',
      ethertype: 'IPv4',
      remote_ip_prefix: '0.0.0.0/0',
      ...r,
    });
  }
  await world.api.update('ports', 'port', a1.portId, { security_groups: [sg.id] });
  bg(a1.ns, 'nc', ['-l', '-k', '8080']);
  bg(a1.ns, 'nc', ['-l', '-k', '9090']);
  assert.ok(await eventually(() => tcpOpen(c1.ns, a1.ip, 8080), 10_000), '8080 open before the move');
  assert.ok(await eventually(async () => !(await tcpOpen(c1.ns, a1.ip, 9090)), 10_000), '9090 denied before the move');
  const before = await vmInterface(world.exec, a1.ns);

  const server = bg(a1.ns, 'iperf3', ['-s', '-1', '-p', '5201']);
  await world.clock.sleep(300);
  const client = bg(c1.ns, 'iperf3', ['-c', a1.ip, '-p', '5201', '-t', '4', '-b', '20M', '--connect-timeout', '2000']);
  await world.clock.sleep(800);
  const report = await migrateMeasured(world, a1, cloudB, c1);
  t.diagnostic(`prepare ${report.prepareMs} ms, switch ${report.switchMs} ms, probe ${JSON.stringify(report.probe)}`);
  const [clientCode, serverCode] = await Promise.all([client.exited, server.exited]);
  assert.equal(clientCode, 0, 'the iperf3 TCP session survived the move');
  assert.equal(serverCode, 0);
  assert.ok(report.probe && report.probe.received > 30, 'the prober got replies');
  assert.ok(
    report.probe!.sent - report.probe!.received <= 15,
    `lost ${report.probe!.sent - report.probe!.received} probes`,
  );
  assert.ok(report.probe!.blackoutMs <= 300, `blackout ${report.probe!.blackoutMs} ms`);

  const afterIf = await vmInterface(world.exec, a1.ns);
  assert.equal(afterIf.ip, before.ip);
  assert.equal(afterIf.mac, before.mac);
  const port = await world.api.show<Port>('ports', 'port', a1.portId);
  assert.equal(port['binding:host_id'], cloudB.hostId);
  const bindings = ((await world.api.call('GET', `/v2.0/ports/${a1.portId}/bindings`)) as { bindings: PortBinding[] })
    .bindings;
  assert.deepEqual(
    bindings.map((b) => [b.host, b.status]),
    [[cloudB.hostId, 'ACTIVE']],
  );
  const tapB = await world.exec('ip', ['-n', cloudB.hyperswitchNs, '-br', 'link', 'show', 'dev', a1.tap], {
    allowFail: true,
  });
  assert.equal(tapB.code, 0, 'the tap is on the new hyperswitch');
  const tapA = await world.exec('ip', ['-n', world.plan.clouds[0].hyperswitchNs, 'link', 'show', 'dev', a1.tap], {
    allowFail: true,
  });
  assert.notEqual(tapA.code, 0, 'the old hyperswitch has no tap left');

  for (const from of [b1, c1]) {
    assert.ok(await world.pingRetry(from.ns, a1.ip), `${from.name} reaches the moved VM`);
    assert.ok(await tcpOpen(from.ns, a1.ip, 8080), `${from.name}: 8080 allowed at the new node`);
    assert.ok(!(await tcpOpen(from.ns, a1.ip, 9090)), `${from.name}: 9090 still denied at the new node`);
  }
  // (The moved VM's own connections out are not tried: b1 and c1 only admit their default group.)
  assert.equal((await world.api.show<Port>('ports', 'port', a1.portId)).status, 'ACTIVE');
});

test('migrate: and back again, probed from the cloud it leaves', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  const a1 = vm('vm-a1');
  const report = await migrateMeasured(world, a1, world.plan.clouds[0], vm('vm-b1'));
  t.diagnostic(`prepare ${report.prepareMs} ms, switch ${report.switchMs} ms, probe ${JSON.stringify(report.probe)}`);
  assert.ok(report.probe!.blackoutMs <= 300, `blackout ${report.probe!.blackoutMs} ms`);
  assert.equal(
    (await world.api.show<Port>('ports', 'port', a1.portId))['binding:host_id'],
    world.plan.clouds[0].hostId,
  );
  assert.ok(await world.pingRetry(vm('vm-c1').ns, a1.ip));
});
