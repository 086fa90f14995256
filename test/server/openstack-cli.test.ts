/**
 * The REAL `openstack` CLI against a real server (noauth, then token auth): network, subnet, port,
 * security group and rule create/list/show/set/delete with `-f json`. Skips when the CLI is missing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from './helpers.js';
import { cli, haveCli } from './openstack-cli-helpers.js';
import { skipUnless } from '../../testkit/preconditions.js';

type J = Record<string, unknown>;

describe('openstack CLI (noauth)', { skip: skipUnless(haveCli, 'openstack CLI not installed') }, () => {
  let s: TestServer;
  let os: ReturnType<typeof cli>;
  before(async () => {
    s = await startTestServer();
    os = cli(['--os-auth-type', 'none', '--os-endpoint', s.url]);
  });
  after(async () => s?.stop());

  it('network, subnet, security group, rule, port: create/list/show/set/delete', async () => {
    const net = (await os(['network', 'create', 'hn-net', '--description', 'cli test', '-f', 'json'])).json as J;
    assert.equal(net.name, 'hn-net');
    assert.equal(net['provider:network_type'], 'vxlan');
    const sub = (
      await os([
        'subnet',
        'create',
        'hn-sub',
        '--network',
        'hn-net',
        '--subnet-range',
        '10.30.0.0/24',
        '--allocation-pool',
        'start=10.30.0.10,end=10.30.0.20',
        '-f',
        'json',
      ])
    ).json as J;
    assert.equal(sub.cidr, '10.30.0.0/24');
    assert.equal(sub.gateway_ip, '10.30.0.1');
    const sg = (await os(['security', 'group', 'create', 'hn-sg', '-f', 'json'])).json as J;
    assert.equal(sg.name, 'hn-sg');
    const rule = (
      await os([
        'security',
        'group',
        'rule',
        'create',
        'hn-sg',
        '--ingress',
        '--protocol',
        'tcp',
        '--dst-port',
        '22:23',
        '-f',
        'json',
      ])
    ).json as J;
    assert.equal(rule.port_range_min, 22);
    assert.equal(rule.port_range_max, 23);
    const dup = await os(
      ['security', 'group', 'rule', 'create', 'hn-sg', '--ingress', '--protocol', 'tcp', '--dst-port', '22:23'],
      true,
    );
    assert.notEqual(dup.code, 0);
    assert.match(dup.stderr, /already exists|Conflict|409/);
    const port = (
      await os([
        'port',
        'create',
        'hn-port',
        '--network',
        'hn-net',
        '--fixed-ip',
        'subnet=hn-sub,ip-address=10.30.0.15',
        '--security-group',
        'hn-sg',
        '-f',
        'json',
      ])
    ).json as J;
    assert.deepEqual(port.fixed_ips, [{ subnet_id: sub.id, ip_address: '10.30.0.15' }]);
    assert.deepEqual(port.security_group_ids, [sg.id]);
    assert.equal(port.status, 'DOWN');

    const nets = (await os(['network', 'list', '-f', 'json'])).json as J[];
    assert.deepEqual(
      nets.map((n) => n.Name),
      ['hn-net'],
    );
    const ports = (await os(['port', 'list', '--network', 'hn-net', '-f', 'json'])).json as J[];
    assert.equal(ports.length, 1);
    const rules = (await os(['security', 'group', 'rule', 'list', 'hn-sg', '-f', 'json'])).json as J[];
    assert.equal(rules.length, 3); // two default egress + ours

    await os(['network', 'set', 'hn-net', '--name', 'hn-net2', '--tag', 'blue']);
    const shown = (await os(['network', 'show', 'hn-net2', '-f', 'json'])).json as J;
    assert.deepEqual(shown.tags, ['blue']);
    assert.deepEqual(shown.subnets, [sub.id]);
    await os(['port', 'set', 'hn-port', '--name', 'hn-port2', '--fixed-ip', 'subnet=hn-sub,ip-address=10.30.0.16']);
    const p2 = (await os(['port', 'show', 'hn-port2', '-f', 'json'])).json as J;
    assert.equal((p2.fixed_ips as J[]).length, 2);
    await os(['subnet', 'set', 'hn-sub', '--dns-nameserver', '192.0.2.53']);
    assert.deepEqual(((await os(['subnet', 'show', 'hn-sub', '-f', 'json'])).json as J).dns_nameservers, [
      '192.0.2.53',
    ]);
    await os(['security', 'group', 'set', 'hn-sg', '--description', 'web']);
    assert.equal(((await os(['security', 'group', 'show', 'hn-sg', '-f', 'json'])).json as J).description, 'web');

    const inUse = await os(['network', 'delete', 'hn-net2'], true);
    assert.notEqual(inUse.code, 0);
    await os(['security', 'group', 'rule', 'delete', String(rule.id)]);
    await os(['port', 'delete', 'hn-port2']);
    await os(['security', 'group', 'delete', 'hn-sg']);
    await os(['subnet', 'delete', 'hn-sub']);
    await os(['network', 'delete', 'hn-net2']);
    assert.deepEqual((await os(['network', 'list', '-f', 'json'])).json, []);
    const gone = await os(['network', 'show', 'hn-net2'], true);
    assert.notEqual(gone.code, 0);
  });
});

describe('openstack CLI (token auth)', { skip: skipUnless(haveCli, 'openstack CLI not installed') }, () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({
      tokens: { ADMIN: { project_id: 'ops', roles: ['admin'] }, ALICE: { project_id: 'pa', roles: ['member'] } },
    });
  });
  after(async () => s?.stop());

  it('acts as the token project; other tokens do not see it; bad token fails', async () => {
    const as = (t: string) => cli(['--os-auth-type', 'admin_token', '--os-token', t, '--os-endpoint', s.url]);
    const net = (await as('ALICE')(['network', 'create', 'alice-net', '-f', 'json'])).json as J;
    assert.equal(net.project_id, 'pa');
    const sgs = (await as('ALICE')(['security', 'group', 'list', '-f', 'json'])).json as J[];
    assert.deepEqual(
      sgs.map((g) => g.Name),
      ['default'],
    );
    const adminView = (await as('ADMIN')(['network', 'list', '--long', '-f', 'json'])).json as J[];
    assert.equal(adminView.length, 1);
    const bad = await as('NOPE')(['network', 'list', '-f', 'json'], true);
    assert.notEqual(bad.code, 0);
  });
});
