/**
 * Subnet pools over real HTTP with token auth: CRUD and Neutron's wire form (prefix lengths as
 * strings, merged prefixes), bounds, growing-only prefixes, tenancy (shared and default pools are an
 * admin's), subnets allocated from a pool by prefix length, by default length, by given CIDR and from
 * the default pool, the pool quota, one pool per network and IP version, and deletion while in use.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Network, Subnet, SubnetPool } from '../../src/model/types.js';
import {
  adminTokenHolder,
  expectFault,
  expectRejectedUnchanged,
  startTestServer,
  TENANT_TOKENS,
  type TestServer,
} from './helpers.js';

describe('subnet pools', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ tokens: TENANT_TOKENS });
    adminTokenHolder.token = 'ADMIN';
  });
  after(async () => {
    delete adminTokenHolder.token;
    await s.stop();
  });
  const alice = () => s.client('ALICE');
  const bob = () => s.client('BOB');
  const admin = () => s.client('ADMIN');
  const pool = (c = alice(), body: Record<string, unknown> = {}) =>
    c.create<SubnetPool>('subnetpools', 'subnetpool', { name: 'p', prefixes: ['10.11.12.0/24'], ...body });

  it('creates, shows, lists, updates and deletes a pool in Neutron wire form', async () => {
    const p = await pool(alice(), { min_prefixlen: '29', prefixes: ['10.11.12.0/25', '10.11.12.128/25'] });
    assert.deepEqual(p.prefixes, ['10.11.12.0/24'], 'adjacent prefixes are merged');
    assert.equal(p.min_prefixlen, '29');
    assert.equal(p.default_prefixlen, '29', 'the default length defaults to the minimum');
    assert.equal(p.max_prefixlen, '32');
    assert.equal(p.ip_version, 4);
    assert.equal(p.shared, false);
    assert.equal(p.is_default, false);
    assert.equal(p.address_scope_id, null);
    assert.equal(p.default_quota, null);
    assert.equal(p.project_id, 'pa');
    assert.equal(p.revision_number, 1);
    assert.match(p.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const v6 = await pool(alice(), { prefixes: ['2001:db8:3::/48'] });
    assert.deepEqual([v6.ip_version, v6.min_prefixlen, v6.max_prefixlen], [6, '64', '128']);

    assert.ok((await alice().list<SubnetPool>('subnetpools')).some((x) => x.id === p.id));
    assert.equal((await alice().list<SubnetPool>('subnetpools', { shared: 'False', ip_version: '6' })).length, 1);
    const up = await alice().update<SubnetPool>('subnetpools', 'subnetpool', p.id, {
      name: 'p2',
      min_prefixlen: '28',
      max_prefixlen: 30,
      description: 'd2',
    });
    assert.deepEqual([up.name, up.min_prefixlen, up.max_prefixlen, up.description], ['p2', '28', '30', 'd2']);
    assert.ok(up.revision_number > p.revision_number);
    // Prefixes grow (appended or widened) but never shrink.
    const grown = await alice().update<SubnetPool>('subnetpools', 'subnetpool', p.id, {
      prefixes: ['10.11.12.0/24', '10.11.15.0/24'],
    });
    assert.deepEqual(grown.prefixes, ['10.11.12.0/24', '10.11.15.0/24']);
    const wide = await alice().update<SubnetPool>('subnetpools', 'subnetpool', p.id, { prefixes: ['10.11.0.0/16'] });
    assert.deepEqual(wide.prefixes, ['10.11.0.0/16']);
    await expectRejectedUnchanged(
      s,
      () => alice().update('subnetpools', 'subnetpool', p.id, { prefixes: ['10.11.12.0/26'] }),
      400,
      'IllegalSubnetPoolPrefixUpdate',
    );
    await expectFault(() => alice().update('subnetpools', 'subnetpool', p.id, { shared: true }), 400, 'HTTPBadRequest');
    await expectFault(
      () => admin().update('subnetpools', 'subnetpool', p.id, { tenant_id: 'ops' }),
      400,
      'HTTPBadRequest',
    );
    await alice().delete('subnetpools', p.id);
    await expectFault(() => alice().show('subnetpools', 'subnetpool', p.id), 404, 'SubnetPoolNotFound');
    await alice().delete('subnetpools', v6.id);
  });

  it('refuses bad pools as Neutron does', async () => {
    const r = (body: Record<string, unknown>, status: number, type: string) =>
      expectRejectedUnchanged(s, () => pool(alice(), body), status, type);
    await r({ prefixes: [] }, 400, 'EmptySubnetPoolPrefixList');
    await r({ prefixes: ['10.0.0.0/8', '2001:db8::/32'] }, 400, 'PrefixVersionMismatch');
    await r({ prefixes: ['10.0.0.0/33'] }, 400, 'InvalidInput');
    await r({ min_prefixlen: 24, max_prefixlen: 20 }, 400, 'IllegalSubnetPoolPrefixBounds');
    await r({ max_prefixlen: 33 }, 400, 'IllegalSubnetPoolPrefixBounds');
    await r({ min_prefixlen: 24, default_prefixlen: 20 }, 400, 'IllegalSubnetPoolPrefixBounds');
    await r({ min_prefixlen: 'x' }, 400, 'InvalidInput');
    await r({ address_scope_id: 'foo' }, 400, 'InvalidInput');
    await r({ shared: true }, 403, 'PolicyNotAuthorized');
    await r({ is_default: true }, 403, 'PolicyNotAuthorized');
  });

  it('keeps pools to their project; shared pools are visible to all, one default per IP version', async () => {
    const mine = await pool(alice());
    const adminOnly = await pool(admin());
    const shared = await pool(admin(), { shared: true, prefixes: ['172.16.0.0/16'] });
    await expectFault(() => bob().show('subnetpools', 'subnetpool', mine.id), 404, 'SubnetPoolNotFound');
    await expectFault(() => alice().show('subnetpools', 'subnetpool', adminOnly.id), 404, 'SubnetPoolNotFound');
    assert.equal((await bob().show<SubnetPool>('subnetpools', 'subnetpool', shared.id)).shared, true);
    await expectFault(() => bob().delete('subnetpools', mine.id), 404, 'SubnetPoolNotFound');
    await expectFault(
      () => bob().update('subnetpools', 'subnetpool', shared.id, { name: 'x' }),
      403,
      'PolicyNotAuthorized',
    );
    const dflt = await pool(admin(), {
      is_default: true,
      shared: true,
      prefixes: ['10.200.0.0/16'],
      default_prefixlen: 26,
    });
    await expectRejectedUnchanged(s, () => pool(admin(), { is_default: true }), 400, 'InvalidInput');
    await expectFault(
      () => admin().update('subnetpools', 'subnetpool', adminOnly.id, { is_default: true }),
      400,
      'InvalidInput',
    );
    await expectFault(
      () => alice().update('subnetpools', 'subnetpool', mine.id, { is_default: true }),
      403,
      'PolicyNotAuthorized',
    );
    // A subnet from the default pool.
    const net = await bob().create<Network>('networks', 'network', { name: 'bn' });
    const sub = await bob().create<Subnet>('subnets', 'subnet', {
      network_id: net.id,
      ip_version: 4,
      use_default_subnetpool: true,
    });
    assert.equal(sub.cidr, '10.200.0.0/26');
    assert.equal(sub.subnetpool_id, dflt.id);
    await expectFault(
      () => bob().create('subnets', 'subnet', { network_id: net.id, ip_version: 6, use_default_subnetpool: true }),
      400,
      'BadRequest',
    );
    // In use: refused until the subnet goes.
    await expectRejectedUnchanged(s, () => admin().delete('subnetpools', dflt.id), 400, 'SubnetPoolDeleteError');
    await bob().delete('subnets', sub.id);
    await admin().delete('subnetpools', dflt.id);
    for (const p of [mine]) await alice().delete('subnetpools', p.id);
    for (const p of [adminOnly, shared]) await admin().delete('subnetpools', p.id);
  });

  it('allocates subnets from a pool: by prefixlen, default length, given CIDR, within bounds and quota', async () => {
    const p = await pool(alice(), { min_prefixlen: 28, max_prefixlen: 30, default_quota: 32 });
    const net = await alice().create<Network>('networks', 'network', { name: 'an' });
    const mk = (body: Record<string, unknown>, c = alice(), network = net) =>
      c.create<Subnet>('subnets', 'subnet', { network_id: network.id, ip_version: 4, subnetpool_id: p.id, ...body });
    const a = await mk({ prefixlen: '30' });
    assert.equal(a.cidr, '10.11.12.0/30');
    assert.equal(a.subnetpool_id, p.id);
    assert.equal(a.gateway_ip, '10.11.12.1');
    const b = await mk({});
    assert.equal(b.cidr, '10.11.12.16/28', 'the default length (28), in the smallest free block that holds it');
    const c = await mk({ prefixlen: 30 });
    assert.equal(c.cidr, '10.11.12.4/30', 'small blocks fill the holes first');
    const given = await mk({ cidr: '10.11.12.32/29' });
    assert.equal(given.cidr, '10.11.12.32/29');
    const r = (body: Record<string, unknown>, status: number, type: string) =>
      expectRejectedUnchanged(s, () => mk(body), status, type);
    // 4 + 16 + 4 + 8 addresses: alice's quota of 32 addresses in the pool is used up.
    await r({ prefixlen: 30 }, 409, 'SubnetPoolQuotaExceeded');
    await alice().update('subnetpools', 'subnetpool', p.id, { default_quota: null });
    await r({ cidr: '10.11.12.32/29' }, 409, 'SubnetAllocationError');
    await r({ cidr: '10.99.0.0/29' }, 409, 'SubnetAllocationError');
    await r({ prefixlen: 27 }, 400, 'MinPrefixSubnetAllocationError');
    await r({ prefixlen: 31 }, 400, 'MaxPrefixSubnetAllocationError');
    await r({ cidr: '10.11.12.64/29', prefixlen: 29 }, 400, 'BadRequest');
    await r({ allocation_pools: [{ start: '10.11.12.66', end: '10.11.12.70' }] }, 400, 'BadRequest');
    await r({ ip_version: 6 }, 400, 'BadRequest');
    const d = await mk({ prefixlen: 29 });
    assert.equal(d.cidr, '10.11.12.8/29');
    // One pool per network and IP version: a plain subnet cannot join a pool's, nor the reverse.
    await expectRejectedUnchanged(
      s,
      () => alice().create('subnets', 'subnet', { network_id: net.id, cidr: '10.50.0.0/24' }),
      400,
      'NetworkSubnetPoolAffinityError',
    );
    const plain = await alice().create<Network>('networks', 'network', { name: 'plain' });
    await alice().create('subnets', 'subnet', { network_id: plain.id, cidr: '10.50.0.0/24' });
    await r({ prefixlen: 30, network_id: plain.id }, 400, 'NetworkSubnetPoolAffinityError');
    // Freed space is reused, and the pool goes once its subnets have.
    await alice().delete('subnets', a.id);
    assert.equal((await mk({ prefixlen: 30 })).cidr, '10.11.12.0/30');
    await alice().delete('networks', net.id);
    await alice().delete('subnetpools', p.id);
  });

  it('adds and removes prefixes (subnetpool-prefix-ops), never space a subnet holds', async () => {
    const p = await pool(alice(), { prefixes: ['192.168.1.0/24', '10.10.10.0/24'], min_prefixlen: 16 });
    const op = (what: string, prefixes: string[], c = alice()) =>
      c.call('PUT', `/v2.0/subnetpools/${p.id}/${what}`, { prefixes }) as Promise<{ prefixes: string[] }>;
    assert.deepEqual((await op('add_prefixes', ['192.168.2.0/24'])).prefixes, [
      '10.10.10.0/24',
      '192.168.1.0/24',
      '192.168.2.0/24',
    ]);
    assert.deepEqual((await op('add_prefixes', ['10.10.0.0/16'])).prefixes, [
      '10.10.0.0/16',
      '192.168.1.0/24',
      '192.168.2.0/24',
    ]);
    assert.deepEqual((await op('remove_prefixes', ['192.168.2.0/24'])).prefixes, ['10.10.0.0/16', '192.168.1.0/24']);
    const shown = await alice().show<SubnetPool>('subnetpools', 'subnetpool', p.id);
    assert.deepEqual(shown.prefixes, ['10.10.0.0/16', '192.168.1.0/24']);
    assert.ok(shown.revision_number >= 4, 'each operation is a pool update');
    const net = await alice().create<Network>('networks', 'network', { name: 'ops-net' });
    const sub = await alice().create<Subnet>('subnets', 'subnet', {
      network_id: net.id,
      subnetpool_id: p.id,
      cidr: '10.10.5.0/24',
    });
    const r = (what: string, prefixes: string[], status: number, type: string, c = alice()) =>
      expectRejectedUnchanged(s, () => op(what, prefixes, c), status, type);
    await r('remove_prefixes', ['10.10.0.0/20'], 400, 'IllegalSubnetPoolUpdate');
    await r('remove_prefixes', ['10.10.0.0/16', '192.168.1.0/24'], 400, 'IllegalSubnetPoolUpdate');
    await r('add_prefixes', ['2001:db8::/32'], 400, 'PrefixVersionMismatch');
    await r('add_prefixes', [], 400, 'InvalidInput');
    await r('add_prefixes', ['10.99.0.0/16'], 404, 'SubnetPoolNotFound', bob());
    assert.deepEqual((await op('remove_prefixes', ['10.10.128.0/17'])).prefixes, ['10.10.0.0/17', '192.168.1.0/24']);
    await alice().delete('subnets', sub.id);
    await r('remove_prefixes', ['10.10.0.0/16', '192.168.1.0/24'], 400, 'EmptySubnetPoolPrefixList');
    await alice().delete('networks', net.id);
    await alice().delete('subnetpools', p.id);
  });
});
