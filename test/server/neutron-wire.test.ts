/**
 * Wire details Neutron's own API tests (neutron-tempest-plugin) rely on, over real HTTP: how bodies
 * and media types are read, filters Neutron accepts, Neutron's pagination links, and the negative
 * security-group cases. Each case here is one that the tempest run found broken.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Network, Port, SecurityGroup, Subnet } from '../../src/model/types.js';
import { expectFault, startTestServer, TENANT_TOKENS, type TestServer } from './helpers.js';

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

describe('Neutron wire compatibility', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(async () => s.stop());
  const c = () => s.client();

  /** One request with exactly the given headers and body text (undefined = no body). */
  async function send(method: string, path: string, headers: Record<string, string>, text?: string): Promise<Answer> {
    const res = await fetch(s.url + path, { method, headers, body: text });
    const raw = await res.text();
    return { status: res.status, body: raw === '' ? {} : (JSON.parse(raw) as Record<string, unknown>) };
  }
  const errorType = (a: Answer) => (a.body.NeutronError as { type: string } | undefined)?.type;

  it('takes DELETE and PUT with Content-Type: application/json and no body, as Neutron clients send', async () => {
    const net = await c().create<Network>('networks', 'network', { name: 'del-json' });
    const json = { 'content-type': 'application/json' };
    // A tag PUT carries no body; tempest still sends the JSON content type (and Content-Length: 0).
    const tag = await send('PUT', `/v2.0/networks/${net.id}/tags/red`, { ...json, 'content-length': '0' });
    assert.equal(tag.status, 201);
    assert.equal((await send('GET', `/v2.0/networks/${net.id}/tags/red`, json)).status, 204);
    assert.equal((await send('DELETE', `/v2.0/networks/${net.id}/tags/red`, json)).status, 204);
    assert.equal((await send('DELETE', `/v2.0/networks/${net.id}`, { ...json, 'content-length': '0' })).status, 204);
    await expectFault(() => c().show('networks', 'network', net.id), 404, 'NetworkNotFound');
  });

  it('reads a POST or PUT body as JSON whatever its Content-Type, as Neutron does', async () => {
    const body = JSON.stringify({ network: { name: 'typed' } });
    const created = await send('POST', '/v2.0/networks', { 'content-type': 'application/json; charset=UTF-8' }, body);
    assert.equal(created.status, 201);
    const id = (created.body.network as Network).id;
    // tempest's update calls pass their own header set, which has no Content-Type at all.
    const renamed = await send('PUT', `/v2.0/networks/${id}`, {}, JSON.stringify({ network: { name: 'bare' } }));
    assert.equal(renamed.status, 200);
    assert.equal((renamed.body.network as Network).name, 'bare');
    const plain = await send(
      'PUT',
      `/v2.0/networks/${id}`,
      { 'content-type': 'text/plain' },
      '{"network":{"name":"p"}}',
    );
    assert.equal(plain.status, 200);
    assert.equal((plain.body.network as Network).name, 'p');
    const pinned = await send(
      'PUT',
      `/v2.0/networks/${id}`,
      { 'if-match': 'revision_number=1' },
      JSON.stringify({ network: { name: 'stale' } }),
    );
    assert.equal(pinned.status, 412);
    assert.equal(errorType(pinned), 'RevisionNumberConstraintFailed');
    const broken = await send('POST', '/v2.0/networks', { 'content-type': 'text/plain' }, '{"network": {');
    assert.equal(broken.status, 400);
    assert.equal(errorType(broken), 'BadRequest');
    const poisoned = await send('POST', '/v2.0/networks', {}, '{"__proto__": {"x": 1}}');
    assert.equal(poisoned.status, 400);
    const empty = await send('POST', '/v2.0/networks', { 'content-type': 'application/json', 'content-length': '0' });
    assert.equal(empty.status, 400);
    assert.equal(errorType(empty), 'HTTPBadRequest');
  });

  it('filters networks on shared and router:external, and subnets on their network being shared', async () => {
    const own = await c().create<Network>('networks', 'network', { name: 'flt-own' });
    const pub = await c().create<Network>('networks', 'network', { name: 'flt-pub', shared: true });
    const ownSub = await c().create<Subnet>('subnets', 'subnet', { network_id: own.id, cidr: '10.8.0.0/24' });
    const pubSub = await c().create<Subnet>('subnets', 'subnet', { network_id: pub.id, cidr: '10.9.0.0/24' });
    const names = (xs: { name: string }[]) => xs.map((x) => x.name).filter((n) => n.startsWith('flt-'));
    assert.deepEqual(names(await c().list<Network>('networks', { shared: 'False', 'router:external': 'False' })), [
      'flt-own',
    ]);
    assert.deepEqual(names(await c().list<Network>('networks', { shared: 'True' })), ['flt-pub']);
    const ids = (xs: Subnet[]) => xs.map((x) => x.id);
    assert.deepEqual(ids(await c().list<Subnet>('subnets', { shared: 'False' })), [ownSub.id]);
    assert.deepEqual(ids(await c().list<Subnet>('subnets', { shared: 'true' })), [pubSub.id]);
    // The filter does not make `shared` a visible subnet attribute, and an empty value filters nothing.
    assert.ok(!('shared' in (await c().show<Subnet>('subnets', 'subnet', ownSub.id))));
    assert.equal((await c().list<Subnet>('subnets', { shared: '' })).length, 2);
    await expectFault(() => c().list('subnets', { unknown_filter: 'x' }), 400, 'HTTPBadRequest');
  });

  it('filters on changed_since (standard-attr-timestamp)', async () => {
    const net = await c().create<Network>('networks', 'network', { name: 'since' });
    const named = { name: 'since' };
    assert.equal((await c().list('networks', { ...named, changed_since: '2000-01-01T00:00:00Z' })).length, 1);
    assert.equal((await c().list('networks', { ...named, changed_since: net.updated_at })).length, 1);
    assert.equal((await c().list('networks', { ...named, changed_since: '2999-01-01T00:00:00' })).length, 0);
    assert.equal((await c().list('networks', { ...named, changed_since: '2999-01-01T00:00:00+01:00' })).length, 0);
    await expectFault(() => c().list('networks', { changed_since: 'yesterday' }), 400, 'InvalidInput');
  });

  it('paginates as Neutron: links on full pages, an empty last page, page_reverse, limit=0', async () => {
    for (const name of ['pg-c', 'pg-a', 'pg-e', 'pg-b', 'pg-d'])
      await c().create('security-groups', 'security_group', { name });
    type Page = { security_groups: SecurityGroup[]; security_groups_links?: { rel: string; href: string }[] };
    const get = async (path: string) => (await c().call('GET', path)) as Page;
    const follow = (p: Page, rel: string) => {
      const link = p.security_groups_links?.find((l) => l.rel === rel);
      if (!link) return undefined;
      const u = new URL(link.href);
      assert.equal(`${u.protocol}//${u.host}`, s.url, 'links point at this server');
      return u.pathname + u.search;
    };
    const names = (p: Page) => p.security_groups.map((g) => g.name);
    const base = '/v2.0/security-groups?name=pg-a&name=pg-b&name=pg-c&name=pg-d&name=pg-e&sort_key=name&sort_dir=asc';

    // Forward one by one through `next`: the fifth page is full, so a sixth (empty) one follows.
    let page = await get(`${base}&limit=1`);
    assert.deepEqual(names(page), ['pg-a']);
    assert.ok(follow(page, 'previous'), 'a full first page has a previous link too');
    const seen: string[] = [...names(page)];
    for (let i = 0; i < 5; i++) {
      page = await get(follow(page, 'next')!);
      seen.push(...names(page));
    }
    assert.deepEqual(seen, ['pg-a', 'pg-b', 'pg-c', 'pg-d', 'pg-e']);
    assert.equal(page.security_groups.length, 0);
    assert.equal(follow(page, 'next'), undefined, 'an empty forward page has no next link');
    // Back through `previous` from the empty page: the last item first.
    const back: string[] = [];
    for (let i = 0; i < 5; i++) {
      page = await get(follow(page, 'previous')!);
      back.push(...names(page));
    }
    assert.deepEqual(back, ['pg-e', 'pg-d', 'pg-c', 'pg-b', 'pg-a']);
    page = await get(follow(page, 'previous')!);
    assert.equal(page.security_groups.length, 0);
    assert.equal(follow(page, 'previous'), undefined, 'a short reverse page has no previous link');
    assert.ok(follow(page, 'next'));

    // page_reverse without a marker: the last page, in list order; then its previous pages.
    page = await get(`${base}&limit=2&page_reverse=True`);
    assert.deepEqual(names(page), ['pg-d', 'pg-e']);
    page = await get(follow(page, 'previous')!);
    assert.deepEqual(names(page), ['pg-b', 'pg-c']);
    page = await get(follow(page, 'previous')!);
    assert.deepEqual(names(page), ['pg-a']);

    // The items before a marker, descending order.
    const desc = base.replace('sort_dir=asc', 'sort_dir=desc');
    const first3 = await get(`${desc}&limit=3`);
    assert.deepEqual(names(first3), ['pg-e', 'pg-d', 'pg-c']);
    const before2 = await get(`${desc}&limit=2&page_reverse=True&marker=${first3.security_groups[2].id}`);
    assert.deepEqual(names(before2), ['pg-e', 'pg-d']);

    // limit=0 is no pagination at all: every item, no links, the marker ignored.
    const all = await get(`${base}&limit=0&marker=${first3.security_groups[0].id}`);
    assert.equal(all.security_groups.length, 5);
    assert.equal(all.security_groups_links, undefined);
    await expectFault(() => get(`${base}&limit=-1`), 400, 'HTTPBadRequest');
  });

  it('adds another address of the same subnet to a port (fixed_ips naming the subnet again)', async () => {
    const net = await c().create<Network>('networks', 'network', { name: 'two-ips' });
    const sub = await c().create<Subnet>('subnets', 'subnet', { network_id: net.id, cidr: '10.12.0.0/24' });
    const port = await c().create<Port>('ports', 'port', { network_id: net.id });
    const more = await c().update<Port>('ports', 'port', port.id, {
      fixed_ips: [...port.fixed_ips, { subnet_id: sub.id }],
    });
    assert.deepEqual(
      more.fixed_ips.map((f) => f.subnet_id),
      [sub.id, sub.id],
    );
    assert.equal(more.fixed_ips[0].ip_address, port.fixed_ips[0].ip_address, 'the held address is kept');
    assert.notEqual(more.fixed_ips[1].ip_address, more.fixed_ips[0].ip_address);
    const twice = { fixed_ips: [more.fixed_ips[0], more.fixed_ips[0]] };
    await expectFault(() => c().update('ports', 'port', port.id, twice), 400, 'InvalidInput');
  });

  it('refuses the security-group cases Neutron refuses', async () => {
    const net = await c().create<Network>('networks', 'network', { name: 'sg-neg' });
    const def = (await c().list<SecurityGroup>('security-groups', { name: 'default' }))[0];
    await expectFault(
      () => c().update('security-groups', 'security_group', def.id, { name: 'test' }),
      409,
      'SecurityGroupCannotUpdateDefault',
    );
    const long = 'x'.repeat(256);
    await expectFault(
      () => c().update('security-groups', 'security_group', def.id, { name: long }),
      400,
      'InvalidInput',
    );
    await expectFault(
      () => c().update('security-groups', 'security_group', def.id, { name: true }),
      400,
      'InvalidInput',
    );
    await expectFault(() => c().create('security-groups', 'security_group', { name: long }), 400, 'InvalidInput');
    await expectFault(() => c().create('security-groups', 'security_group', { name: true }), 400, 'InvalidInput');
    const sg = await c().create<SecurityGroup>('security-groups', 'security_group', { name: 'used' });
    const port = await c().create<Port>('ports', 'port', { network_id: net.id, security_groups: [sg.id] });
    await expectFault(() => c().delete('security-groups', sg.id), 409, 'SecurityGroupInUse');
    // The same group twice is a 400, on update and on create, and the port keeps its groups.
    await expectFault(
      () => c().update('ports', 'port', port.id, { security_groups: [sg.id, sg.id] }),
      400,
      'HTTPBadRequest',
    );
    await expectFault(
      () => c().create('ports', 'port', { network_id: net.id, security_groups: [def.id, def.id] }),
      400,
      'HTTPBadRequest',
    );
    assert.deepEqual((await c().show<Port>('ports', 'port', port.id)).security_groups, [sg.id]);
    const moved = await c().update<Port>('ports', 'port', port.id, { security_groups: [def.id] });
    assert.ok(moved.revision_number > port.revision_number, 'a group change bumps the port revision');
    await c().delete('security-groups', sg.id);
  });
  it('takes bulk items in their singular envelope, and integers as decimal strings', async () => {
    // neutron-tempest-plugin's bulk security-group create wraps every item; Neutron takes both forms.
    const bulk = (await c().call('POST', '/v2.0/security-groups', {
      security_groups: [{ security_group: { name: 'bulk-a' } }, { name: 'bulk-b' }],
    })) as { security_groups: SecurityGroup[] };
    assert.deepEqual(
      bulk.security_groups.map((g) => g.name),
      ['bulk-a', 'bulk-b'],
    );
    const wrappedTwice = { security_groups: [{ security_group: { name: 'x' }, name: 'y' }] };
    await expectFault(() => c().call('POST', '/v2.0/security-groups', wrappedTwice), 400, 'HTTPBadRequest');
    // Neutron converts ip_version and quota limits with int(): "4" is 4.
    const net = await c().create<Network>('networks', 'network', { name: 'int-strings' });
    const sub = await c().create<Subnet>('subnets', 'subnet', {
      network_id: net.id,
      cidr: '10.13.0.0/24',
      ip_version: '4',
    });
    assert.equal(sub.ip_version, 4);
    const v5 = { network_id: net.id, cidr: '10.14.0.0/24', ip_version: '5' };
    await expectFault(() => c().create('subnets', 'subnet', v5), 400, 'InvalidInput');
    const quota = (q: Record<string, unknown>) => c().call('PUT', '/v2.0/quotas/int-strings', { quota: q });
    const set = (await quota({ security_group: '7' })) as { quota: { security_group: number } };
    assert.equal(set.quota.security_group, 7);
    // The range is [-1, 2^31 - 1], the database's integer.
    for (const bad of [-2, 2 ** 31, 'value', 1.5])
      await expectFault(() => quota({ security_group: bad }), 400, 'InvalidInput');
    assert.equal(((await quota({ security_group: 2 ** 31 - 1 })) as typeof set).quota.security_group, 2 ** 31 - 1);
  });

  it("counts a new security group's own rules against the rule quota", async () => {
    const project = 'rule-quota';
    await c().create('security-groups', 'security_group', { name: 'first', project_id: project });
    const used = (await c().list('security-group-rules', { project_id: project })).length;
    await c().call('PUT', `/v2.0/quotas/${project}`, { quota: { security_group_rule: used + 1 } });
    // A group comes with its two egress rules: one left under the quota is not enough, and nothing is made.
    const second = { name: 'second', project_id: project };
    await expectFault(() => c().create('security-groups', 'security_group', second), 409, 'OverQuota');
    assert.equal((await c().list('security-groups', { project_id: project, name: 'second' })).length, 0);
    await c().call('PUT', `/v2.0/quotas/${project}`, { quota: { security_group_rule: used + 2 } });
    await c().create('security-groups', 'security_group', second);
  });

  it('refuses a malformed interface id with 400, and shows router ports ACTIVE while the router is up', async () => {
    const router = await c().create<{ id: string }>('routers', 'router', { name: 'r-wire' });
    const add = (body: object) => c().call('PUT', `/v2.0/routers/${router.id}/add_router_interface`, body);
    await expectFault(() => add({ port_id: 'tempest-port-1' }), 400, 'BadRequest');
    await expectFault(() => add({ subnet_id: 'not-a-uuid' }), 400, 'BadRequest');
    const net = await c().create<Network>('networks', 'network', { name: 'r-wire-net' });
    const sub = await c().create<Subnet>('subnets', 'subnet', { network_id: net.id, cidr: '10.15.0.0/24' });
    const ext = await c().create<Network>('networks', 'network', { name: 'r-wire-ext', 'router:external': true });
    await c().create('subnets', 'subnet', { network_id: ext.id, cidr: '203.0.113.0/28', enable_dhcp: false });
    const info = (await add({ subnet_id: sub.id })) as { port_id: string };
    await c().update('routers', 'router', router.id, { external_gateway_info: { network_id: ext.id } });
    const statuses = async () =>
      (await c().list<Port>('ports', { device_id: router.id })).map((p) => `${p.device_owner} ${p.status}`).sort();
    const up = ['network:router_gateway ACTIVE', 'network:router_interface ACTIVE'];
    assert.deepEqual(await statuses(), up);
    assert.equal((await c().show<Port>('ports', 'port', info.port_id)).status, 'ACTIVE');
    await c().update('routers', 'router', router.id, { admin_state_up: false });
    assert.deepEqual(await statuses(), ['network:router_gateway DOWN', 'network:router_interface DOWN']);
    await c().update('routers', 'router', router.id, { admin_state_up: true });
    assert.deepEqual(await statuses(), up);
  });
});

describe('Neutron wire compatibility (token auth)', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ tokens: TENANT_TOKENS });
  });
  after(async () => s.stop());

  it('lets a tenant state admin-only attributes at their defaults on create, not on update', async () => {
    const alice = s.client('ALICE');
    // The CLI's `network create --no-share --internal` sends both.
    const net = await alice.create<Network>('networks', 'network', { shared: false, 'router:external': false });
    assert.equal(net.shared, false);
    await expectFault(() => alice.create('networks', 'network', { shared: true }), 403, 'PolicyNotAuthorized');
    await expectFault(
      () => alice.create('networks', 'network', { 'provider:segmentation_id': 4000 }),
      403,
      'PolicyNotAuthorized',
    );
    await expectFault(() => alice.update('networks', 'network', net.id, { shared: false }), 403, 'PolicyNotAuthorized');
    const pool = await alice.create<{ id: string }>('subnetpools', 'subnetpool', {
      prefixes: ['10.70.0.0/16'],
      shared: false,
      is_default: false,
    });
    await expectFault(
      () => alice.update('subnetpools', 'subnetpool', pool.id, { is_default: false }),
      403,
      'PolicyNotAuthorized',
    );
  });
});
