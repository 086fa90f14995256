/**
 * Custom-route failover, as root, on the custom-route world (testkit/custom-route-world.ts, namespaces
 * `hncf-<pid>-…`, removed in after()) with the server's custom-route controller making EC2 match: two
 * hyperswitches report their ENIs (`--custom-route-interface`), vm1 (mode instead) is bound to hs. hs
 * dies as a dead instance would (its agent killed by PID, its ENI's and underlay's links down): after
 * agent_down_time (5 s here) the controller rebinds vm1's port to the standby hs2 and replaces the
 * hyper subnet's route with one to hs2's ENI, and vm1 and the peer on node B reach each other by hyper
 * IP again. The recovery time (failure → first reply of a ping every 50 ms) is printed. hs, brought
 * back, stays the standby: nothing moves back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CustomRouteWorld, HYPER, PEER_IP } from '../../testkit/custom-route-world.js';
import { PingWatch } from '../../testkit/ping-watch.js';
import { isRoot, needsRoot } from '../../testkit/preconditions.js';
import { eventually } from '../../testkit/wait.js';

const DOWN_TIME_S = 5;
const VM_IP = '10.99.0.5';

describe('custom-route failover to a standby hyperswitch', { skip: needsRoot(), timeout: 120_000 }, () => {
  const world = new CustomRouteWorld({
    prefix: `hncf-${process.pid}-`,
    artifacts: 'custom-route-failover',
    routesBy: 'controller',
    standby: true,
    agentDownTime: DOWN_TIME_S,
    vms: [{ name: 'vm1', mode: 'instead', ip: VM_IP }],
  });
  const ns = world.ns as Record<'vm1' | 'peer', string>;

  before(async () => {
    if (isRoot()) await world.up();
  });
  after(async () => {
    await world.down();
  });

  test('hs dies: the controller moves vm1 and the route to hs2, and traffic recovers', async () => {
    assert.equal(await world.boundTo('vm1'), 'hs');
    assert.equal((await world.hyperRoutes()).get(HYPER), world.eni.hs, 'the hyper subnet → hs');
    assert.ok(await eventually(() => world.pings(ns.vm1, PEER_IP, 1), 15_000), 'vm1 → peer through hs');
    assert.ok(await eventually(() => world.agentAlive('hs2'), 10_000), 'the standby is alive');

    const ping = new PingWatch(ns.vm1, PEER_IP, { deadlineS: 60 });
    try {
      const { failedAt, downAt } = await world.killHyperswitch('hs');
      const first = await ping.firstReplyAfter(downAt, 40_000);
      assert.ok(first > 0, 'vm1 reaches the peer again within 40 s');
      console.log(
        `custom-route failover: first reply ${((first - failedAt) / 1000).toFixed(2)} s after the failure ` +
          `(agent_down_time ${DOWN_TIME_S} s, ping every 50 ms)`,
      );
    } finally {
      ping.stop();
    }
    assert.equal(await world.boundTo('vm1'), 'hs2', 'the port is rebound to the standby');
    assert.equal((await world.hyperRoutes()).get(HYPER), world.eni.hs2, 'the route is replaced: → hs2');
    assert.equal(await world.pings(ns.peer, VM_IP), true, 'the peer reaches vm1 by its hyper IP');
    assert.equal(await world.pings(ns.vm1, PEER_IP), true, 'vm1 reaches the peer');
  });

  test('hs comes back as the standby: vm1 stays on hs2', async () => {
    await world.reviveHyperswitch('hs');
    assert.ok(await eventually(() => world.agentAlive('hs'), 15_000), 'hs is alive again');
    await new Promise((r) => setTimeout(r, 2_000));
    assert.equal(await world.boundTo('vm1'), 'hs2');
    assert.equal((await world.hyperRoutes()).get(HYPER), world.eni.hs2);
    assert.equal(await world.pings(ns.vm1, PEER_IP), true);
  });
});
