/**
 * Routers and floating IPs reach agents on the watch stream (snapshot and events), the model
 * cache indexes them (routers by subnet, floating IPs by port, gateways, external networks by
 * cloud), and instances never leave the server.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiClient } from '../../src/client/api.js';
import { ModelCache } from '../../src/model/model-cache.js';
import type { FloatingIp, Port, Router } from '../../src/model/types.js';
import type { WatchMessage } from '../../src/model/watch.js';
import { startTestServer, type TestServer } from './helpers.js';
import { addInterface, externalNet, tenantNet } from './l3-fixtures.js';

/** Follows the stream into a ModelCache until `done` holds (or 10 s pass). */
async function follow(c: ApiClient, cache: ModelCache, seen: WatchMessage[], done: () => boolean): Promise<void> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 10_000);
  await c
    .watch(
      undefined,
      (m) => {
        seen.push(m);
        if (m.type === 'snapshot') cache.applySnapshot(m);
        else if (m.type === 'event') cache.applyEvent(m);
        if (cache.ready && done()) ac.abort();
      },
      ac.signal,
    )
    .catch(() => undefined);
  clearTimeout(timer);
}

describe('L3 on the watch stream', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ config: { watchHeartbeatMs: 200 } });
  });
  after(async () => s?.stop());

  it('snapshot and events carry routers and floating IPs; instances stay out', async () => {
    const c = s.client();
    const ext = await externalNet(c, 'pub', '203.0.113.0/28', 'cloud-a');
    const t = await tenantNet(c, 'net', '10.80.0.0/24');
    const r = await c.create<Router>('routers', 'router', { external_gateway_info: { network_id: ext.net.id } });
    const info = await addInterface(c, r.id, { subnet_id: t.subnet.id });
    const vm = await c.create<Port>('ports', 'port', { network_id: t.net.id, device_id: 'vm-w' });
    await c.create('instances', 'instance', { device_id: 'vm-w', user_data: 'secret' });

    const cache = new ModelCache();
    const seen: WatchMessage[] = [];
    let fip: FloatingIp | undefined;
    const during = (async () => {
      await new Promise((res) => setTimeout(res, 100));
      fip = await c.create<FloatingIp>('floatingips', 'floatingip', {
        floating_network_id: ext.net.id,
        port_id: vm.id,
      });
      await c.create('instances', 'instance', { device_id: 'vm-x', user_data: 'secret2' });
    })();
    await follow(c, cache, seen, () => fip !== undefined && cache.view().floatingips.has(fip.id));
    await during;

    const snap = seen.find((m) => m.type === 'snapshot');
    assert.ok(snap && snap.type === 'snapshot');
    assert.deepEqual(
      snap.routers?.map((x) => x.id),
      [r.id],
    );
    assert.ok(seen.some((m) => m.type === 'event' && m.kind === 'floatingip' && m.id === fip?.id));
    assert.ok(!JSON.stringify(seen).includes('secret'), 'instances are not sent to agents');

    const idx = cache.l3Index();
    assert.deepEqual(idx.routersBySubnet.get(t.subnet.id), [r.id]);
    assert.deepEqual(
      idx.interfacesByRouter.get(r.id)?.map((p) => p.id),
      [info.port_id],
    );
    assert.equal(idx.gatewaysByRouter.get(r.id)?.[0].network_id, ext.net.id);
    assert.deepEqual(
      idx.floatingipsByPort.get(vm.id)?.map((f) => f.router_id),
      [r.id],
    );
    assert.deepEqual(
      idx.externalNetworksByCloud.get('cloud-a')?.map((n) => n.id),
      [ext.net.id],
    );
    assert.equal(cache.l3Index(), idx, 'rebuilt only when the revision moves');
  });
});
