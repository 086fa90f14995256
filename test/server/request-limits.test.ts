/**
 * Request size limits over real HTTP under token auth with two member projects: the body limit
 * (413 with a NeutronError body, configurable), allowed address pairs and fixed IPs per port
 * (configurable), tags per object (body and the /tags sub-resource), and the bulk bound that keeps
 * one request from holding the store's write lock: over the bound is 400, a full bulk succeeds, and
 * another project's requests go through while full bulks run back to back.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Network, Port, Subnet } from '../../src/model/types.js';
import { defaultConfig, QUOTA_RESOURCES, type QuotaLimits } from '../../src/server/config.js';
import { adminTokenHolder, expectFault, expectRejectedUnchanged, startTestServer, type TestServer } from './helpers.js';

const TOKENS = {
  ADMIN: { project_id: 'ops', roles: ['admin'] },
  ALICE: { project_id: 'pa', roles: ['member'] },
  BOB: { project_id: 'pb', roles: ['member'] },
};
const UNLIMITED = Object.fromEntries(QUOTA_RESOURCES.map((r) => [r, -1])) as QuotaLimits;

describe('request limits (defaults)', () => {
  let s: TestServer;
  let net: Network;
  before(async () => {
    s = await startTestServer({ tokens: TOKENS, config: { quotaDefaults: UNLIMITED } });
    adminTokenHolder.token = 'ADMIN';
    net = await s.client('ALICE').create<Network>('networks', 'network', { name: 'alice-net' });
    for (let i = 0; i < 6; i++) {
      await s.client('ALICE').create<Subnet>('subnets', 'subnet', { network_id: net.id, cidr: `10.5${i}.0.0/24` });
    }
  });
  after(async () => {
    delete adminTokenHolder.token;
    await s.stop();
  });

  it('a body over 114,688 bytes is 413 with a NeutronError body', async () => {
    const alice = s.client('ALICE');
    const res = await alice.raw('POST', '/v2.0/networks', { network: { name: 'x', description: 'y'.repeat(115_000) } });
    assert.equal(res.status, 413);
    assert.equal((res.body as { NeutronError: { type: string } }).NeutronError.type, 'HTTPRequestEntityTooLarge');
    // Just under the limit is parsed (and then refused for the long description, a 400, not a 413).
    const near = await alice.raw('POST', '/v2.0/networks', { network: { description: 'y'.repeat(114_000) } });
    assert.equal(near.status, 400);
  });

  it('at most 10 allowed address pairs and 5 fixed IPs per port', async () => {
    const alice = s.client('ALICE');
    const pairs = (n: number) => Array.from({ length: n }, (_, i) => ({ ip_address: `10.50.0.${100 + i}` }));
    await expectRejectedUnchanged(
      s,
      () => alice.create('ports', 'port', { network_id: net.id, allowed_address_pairs: pairs(11) }),
      400,
      'AllowedAddressPairExhausted',
    );
    const p = await alice.create<Port>('ports', 'port', { network_id: net.id, allowed_address_pairs: pairs(10) });
    assert.equal(p.allowed_address_pairs.length, 10);
    await expectRejectedUnchanged(
      s,
      () => alice.update('ports', 'port', p.id, { allowed_address_pairs: pairs(11) }),
      400,
      'AllowedAddressPairExhausted',
    );
    const subnets = await alice.list<Subnet>('subnets', { network_id: net.id });
    const fixed = (n: number) => subnets.slice(0, n).map((sn) => ({ subnet_id: sn.id }));
    await expectRejectedUnchanged(
      s,
      () => alice.create('ports', 'port', { network_id: net.id, fixed_ips: fixed(6) }),
      400,
      'InvalidInput',
    );
    await expectRejectedUnchanged(
      s,
      () => alice.update('ports', 'port', p.id, { fixed_ips: fixed(6) }),
      400,
      'InvalidInput',
    );
    const five = await alice.update<Port>('ports', 'port', p.id, { fixed_ips: fixed(5) });
    assert.equal(five.fixed_ips.length, 5);
  });

  it('at most 50 tags, also through the /tags sub-resource', async () => {
    const alice = s.client('ALICE');
    const tags = (n: number) => Array.from({ length: n }, (_, i) => `t${i}`);
    await expectRejectedUnchanged(
      s,
      () => alice.create('networks', 'network', { tags: tags(51) }),
      400,
      'InvalidInput',
    );
    const n = await alice.create<Network>('networks', 'network', { tags: tags(50) });
    const path = `/v2.0/networks/${n.id}/tags`;
    await expectRejectedUnchanged(s, () => alice.call('PUT', `${path}/one-more`), 400, 'BadRequest');
    await expectRejectedUnchanged(s, () => alice.call('PUT', path, { tags: tags(51) }), 400, 'BadRequest');
    await alice.call('PUT', path, { tags: tags(3) });
    await alice.call('PUT', `${path}/one-more`);
    assert.deepEqual((await alice.show<Network>('networks', 'network', n.id)).tags, [...tags(3), 'one-more']);
  });

  it('a bulk over max_bulk_items is 400 even for an admin without quotas; a full bulk succeeds', async () => {
    const admin = s.client('ADMIN');
    const max = defaultConfig().maxBulkItems;
    const items = (k: number) => Array.from({ length: k }, () => ({ network_id: net.id }));
    await expectRejectedUnchanged(
      s,
      () => admin.call('POST', '/v2.0/ports', { ports: items(max + 1) }),
      400,
      'HTTPBadRequest',
    );
    const made = await admin.call<{ ports: Port[] }>('POST', '/v2.0/ports', { ports: items(max) });
    assert.equal(made.ports.length, max);
  });

  it("another project's requests are served between full bulks (not starved)", async (t) => {
    const admin = s.client('ADMIN');
    const bob = s.client('BOB');
    const max = defaultConfig().maxBulkItems;
    const subnets = await admin.list<Subnet>('subnets', { network_id: net.id });
    // The heaviest allowed port: every fixed IP and address pair a port may have.
    const heavy = () => ({
      network_id: net.id,
      fixed_ips: subnets.slice(0, 5).map((sn) => ({ subnet_id: sn.id })),
      allowed_address_pairs: Array.from({ length: 10 }, (_, i) => ({ ip_address: `192.0.2.${i}` })),
    });
    const BULKS = 6;
    let bulksDone = 0;
    const bulks = (async () => {
      for (let i = 0; i < BULKS; i++) {
        await admin.call('POST', '/v2.0/ports', { ports: Array.from({ length: max }, heavy) });
        bulksDone += 1;
      }
    })();
    const latencies: number[] = [];
    const bulksDoneWhenBobFinished: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await bob.create('networks', 'network', { name: `bob-${i}` });
      latencies.push(performance.now() - t0);
      bulksDoneWhenBobFinished.push(bulksDone);
    }
    await bulks;
    t.diagnostic(`bob's create latencies while full bulks ran: ${latencies.map((l) => l.toFixed(1)).join(', ')} ms`);
    // Each of Bob's writes waits for at most the one bulk ahead of it, so all three finish before the
    // admin's stream of bulks does: a request that held the lock for the whole stream would fail this.
    assert.ok(bulksDoneWhenBobFinished[2] < BULKS, `bob finished after ${bulksDoneWhenBobFinished[2]} bulks`);
    assert.equal((await bob.list<Network>('networks')).filter((n) => n.name.startsWith('bob-')).length, 3);
  });
});

describe('request limits (configured)', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({
      tokens: TOKENS,
      config: { maxRequestBodySize: 2_000, maxAllowedAddressPairs: 1, maxFixedIpsPerPort: 1, maxBulkItems: 2 },
    });
    adminTokenHolder.token = 'ADMIN';
  });
  after(async () => {
    delete adminTokenHolder.token;
    await s.stop();
  });

  it('max_request_body_size, max_allowed_address_pair, max_fixed_ips_per_port, max_bulk_items', async () => {
    const alice = s.client('ALICE');
    const big = await alice.raw('POST', '/v2.0/networks', { network: { description: 'y'.repeat(2_100) } });
    assert.equal(big.status, 413);
    const net = await alice.create<Network>('networks', 'network', {});
    await alice.create('subnets', 'subnet', { network_id: net.id, cidr: '10.60.0.0/24' });
    const pairs = [{ ip_address: '10.60.0.200' }, { ip_address: '10.60.0.201' }];
    await expectFault(
      () => alice.create('ports', 'port', { network_id: net.id, allowed_address_pairs: pairs }),
      400,
      'AllowedAddressPairExhausted',
    );
    await expectFault(
      () =>
        alice.create('ports', 'port', {
          network_id: net.id,
          fixed_ips: [{ ip_address: '10.60.0.10' }, { ip_address: '10.60.0.11' }],
        }),
      400,
      'InvalidInput',
    );
    await expectFault(() => alice.call('POST', '/v2.0/networks', { networks: [{}, {}, {}] }), 400, 'HTTPBadRequest');
    assert.equal(
      (await alice.call<{ networks: Network[] }>('POST', '/v2.0/networks', { networks: [{}, {}] })).networks.length,
      2,
    );
  });
});
