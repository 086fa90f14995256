/**
 * Neutron's port bindings extension over real HTTP: list/show/create/activate/delete, the binding
 * wire format, Neutron's errors (PortBindingAlreadyExists, PortBindingNotFound,
 * PortBindingAlreadyActive), admin-only policy, a cold move by `binding:host_id`, and that the watch
 * stream carries every binding change as a port event.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Network, Port, PortBinding, Subnet } from '../../src/model/types.js';
import type { WatchMessage } from '../../src/model/watch.js';
import { expectFault, startTestServer, type TestServer } from './helpers.js';

describe('port bindings (binding-extended)', () => {
  let s: TestServer;
  let port: Port;
  const url = (suffix = '') => `/v2.0/ports/${port.id}/bindings${suffix}`;
  const bindings = async (q = '') =>
    ((await s.client('ADMIN').call('GET', url(q))) as { bindings: PortBinding[] }).bindings;

  before(async () => {
    s = await startTestServer({
      tokens: { ADMIN: { project_id: 'p-admin', roles: ['admin'] }, USER: { project_id: 'p1', roles: ['member'] } },
    });
    const admin = s.client('ADMIN');
    await admin.call('POST', '/v2.0/agents', {
      agent: {
        host: 'host-b',
        agent_type: 'hypernet agent',
        binary: 'hypernet-agent',
        configurations: { tunneling_ip: '192.0.2.2', cloud: 'b' },
      },
    });
    const net = await admin.create<Network>('networks', 'network', { name: 'n', project_id: 'p1' });
    await admin.create<Subnet>('subnets', 'subnet', {
      network_id: net.id,
      cidr: '10.0.1.0/24',
      ip_version: 4,
      project_id: 'p1',
    });
    port = await admin.create<Port>('ports', 'port', {
      network_id: net.id,
      project_id: 'p1',
      device_owner: 'compute:x',
      'binding:host_id': 'host-a',
    });
  });
  after(async () => s.stop());
  const admin = () => s.client('ADMIN');

  it('is listed in /v2.0/extensions', async () => {
    const ext = (await admin().call('GET', '/v2.0/extensions')) as { extensions: { alias: string }[] };
    assert.ok(ext.extensions.some((e) => e.alias === 'binding-extended'));
  });

  it('lists the active binding of a bound port in Neutron wire format', async () => {
    const list = ((await admin().call('GET', url())) as { bindings: PortBinding[] }).bindings;
    assert.deepEqual(list, [
      { host: 'host-a', vif_type: 'unbound', vif_details: {}, vnic_type: 'normal', profile: {}, status: 'ACTIVE' },
    ]);
  });

  it('is admin only', async () => {
    await expectFault(() => s.client('USER').call('GET', url()), 403, 'PolicyNotAuthorized');
    await expectFault(
      () => s.client('USER').call('POST', url(), { binding: { host: 'host-b' } }),
      403,
      'PolicyNotAuthorized',
    );
  });

  it('creates an INACTIVE binding for a second host (201), the port keeps its host', async () => {
    const res = await admin().raw('POST', url(), { binding: { host: 'host-b', profile: { migrating_to: 'host-b' } } });
    assert.equal(res.status, 201);
    const b = (res.body as { binding: PortBinding }).binding;
    assert.deepEqual(b, {
      host: 'host-b',
      vif_type: 'tap',
      vif_details: {},
      vnic_type: 'normal',
      profile: { migrating_to: 'host-b' },
      status: 'INACTIVE',
    });
    const p = await admin().show<Port>('ports', 'port', port.id);
    assert.equal(p['binding:host_id'], 'host-a');
    assert.deepEqual(p['binding:inactive'], [b]);
    assert.equal((await bindings()).length, 2);
    assert.deepEqual(
      (await bindings('?status=INACTIVE')).map((x) => x.host),
      ['host-b'],
    );
    assert.deepEqual(((await admin().call('GET', url('/host-b'))) as { binding: PortBinding }).binding, b);
  });

  it('answers Neutron errors: exists 409, not found 404, already active 409, bad body 400', async () => {
    await expectFault(
      () => admin().call('POST', url(), { binding: { host: 'host-b' } }),
      409,
      'PortBindingAlreadyExists',
    );
    await expectFault(
      () => admin().call('POST', url(), { binding: { host: 'host-a' } }),
      409,
      'PortBindingAlreadyExists',
    );
    await expectFault(() => admin().call('GET', url('/host-z')), 404, 'PortBindingNotFound');
    await expectFault(() => admin().call('PUT', url('/host-z/activate')), 404, 'PortBindingNotFound');
    await expectFault(() => admin().call('PUT', url('/host-a/activate')), 409, 'PortBindingAlreadyActive');
    await expectFault(() => admin().call('DELETE', url('/host-z')), 404, 'PortBindingNotFound');
    await expectFault(
      () => admin().call('POST', url(), { binding: { host: 'h', vif_type: 'x' } }),
      400,
      'HTTPBadRequest',
    );
    await expectFault(() => admin().call('GET', '/v2.0/ports/nope/bindings'), 404, 'PortNotFound');
    await expectFault(() => admin().call('GET', url('?bogus=1')), 400, 'HTTPBadRequest');
  });

  it('activates: binding:host_id moves, the old binding becomes INACTIVE, one port event on the watch', async () => {
    const events: WatchMessage[] = [];
    const ac = new AbortController();
    const rev = (await new Promise<number>((resolve) => {
      admin()
        .watch(undefined, (m) => (m.type === 'snapshot' ? resolve(m.revision) : events.push(m)), ac.signal)
        .catch(() => undefined);
    })) as number;
    const before = await admin().show<Port>('ports', 'port', port.id);
    const res = await admin().raw('PUT', url('/host-b/activate'));
    assert.equal(res.status, 200);
    assert.equal((res.body as { binding: PortBinding }).binding.status, 'ACTIVE');
    const p = await admin().show<Port>('ports', 'port', port.id);
    assert.equal(p['binding:host_id'], 'host-b');
    assert.deepEqual(p['binding:profile'], { migrating_to: 'host-b' });
    assert.equal(p.revision_number, before.revision_number + 1);
    assert.equal(p.mac_address, before.mac_address);
    assert.deepEqual(p.fixed_ips, before.fixed_ips);
    assert.deepEqual(
      p['binding:inactive']!.map((b) => [b.host, b.status]),
      [['host-a', 'INACTIVE']],
    );
    const deadline = Date.now() + 3000;
    while (!events.some((e) => e.type === 'event' && e.kind === 'port') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    ac.abort();
    const ev = events.find((e) => e.type === 'event' && e.kind === 'port');
    assert.ok(ev && ev.type === 'event' && ev.revision > rev);
    assert.equal((ev.object as Port)['binding:host_id'], 'host-b');
  });

  it('deletes the old (inactive) binding with 204; the active one cannot be deleted', async () => {
    const res = await admin().raw('DELETE', url('/host-a'));
    assert.equal(res.status, 204);
    assert.deepEqual(
      (await bindings()).map((b) => [b.host, b.status]),
      [['host-b', 'ACTIVE']],
    );
    await expectFault(() => admin().call('DELETE', url('/host-b')), 404, 'PortBindingNotFound');
  });

  it('a plain binding:host_id update (cold move) takes over a prepared binding', async () => {
    await admin().call('POST', url(), { binding: { host: 'host-c' } });
    const p = await admin().update<Port>('ports', 'port', port.id, { 'binding:host_id': 'host-c' });
    assert.equal(p['binding:host_id'], 'host-c');
    assert.deepEqual(p['binding:inactive'], []);
    assert.deepEqual(
      (await bindings()).map((b) => [b.host, b.status]),
      [['host-c', 'ACTIVE']],
    );
  });

  it('an unbound port gets an ACTIVE binding on create', async () => {
    const q = await admin().create<Port>('ports', 'port', { network_id: port.network_id, project_id: 'p1' });
    const b = (
      (await admin().call('POST', `/v2.0/ports/${q.id}/bindings`, { binding: { host: 'host-b' } })) as {
        binding: PortBinding;
      }
    ).binding;
    assert.equal(b.status, 'ACTIVE');
    assert.equal((await admin().show<Port>('ports', 'port', q.id))['binding:host_id'], 'host-b');
  });
});
