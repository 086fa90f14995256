/**
 * Quotas over real HTTP under token auth with two member projects: Neutron's quota API (show,
 * default, details, list, set, reset), who may read and change it, 409 OverQuota inside the create's
 * transaction (bulk counted whole, racing creates cannot pass the limit), configured defaults,
 * limits kept across a restart, and the stock `openstack quota set|show` CLI.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../../src/client/api.js';
import { realExec } from '../../src/common/exec.js';
import { silentLogger } from '../../src/common/log.js';
import type { Network } from '../../src/model/types.js';
import { defaultConfig } from '../../src/server/config.js';
import { serve } from '../../src/server/serve.js';
import { adminTokenHolder, expectFault, expectRejectedUnchanged, startTestServer, type TestServer } from './helpers.js';

const TOKENS = {
  ADMIN: { project_id: 'ops', roles: ['admin'] },
  ALICE: { project_id: 'pa', roles: ['member'] },
  BOB: { project_id: 'pb', roles: ['member'] },
};
const DEFAULTS = {
  network: 100,
  subnet: 100,
  port: 500,
  security_group: 10,
  security_group_rule: 100,
  router: 10,
  floatingip: 50,
};

type Quota = Record<string, number>;

describe('quotas', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ tokens: TOKENS });
    adminTokenHolder.token = 'ADMIN';
  });
  after(async () => {
    delete adminTokenHolder.token;
    await s.stop();
  });

  it("Neutron's defaults; members read only their own; only admins change", async () => {
    const alice = s.client('ALICE');
    assert.deepEqual((await alice.call<{ quota: Quota }>('GET', '/v2.0/quotas/pa')).quota, DEFAULTS);
    assert.deepEqual((await alice.call<{ quota: Quota }>('GET', '/v2.0/quotas/pa/default')).quota, DEFAULTS);
    assert.deepEqual(await alice.call('GET', '/v2.0/quotas/tenant'), { tenant: { tenant_id: 'pa' } });
    await expectFault(() => alice.call('GET', '/v2.0/quotas/pb'), 403, 'PolicyNotAuthorized');
    await expectFault(() => alice.call('GET', '/v2.0/quotas'), 403, 'PolicyNotAuthorized');
    await expectFault(
      () => alice.call('PUT', '/v2.0/quotas/pa', { quota: { network: 1000 } }),
      403,
      'PolicyNotAuthorized',
    );
    await expectFault(() => alice.call('DELETE', '/v2.0/quotas/pa'), 403, 'PolicyNotAuthorized');
    const admin = s.client('ADMIN');
    await expectFault(
      () => admin.call('PUT', '/v2.0/quotas/pa', { quota: { loadbalancer: 5 } }),
      400,
      'HTTPBadRequest',
    );
    await expectFault(() => admin.call('PUT', '/v2.0/quotas/pa', { quota: { network: -2 } }), 400, 'InvalidInput');
  });

  it('over quota is 409 OverQuota and changes nothing; a bulk counts whole; reset restores', async () => {
    const admin = s.client('ADMIN');
    const alice = s.client('ALICE');
    const set = await admin.call<{ quota: Quota }>('PUT', '/v2.0/quotas/pa', { quota: { network: 2 } });
    assert.deepEqual(set.quota, { ...DEFAULTS, network: 2 });
    await alice.create('networks', 'network', { name: 'a1' });
    await expectRejectedUnchanged(
      s,
      () => alice.call('POST', '/v2.0/networks', { networks: [{ name: 'a2' }, { name: 'a3' }] }),
      409,
      'OverQuota',
    );
    await alice.create('networks', 'network', { name: 'a2' });
    await expectRejectedUnchanged(s, () => alice.create('networks', 'network', { name: 'a3' }), 409, 'OverQuota');
    // Bob's project has its own (default) limit.
    await s.client('BOB').create('networks', 'network', { name: 'b1' });
    // An admin creating for pa is held to pa's limit too.
    await expectFault(() => admin.create('networks', 'network', { name: 'a3', project_id: 'pa' }), 409, 'OverQuota');
    const details = await alice.call<{ quota: Record<string, { limit: number; used: number; reserved: number }> }>(
      'GET',
      '/v2.0/quotas/pa/details',
    );
    assert.deepEqual(details.quota.network, { limit: 2, used: 2, reserved: 0 });
    assert.equal(details.quota.security_group.used, 0);
    const listed = await admin.call<{ quotas: (Quota & { project_id: string })[] }>('GET', '/v2.0/quotas');
    assert.deepEqual(listed.quotas, [{ ...DEFAULTS, network: 2, project_id: 'pa', tenant_id: 'pa' }]);
    await admin.call('DELETE', '/v2.0/quotas/pa');
    assert.deepEqual((await alice.call<{ quota: Quota }>('GET', '/v2.0/quotas/pa')).quota, DEFAULTS);
    assert.deepEqual((await admin.call<{ quotas: unknown[] }>('GET', '/v2.0/quotas')).quotas, []);
    await alice.create('networks', 'network', { name: 'a3' });
  });

  it('racing creates cannot pass the limit together', async () => {
    const admin = s.client('ADMIN');
    const bob = s.client('BOB');
    const used = (await bob.list<Network>('networks')).filter((n) => n.project_id === 'pb').length;
    await admin.call('PUT', '/v2.0/quotas/pb', { quota: { network: used + 3 } });
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => bob.create('networks', 'network', { name: `race${i}` })),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 3);
    for (const r of results.filter((x) => x.status === 'rejected')) {
      assert.equal(((r as PromiseRejectedResult).reason as { type: string }).type, 'OverQuota');
    }
  });

  it('check_limit refuses a limit under current usage', async () => {
    const admin = s.client('ADMIN');
    await expectFault(
      () => admin.call('PUT', '/v2.0/quotas/pa', { quota: { network: 0, check_limit: true } }),
      400,
      'InvalidQuotaValue',
    );
    const forced = await admin.call<{ quota: Quota }>('PUT', '/v2.0/quotas/pa', { quota: { network: 0 } });
    assert.equal(forced.quota.network, 0);
    await expectFault(() => s.client('ALICE').create('networks', 'network', {}), 409, 'OverQuota');
    await admin.call('DELETE', '/v2.0/quotas/pa');
  });
});

describe('quota defaults from the config, limits kept across a restart', () => {
  it('uses the configured defaults (-1 unlimited) and the stored limits after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hn-quota-'));
    const config = { ...defaultConfig(), quotaDefaults: { ...DEFAULTS, network: 1, security_group: -1 } };
    const start = () =>
      serve({
        host: '127.0.0.1',
        port: 0,
        dataDir: join(dir, 'data'),
        config,
        auth: { mode: 'token', tokens: TOKENS },
        logger: silentLogger(),
      });
    try {
      let server = await start();
      try {
        const alice = new ApiClient({ url: server.url, token: 'ALICE' });
        await alice.create('networks', 'network', {});
        await expectFault(() => alice.create('networks', 'network', {}), 409, 'OverQuota');
        for (let i = 0; i < 12; i++) await alice.create('security-groups', 'security_group', { name: `g${i}` });
        await new ApiClient({ url: server.url, token: 'ADMIN' }).call('PUT', '/v2.0/quotas/pa', {
          quota: { network: 3 },
        });
      } finally {
        await server.close();
      }
      server = await start();
      try {
        const alice = new ApiClient({ url: server.url, token: 'ALICE' });
        assert.equal((await alice.call<{ quota: Quota }>('GET', '/v2.0/quotas/pa')).quota.network, 3);
        await alice.create('networks', 'network', {});
        await alice.create('networks', 'network', {});
        await expectFault(() => alice.create('networks', 'network', {}), 409, 'OverQuota');
      } finally {
        await server.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const haveCli = (() => {
  try {
    execFileSync('openstack', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('openstack quota set|show (real CLI)', { skip: haveCli ? false : 'openstack CLI not installed' }, () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ tokens: TOKENS });
  });
  after(async () => s?.stop());

  const os = async (token: string, args: string[]) =>
    realExec('openstack', ['--os-auth-type', 'admin_token', '--os-token', token, '--os-endpoint', s.url, ...args], {
      allowFail: true,
      timeoutMs: 60_000,
      env: { ...process.env, OS_CLOUD: '', OS_AUTH_URL: '' },
    });

  it('an admin sets a project network quota; the project sees it; a member cannot set', async () => {
    const set = await os('ADMIN', ['quota', 'set', '--networks', '7', '--ports', '20', 'pa']);
    assert.equal(set.code, 0, set.stderr);
    const shown = await os('ALICE', ['quota', 'show', 'pa', '-f', 'json']);
    assert.equal(shown.code, 0, shown.stderr);
    const q = JSON.parse(shown.stdout) as Record<string, unknown>;
    assert.equal(q.networks, 7);
    assert.equal(q.ports, 20);
    assert.equal(q.subnets, 100);
    assert.equal(q.project, 'pa');
    const denied = await os('ALICE', ['quota', 'set', '--networks', '1000', 'pa']);
    assert.notEqual(denied.code, 0);
    assert.equal((await s.client('ADMIN').call<{ quota: Quota }>('GET', '/v2.0/quotas/pa')).quota.networks, undefined);
    assert.equal((await s.client('ADMIN').call<{ quota: Quota }>('GET', '/v2.0/quotas/pa')).quota.network, 7);
  });
});
