/**
 * The custom-route binding (`binding:profile` key `hypernet:custom_route`): its strict grammar as a
 * pure function, and the API refusing a bad one as InvalidInput on port create, port update and the
 * bindings API, over real HTTP, while a good one is stored as given.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CUSTOM_ROUTE_PROFILE_KEY as KEY, CustomRouteError, customRouteOf } from '../../src/model/custom-route.js';
import type { Network, Port } from '../../src/model/types.js';
import { customRouteUserData } from '../../src/model/custom-route-userdata.js';
import { expectFault, startTestServer, type TestServer } from './helpers.js';

const ENI = 'eni-0a1b2c3d4e5f60718';

describe('custom-route binding grammar', () => {
  it('reads mode (default instead), interface and vpc_ip', () => {
    assert.equal(customRouteOf({}), undefined);
    assert.equal(customRouteOf(null), undefined);
    assert.deepEqual(customRouteOf({ [KEY]: { interface: ENI, vpc_ip: '10.20.2.10' } }), {
      mode: 'instead',
      interface: ENI,
      vpc_ip: '10.20.2.10',
    });
    assert.deepEqual(customRouteOf({ [KEY]: { mode: 'in-addition', interface: 'eni-0123abcd', vpc_ip: '10.0.0.1' } }), {
      mode: 'in-addition',
      interface: 'eni-0123abcd',
      vpc_ip: '10.0.0.1',
    });
  });

  for (const [why, v] of [
    ['not an object', 'eni-0123abcd'],
    ['a list', [ENI]],
    ['unknown key', { interface: ENI, vpc_ip: '10.0.0.1', mac: 'x' }],
    ['unknown mode', { mode: 'both', interface: ENI, vpc_ip: '10.0.0.1' }],
    ['upper-case ENI id', { interface: 'eni-0A1B2C3D', vpc_ip: '10.0.0.1' }],
    ['ENI id of 9 digits', { interface: 'eni-0123abcde', vpc_ip: '10.0.0.1' }],
    ['no interface', { vpc_ip: '10.0.0.1' }],
    ['IPv6 vpc_ip', { interface: ENI, vpc_ip: 'fd00::1' }],
    ['vpc_ip with a prefix', { interface: ENI, vpc_ip: '10.0.0.1/24' }],
    ['vpc_ip with leading zeros', { interface: ENI, vpc_ip: '10.0.0.01' }],
  ] as const) {
    it(`refuses ${why}`, () => {
      assert.throws(() => customRouteOf({ [KEY]: v }), CustomRouteError);
    });
  }
});

describe('custom-route binding at the API', () => {
  let s: TestServer;
  let net: Network;
  before(async () => {
    s = await startTestServer({ tokens: { ADMIN: { project_id: 'p-admin', roles: ['admin'] } } });
    net = await s.client('ADMIN').create<Network>('networks', 'network', { name: 'n', project_id: 'p1' });
  });
  after(async () => s.stop());
  const admin = () => s.client('ADMIN');
  const good = { [KEY]: { mode: 'in-addition', interface: ENI, vpc_ip: '10.20.2.10' } };
  const bad = { [KEY]: { mode: 'instead', interface: 'i-0123abcd', vpc_ip: '10.20.2.10' } };

  it('stores a good binding as given, and refuses a bad one on create', async () => {
    const p = await admin().create<Port>('ports', 'port', { network_id: net.id, 'binding:profile': good });
    assert.deepEqual(p['binding:profile'], good);
    await expectFault(
      () => admin().create('ports', 'port', { network_id: net.id, 'binding:profile': bad }),
      400,
      'InvalidInput',
    );
  });

  it('refuses a bad one on update and leaves the port as it was', async () => {
    const p = await admin().create<Port>('ports', 'port', { network_id: net.id, 'binding:profile': good });
    await expectFault(() => admin().update('ports', 'port', p.id, { 'binding:profile': bad }), 400, 'InvalidInput');
    const shown = (await admin().call('GET', `/v2.0/ports/${p.id}`)) as { port: Port };
    assert.deepEqual(shown.port['binding:profile'], good);
  });

  it('refuses a bad one on POST /bindings', async () => {
    const p = await admin().create<Port>('ports', 'port', { network_id: net.id });
    await expectFault(
      () => admin().call('POST', `/v2.0/ports/${p.id}/bindings`, { binding: { host: 'h1', profile: bad } }),
      400,
      'InvalidInput',
    );
    const r = (await admin().call('POST', `/v2.0/ports/${p.id}/bindings`, {
      binding: { host: 'h1', profile: good },
    })) as {
      binding: { profile: unknown };
    };
    assert.deepEqual(r.binding.profile, good);
  });

  it('an in-addition port carries its user_data in binding:vif_details (port API and bindings API)', async () => {
    const n2 = await admin().create<Network>('networks', 'network', { name: 'n2', project_id: 'p1' });
    await admin().create('subnets', 'subnet', { network_id: n2.id, cidr: '10.99.0.0/24', ip_version: 4 });
    const p = await admin().create<Port>('ports', 'port', { network_id: n2.id, 'binding:profile': good });
    const ip = p.fixed_ips[0]!.ip_address;
    assert.equal(p['binding:vif_details']['hypernet:user_data'], customRouteUserData(ip, ['10.99.0.0/24']));
    const instead = { [KEY]: { ...good[KEY], mode: 'instead' } };
    const q = await admin().update<Port>('ports', 'port', p.id, { 'binding:profile': instead });
    assert.equal(q['binding:vif_details']['hypernet:user_data'], undefined);
    const r = await admin().create<Port>('ports', 'port', { network_id: n2.id });
    await admin().call('POST', `/v2.0/ports/${r.id}/bindings`, { binding: { host: 'h1', profile: good } });
    const shown = (await admin().call('GET', `/v2.0/ports/${r.id}`)) as { port: Port };
    assert.match(String(shown.port['binding:vif_details']['hypernet:user_data']), /^#cloud-config\n/);
    assert.match(
      String(shown.port['binding:vif_details']['hypernet:user_data']),
      new RegExp(`${r.fixed_ips[0]!.ip_address}/32`),
    );
  });
});
