/**
 * The dashboard's routers and floating IPs in a real Chromium against a real server: a router with
 * a gateway in each of two clouds, an interface, an extra route, and a floating IP on a port show
 * with their addresses; disassociating the floating IP and setting the router admin down show live,
 * without reload. Also the pure rows (l3.ts) for a floating IP of no port. Screenshot in artifacts/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { FloatingIp, Port, Router } from '../../src/model/types.js';
import { floatingIpRows, routerViews } from '../../src/ui/web/l3.js';
import { addInterface, externalNet, routerAction, tenantNet } from '../server/l3-fixtures.js';
import { ARTIFACTS, dashboardFixture } from './browser.js';

const fx = dashboardFixture();

test('routers (gateways per cloud, interfaces, routes) and floating IPs, live', { skip: fx.skip }, async () => {
  const { srv, browser } = fx;
  const admin = srv.admin;
  const extA = await externalNet(admin, 'public-aws', '203.0.113.0/26', 'aws');
  const extB = await externalNet(admin, 'public-os', '198.51.100.0/26', 'openstack');
  const tenant = await tenantNet(admin, 'app', '10.0.1.0/24');
  let router = await admin.create<Router>('routers', 'router', {
    name: 'edge',
    external_gateway_info: { network_id: extA.net.id },
  });
  router = await routerAction(admin, router.id, 'add_external_gateways', {
    external_gateways: [{ network_id: extB.net.id }],
  });
  await addInterface(admin, router.id, { subnet_id: tenant.subnet.id });
  await admin.update('routers', 'router', router.id, {
    routes: [{ destination: '192.0.2.0/24', nexthop: '10.0.1.50' }],
  });
  const vm = await admin.create<Port>('ports', 'port', {
    network_id: tenant.net.id,
    name: 'vm-web',
    device_id: 'vm-web',
    fixed_ips: [{ subnet_id: tenant.subnet.id, ip_address: '10.0.1.10' }],
  });
  const fip = await admin.create<FloatingIp>('floatingips', 'floatingip', {
    floating_network_id: extA.net.id,
    port_id: vm.id,
  });
  const gwA = router.external_gateways.find((g) => g.network_id === extA.net.id)!.external_fixed_ips[0].ip_address;
  const gwB = router.external_gateways.find((g) => g.network_id === extB.net.id)!.external_fixed_ips[0].ip_address;

  const page = await browser.newPage({ viewport: { width: 1400, height: 1400 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${srv.url}/ui/`);
  await page.waitForSelector('body[data-conn="live"]');
  const card = page.locator(`#l3 .router[data-id="${router.id}"]`);
  await card.waitFor();
  assert.match(await card.locator('h4').innerText(), /^edge\s+ACTIVE/);
  const gw = (cloud: string) => card.locator(`table.gateways tr[data-cloud="${cloud}"] td`).allInnerTexts();
  assert.deepEqual(await gw('aws'), ['aws', 'public-aws', gwA, 'on']);
  assert.deepEqual(await gw('openstack'), ['openstack', 'public-os', gwB, 'on']);
  assert.deepEqual(await card.locator('table.interfaces tbody td').allInnerTexts(), ['10.0.1.0/24', '10.0.1.1', 'app']);
  assert.deepEqual(await card.locator('ul.routes li').allInnerTexts(), ['192.0.2.0/24 via 10.0.1.50']);
  const row = page.locator(`#l3 table.floatingips tr[data-id="${fip.id}"] td`);
  assert.deepEqual(await row.allInnerTexts(), [
    fip.floating_ip_address,
    'vm-web',
    '10.0.1.10',
    'aws',
    'edge',
    'ACTIVE',
  ]);
  await page.screenshot({ path: join(ARTIFACTS, 'ui-l3.png'), fullPage: true });

  // Live: the watch stream carries the changes, no reload.
  await admin.update('floatingips', 'floatingip', fip.id, { port_id: null });
  await admin.update('routers', 'router', router.id, { admin_state_up: false });
  await page.waitForFunction(
    (id) => document.querySelector(`#l3 table.floatingips tr[data-id="${id}"]`)?.textContent?.includes('DOWN'),
    fip.id,
  );
  assert.deepEqual(await row.allInnerTexts(), [fip.floating_ip_address, '—', '—', 'aws', '—', 'DOWN']);
  await card.locator('.badge.admin').waitFor();
  assert.equal(await card.locator('.badge.admin').innerText(), 'admin down');
  assert.deepEqual(errors, []);
});

test('rows of the pure part: a router without gateways, a floating IP of no cloud', () => {
  const base = { project_id: 'p', tenant_id: 'p', description: '', tags: [], revision_number: 1 };
  const stamp = { created_at: '', updated_at: '' };
  const views = routerViews({
    networks: [],
    subnets: [],
    ports: [],
    routers: [
      {
        ...base,
        ...stamp,
        id: 'r1',
        name: '',
        admin_state_up: true,
        status: 'ACTIVE',
        external_gateway_info: null,
        external_gateways: [],
        routes: [],
      },
    ],
    floatingips: [],
  });
  assert.deepEqual(views, [
    { id: 'r1', name: 'r1', status: 'ACTIVE', adminUp: true, gateways: [], interfaces: [], routes: [] },
  ]);
  const rows = floatingIpRows({
    networks: [],
    subnets: [],
    ports: [],
    routers: [],
    floatingips: [
      {
        ...base,
        ...stamp,
        id: 'f1',
        floating_ip_address: '203.0.113.9',
        floating_network_id: 'n-x',
        router_id: null,
        port_id: null,
        fixed_ip_address: null,
        status: 'DOWN',
        port_details: null,
      },
    ],
  });
  assert.deepEqual(rows, [
    { id: 'f1', address: '203.0.113.9', port: '—', fixedIp: '—', cloud: '—', router: '—', status: 'DOWN' },
  ]);
});
