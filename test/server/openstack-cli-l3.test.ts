/**
 * The REAL `openstack` CLI against a real server for L3: an external network, `router create/set
 * --external-gateway/add subnet/show/remove subnet/unset --external-gateway/delete`, extra routes,
 * and `floating ip create/set --port/unset --port/delete`, with Neutron's errors reaching the CLI.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from './helpers.js';
import { cli, haveCli } from './openstack-cli-helpers.js';
import { skipUnless } from '../../testkit/preconditions.js';

type J = Record<string, unknown>;

describe('openstack CLI: routers and floating IPs', {
  skip: skipUnless(haveCli, 'openstack CLI not installed'),
}, () => {
  let s: TestServer;
  let os: ReturnType<typeof cli>;
  before(async () => {
    s = await startTestServer();
    os = cli(['--os-auth-type', 'none', '--os-endpoint', s.url]);
  });
  after(async () => s?.stop());

  it('router create/set/add subnet/show/remove subnet and floating ip create/set/unset/delete', async () => {
    const pub = (await os(['network', 'create', 'hn-public', '--external', '-f', 'json'])).json as J;
    assert.equal(pub['router:external'], true);
    await os([
      'subnet',
      'create',
      'hn-public-sub',
      '--network',
      'hn-public',
      '--subnet-range',
      '203.0.113.0/28',
      '--no-dhcp',
    ]);
    await os(['network', 'create', 'hn-priv']);
    await os(['subnet', 'create', 'hn-priv-sub', '--network', 'hn-priv', '--subnet-range', '10.90.0.0/24']);

    const r = (await os(['router', 'create', 'hn-r', '-f', 'json'])).json as J;
    assert.equal(r.name, 'hn-r');
    await os(['router', 'set', 'hn-r', '--external-gateway', 'hn-public']);
    await os(['router', 'add', 'subnet', 'hn-r', 'hn-priv-sub']);
    const shown = (await os(['router', 'show', 'hn-r', '-f', 'json'])).json as J;
    const gw = shown.external_gateway_info as { network_id: string; enable_snat: boolean } | null;
    assert.equal(gw?.network_id, pub.id);
    assert.equal(gw?.enable_snat, true);
    const ifaces = shown.interfaces_info as { ip_address: string; subnet_id: string }[];
    assert.deepEqual(
      ifaces.map((i) => i.ip_address),
      ['10.90.0.1'],
    );
    await os(['router', 'set', 'hn-r', '--route', 'destination=192.0.2.0/24,gateway=10.90.0.9']);
    const routed = (await os(['router', 'show', 'hn-r', '-f', 'json'])).json as J;
    assert.deepEqual(routed.routes, [{ destination: '192.0.2.0/24', nexthop: '10.90.0.9' }]);
    const badRoute = await os(['router', 'set', 'hn-r', '--route', 'destination=192.0.2.0/24,gateway=10.99.0.9'], true);
    assert.notEqual(badRoute.code, 0);
    assert.match(badRoute.stderr, /nexthop is not connected with router/);
    await os(['router', 'set', 'hn-r', '--no-route']);

    await os(['port', 'create', 'hn-vm', '--network', 'hn-priv']);
    const fip = (await os(['floating', 'ip', 'create', 'hn-public', '-f', 'json'])).json as J;
    assert.match(String(fip.floating_ip_address), /^203\.0\.113\./);
    await os(['floating', 'ip', 'set', '--port', 'hn-vm', String(fip.id)]);
    const bound = (await os(['floating', 'ip', 'show', String(fip.id), '-f', 'json'])).json as J;
    assert.equal(bound.router_id, r.id);
    assert.match(String(bound.fixed_ip_address), /^10\.90\.0\./);
    const inUse = await os(['router', 'remove', 'subnet', 'hn-r', 'hn-priv-sub'], true);
    assert.notEqual(inUse.code, 0);
    assert.match(inUse.stderr, /required by one or more floating IPs/);
    await os(['floating', 'ip', 'unset', '--port', String(fip.id)]);
    const unbound = (await os(['floating', 'ip', 'show', String(fip.id), '-f', 'json'])).json as J;
    assert.equal(unbound.port_id, null);
    await os(['floating', 'ip', 'delete', String(fip.id)]);
    assert.deepEqual((await os(['floating', 'ip', 'list', '-f', 'json'])).json, []);

    const busy = await os(['router', 'delete', 'hn-r'], true);
    assert.notEqual(busy.code, 0);
    await os(['router', 'remove', 'subnet', 'hn-r', 'hn-priv-sub']);
    await os(['router', 'unset', '--external-gateway', 'hn-r']);
    const bare = (await os(['router', 'show', 'hn-r', '-f', 'json'])).json as J;
    assert.equal(bare.external_gateway_info, null);
    await os(['router', 'delete', 'hn-r']);
    assert.deepEqual((await os(['router', 'list', '-f', 'json'])).json, []);
  });
});
