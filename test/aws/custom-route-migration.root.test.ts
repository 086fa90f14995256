/**
 * Custom-route migration, as root, on the custom-route world (testkit/custom-route-world.ts, namespaces
 * `hncm-<pid>-…`, removed in after()) with the server's custom-route controller making EC2 match. vm1
 * (mode instead, VPC address only) migrates to node B, an agent cloud: its port is rebound to node B
 * without the custom-route profile, and its namespace gets a tap on node B with the port's MAC and
 * hyper IP, as a VM restored there would; the controller deletes the hyper subnet's route (no
 * custom-route VM is left). Then back to the VPC: the profile again, its ENI again, only its VPC
 * address; the route comes back to the hyperswitch. Its hyper IP and MAC stay, and the peer on node B
 * reaches it by hyper IP after each move (and it the peer). Traffic is bounded (ping -c/-w).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Port } from '../../src/model/types.js';
import { CustomRouteWorld, HYPER, PEER_IP } from '../../testkit/custom-route-world.js';
import { isRoot, needsRoot } from '../../testkit/preconditions.js';
import { eventually } from '../../testkit/wait.js';

const VM_IP = '10.99.0.5';

describe('custom-route migration to an agent cloud and back', { skip: needsRoot(), timeout: 120_000 }, () => {
  const world = new CustomRouteWorld({
    prefix: `hncm-${process.pid}-`,
    artifacts: 'custom-route-migration',
    routesBy: 'controller',
    vms: [{ name: 'vm1', mode: 'instead', ip: VM_IP }],
  });
  const ns = world.ns as Record<'vm1' | 'peer', string>;
  let port: Port;
  const show = () => world.api.show<Port>('ports', 'port', port.id);
  const addrs = async () => (await world.inNs(ns.vm1, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout;
  /** Both ways by hyper IP, the first after the move given time to converge. */
  const reachable = async (what: string) => {
    assert.ok(await eventually(() => world.pings(ns.vm1, PEER_IP, 1), 20_000), `${what}: vm1 → peer`);
    assert.equal(await world.pings(ns.peer, VM_IP), true, `${what}: the peer → vm1 by its hyper IP`);
  };

  before(async () => {
    if (!isRoot()) return;
    await world.up();
    port = world.ports.vm1!;
  });
  after(async () => {
    await world.down();
  });

  test('in the VPC: the route to the hyperswitch, vm1 with its VPC address only', async () => {
    assert.equal((await world.hyperRoutes()).get(HYPER), world.eni.hs);
    assert.doesNotMatch(await addrs(), /10\.99\./);
    await reachable('in the VPC');
  });

  test('to node B: rebound without the profile, the route deleted, reached by hyper IP', async () => {
    await world.unplugVm('vm1');
    await world.api.update('ports', 'port', port.id, { 'binding:host_id': 'nb', 'binding:profile': {} });
    await world.plugVmIntoNodeB('vm1');
    const p = await show();
    assert.equal(p['binding:host_id'], 'nb');
    assert.equal(p.mac_address, port.mac_address, 'the MAC stays');
    assert.equal(p.fixed_ips[0]!.ip_address, VM_IP, 'the hyper IP stays');
    assert.ok(
      await eventually(async () => !(await world.hyperRoutes()).has(HYPER), 10_000),
      'the controller deletes the hyper subnet route (DescribeRouteTables)',
    );
    await reachable('on node B');
  });

  test('back to the VPC: the profile again, the route back, vm1 with its VPC address only', async () => {
    await world.unplugVm('vm1');
    await world.api.update('ports', 'port', port.id, {
      'binding:host_id': 'hs',
      'binding:profile': world.profile('vm1'),
    });
    await world.plugVmIntoVpc('vm1');
    assert.ok(
      await eventually(async () => (await world.hyperRoutes()).get(HYPER) === world.eni.hs, 10_000),
      'the controller routes the hyper subnet to the hyperswitch again (DescribeRouteTables)',
    );
    const p = await show();
    assert.equal(p.mac_address, port.mac_address);
    assert.equal(p.fixed_ips[0]!.ip_address, VM_IP);
    assert.match(await addrs(), new RegExp(`inet ${world.vpcIp('vm1').replaceAll('.', '\\.')}/`));
    assert.doesNotMatch(await addrs(), /10\.99\./);
    await reachable('back in the VPC');
  });
});
