/**
 * `--custom-route-interface`: the hyperswitch's own ENI, checked in the ENI grammar and only with
 * `--custom-route` (at the real command line), and reported at registration to a real server in
 * `configurations.custom_route_interface`, where the custom-route controller reads it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Registration } from '../../../src/agent/loop/registration.js';
import { checkCustomRouteInterface } from '../../../src/agent/command.js';
import { realClock } from '../../../src/common/clock.js';
import { silentLogger } from '../../../src/common/log.js';
import type { Agent } from '../../../src/model/types.js';
import { hypernet, startServer, type TestServer } from '../../ctl/server.js';

const ENI = 'eni-0a1b2c3d4e5f60718';

describe('--custom-route-interface', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    await srv?.close();
  });

  test('the grammar: an ENI id, and only with --custom-route', () => {
    assert.equal(checkCustomRouteInterface({ customRoute: true, customRouteInterface: ENI }), ENI);
    assert.equal(
      checkCustomRouteInterface({ customRoute: true, customRouteInterface: 'eni-0a1b2c3d' }),
      'eni-0a1b2c3d',
    );
    assert.equal(checkCustomRouteInterface({ customRoute: true }), undefined);
    for (const bad of ['eni-0A1B2C3D', 'eni-0a1b2c3', 'eni-0a1b2c3d;reboot', '', 'i-0a1b2c3d'])
      assert.throws(() => checkCustomRouteInterface({ customRoute: true, customRouteInterface: bad }), /ENI id/);
    assert.throws(() => checkCustomRouteInterface({ customRouteInterface: ENI }), /needs --custom-route/);
  });

  test('the real command line refuses it without --custom-route, and a bad id', async () => {
    const base = ['agent', '--server', srv.url, '--host', 'hs-x', '--underlay-ip', '192.0.2.30', '--cloud', 'c1'];
    const without = await hypernet([...base, '--custom-route-interface', ENI]);
    assert.notEqual(without.code, 0);
    assert.match(without.stderr, /--custom-route-interface needs --custom-route/);
    const bad = await hypernet([...base, '--custom-route', '--custom-route-interface', 'eni-nothex!']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /not an ENI id/);
  });

  test('registration reports it in configurations.custom_route_interface', async () => {
    const reg = new Registration({
      api: srv.admin,
      clock: realClock,
      log: silentLogger(),
      node: { host: 'hs-cr-1', underlayIp: '192.0.2.31', underlayMtu: 1500 },
      cloud: 'aws-1',
      capabilities: ['vxlan', 'custom-route'],
      customRouteInterface: ENI,
    });
    await reg.register();
    const [a] = await srv.admin.list<Agent>('agents', { host: 'hs-cr-1' });
    assert.equal(a?.configurations.custom_route_interface, ENI);
    assert.equal(a?.configurations.cloud, 'aws-1');
  });
});
