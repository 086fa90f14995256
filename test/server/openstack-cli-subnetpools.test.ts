/**
 * The REAL `openstack` CLI with subnet pools (token auth): `subnet pool create/list/show/set/delete`
 * and `subnet create --subnet-pool` with and without `--prefix-length`. Skips when the CLI is missing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cli, haveCli } from './openstack-cli-helpers.js';
import { startTestServer, TENANT_TOKENS, type TestServer } from './helpers.js';
import { skipUnless } from '../../testkit/preconditions.js';

type J = Record<string, unknown>;

describe('openstack CLI: subnet pools', { skip: skipUnless(haveCli, 'openstack CLI not installed') }, () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ tokens: TENANT_TOKENS });
  });
  after(async () => s?.stop());

  it('creates a pool, allocates subnets from it, grows it, and deletes it once unused', async () => {
    const as = (t: string) => cli(['--os-auth-type', 'admin_token', '--os-token', t, '--os-endpoint', s.url]);
    const os = as('ALICE');
    const pool = (
      await os([
        'subnet',
        'pool',
        'create',
        'hn-pool',
        '--pool-prefix',
        '10.40.0.0/16',
        '--default-prefix-length',
        '24',
        '--min-prefix-length',
        '20',
        '--max-prefix-length',
        '28',
        '-f',
        'json',
      ])
    ).json as J;
    assert.deepEqual(pool.prefixes, ['10.40.0.0/16']);
    assert.equal(Number(pool.default_prefixlen), 24);
    assert.equal(pool.project_id, 'pa');
    const listed = (await os(['subnet', 'pool', 'list', '-f', 'json'])).json as J[];
    assert.deepEqual(
      listed.map((p) => p.Name),
      ['hn-pool'],
    );
    assert.deepEqual((await as('BOB')(['subnet', 'pool', 'list', '-f', 'json'])).json, []);

    await os(['network', 'create', 'hn-net']);
    const sized = (
      await os([
        'subnet',
        'create',
        'hn-s1',
        '--network',
        'hn-net',
        '--subnet-pool',
        'hn-pool',
        '--prefix-length',
        '26',
      ])
    ).code;
    assert.equal(sized, 0);
    const s1 = (await os(['subnet', 'show', 'hn-s1', '-f', 'json'])).json as J;
    assert.equal(s1.cidr, '10.40.0.0/26');
    assert.equal(s1.subnetpool_id, pool.id);
    const s2 = (
      await os(['subnet', 'create', 'hn-s2', '--network', 'hn-net', '--subnet-pool', 'hn-pool', '-f', 'json'])
    ).json as J;
    assert.equal(s2.cidr, '10.40.1.0/24', 'the default length, in the smallest free block holding it');
    const tooBig = await os(
      ['subnet', 'create', 'hn-s3', '--network', 'hn-net', '--subnet-pool', 'hn-pool', '--prefix-length', '16'],
      true,
    );
    assert.notEqual(tooBig.code, 0);
    assert.match(tooBig.stderr, /minimum allowed prefix is 20/);

    await os(['subnet', 'pool', 'set', 'hn-pool', '--pool-prefix', '10.41.0.0/16', '--name', 'hn-pool2']);
    const grown = (await os(['subnet', 'pool', 'show', 'hn-pool2', '-f', 'json'])).json as J;
    assert.deepEqual(grown.prefixes, ['10.40.0.0/15']);

    const inUse = await os(['subnet', 'pool', 'delete', 'hn-pool2'], true);
    assert.notEqual(inUse.code, 0);
    assert.match(inUse.stderr, /existing allocations/);
    await os(['subnet', 'delete', 'hn-s1', 'hn-s2']);
    await os(['subnet', 'pool', 'delete', 'hn-pool2']);
    assert.deepEqual((await os(['subnet', 'pool', 'list', '-f', 'json'])).json, []);
  });
});
