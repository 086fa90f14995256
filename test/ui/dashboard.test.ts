/**
 * The dashboard in a real Chromium (playwright-core) against a real server serving /ui: topology
 * rendered (clouds ⊃ agents ⊃ ports, one node for a network stretched across clouds), a network
 * created through the form appears, a port turning ACTIVE shows live without reload, the port page,
 * table search, and token mode asking for a token. Screenshots go to artifacts/.
 * Skips only when /usr/bin/chromium is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { registerAgent, startServer } from '../ctl/server.js';
import { ARTIFACTS, dashboardFixture } from './browser.js';

const fx = dashboardFixture();
const { skip } = fx;

async function openDashboard(url: string): Promise<Page> {
  const page = await fx.browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  (page as unknown as { jsErrors: string[] }).jsErrors = errors;
  await page.goto(`${url}/ui/`);
  return page;
}

function nodeData(page: Page, id: string, key: string): Promise<unknown> {
  return page.evaluate(([i, k]) => window.__hypernet!.cy.getElementById(i).data(k), [id, key] as const);
}

test('topology, live port status, form, port page, search', { skip }, async () => {
  const admin = fx.srv.admin;
  await registerAgent(admin, 'hs-aws-1', 'aws', '192.0.2.11');
  await registerAgent(admin, 'hs-os-1', 'openstack', '198.51.100.11');
  const net = await admin.create<{ id: string }>('networks', 'network', { name: 'stretched' });
  const sub = await admin.create<{ id: string }>('subnets', 'subnet', {
    network_id: net.id,
    cidr: '10.0.1.0/24',
    ip_version: 4,
    name: 'stretched-v4',
  });
  const pa = await admin.create<{ id: string }>('ports', 'port', {
    network_id: net.id,
    name: 'vm-aws',
    'binding:host_id': 'hs-aws-1',
    fixed_ips: [{ subnet_id: sub.id, ip_address: '10.0.1.10' }],
  });
  const pb = await admin.create<{ id: string }>('ports', 'port', {
    network_id: net.id,
    name: 'vm-os',
    'binding:host_id': 'hs-os-1',
    fixed_ips: [{ subnet_id: sub.id, ip_address: '10.0.1.20' }],
  });

  const page = await openDashboard(fx.srv.url);
  await page.waitForSelector('body[data-conn="live"]');
  // 2 clouds + 2 agents + 1 network + 2 ports = 7 nodes, 2 edges
  await page.waitForFunction(() => document.querySelector('#topology')?.getAttribute('data-nodes') === '7');
  assert.equal(await page.getAttribute('#topology', 'data-edges'), '2');
  // no agentless mode on this server: neither its form nor its tables
  assert.ok(await page.isHidden('#agentless-form'));
  assert.equal(
    await page.locator('button.tab[data-resource="agentless"], button.tab[data-resource="hyperswitch"]').count(),
    0,
  );
  assert.equal(await nodeData(page, `port:${pa.id}`, 'parent'), 'agent:hs-aws-1');
  assert.equal(await nodeData(page, 'agent:hs-aws-1', 'parent'), 'cloud:aws');
  assert.equal(await nodeData(page, 'agent:hs-os-1', 'parent'), 'cloud:openstack');
  const netNodes = await page.evaluate(() =>
    window.__hypernet!.cy.nodes('[kind = "network"]').map((n) => [n.id(), n.isChild(), n.degree(false)]),
  );
  assert.deepEqual(
    netNodes,
    [[`net:${net.id}`, false, 2]],
    'one network node, outside the clouds, joined to both ports',
  );
  assert.equal(await nodeData(page, `port:${pa.id}`, 'status'), 'DOWN');
  // the nodes are really drawn: the canvas has a size and the graph fits in it
  const box = await page.evaluate(() => window.__hypernet!.cy.elements().renderedBoundingBox());
  assert.ok(box.w > 50 && box.h > 50, JSON.stringify(box));
  await page.screenshot({ path: join(ARTIFACTS, 'ui-topology.png') });

  // live: the port turns ACTIVE through the API; the page follows without a reload
  await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
  await admin.update('ports', 'port', pa.id, { status: 'ACTIVE' });
  await page.waitForFunction(
    (id) => window.__hypernet!.cy.getElementById(id).data('status') === 'ACTIVE',
    `port:${pa.id}`,
    { timeout: 10_000 },
  );
  assert.equal(await page.evaluate(() => (window as unknown as { marker: number }).marker), 42, 'no reload happened');
  assert.match((await page.textContent('#summary')) ?? '', /1\/2 ports active/);
  await page.screenshot({ path: join(ARTIFACTS, 'ui-port-active.png') });

  // form: a network with its subnet, shown in the topology and the tables
  await page.fill('#network-form input[name="name"]', 'from-form');
  await page.fill('#network-form input[name="cidr"]', '10.0.9.0/24');
  await page.click('#network-form button[type="submit"]');
  await page.waitForFunction(
    () =>
      window
        .__hypernet!.cy.nodes('[kind = "network"]')
        .some((n) => String(n.data('label')).startsWith('from-form\n10.0.9.0/24')),
    undefined,
    { timeout: 10_000 },
  );
  assert.match((await page.textContent('#network-form .form-msg')) ?? '', /network from-form created/);
  const made = (await admin.list<{ name: string; subnets: string[] }>('networks')).find((n) => n.name === 'from-form');
  assert.equal(made?.subnets.length, 1);
  // a bad CIDR shows the server's error and leaves no network behind
  await page.fill('#network-form input[name="name"]', 'broken');
  await page.fill('#network-form input[name="cidr"]', 'not-a-cidr');
  await page.click('#network-form button[type="submit"]');
  await page.waitForSelector('#network-form .form-msg.error');
  assert.ok(!(await admin.list<{ name: string }>('networks')).some((n) => n.name === 'broken'));

  // tables with search
  await page.click('button.tab[data-resource="port"]');
  assert.equal(await page.locator('table.resources[data-resource="port"] tbody tr').count(), 2);
  await page.fill('input.search[data-resource="port"]', '10.0.1.20');
  await page.waitForFunction(() => document.querySelectorAll('table.resources tbody tr').length === 1);
  assert.match((await page.textContent('table.resources tbody tr')) ?? '', /vm-os/);

  // port page: opened from the table, live as well
  await page.click('table.resources tbody tr');
  await page.waitForSelector('#port-page');
  const field = async (k: string) => (await page.textContent(`#port-page [data-field="${k}"]`))?.trim();
  assert.equal(await field('hyper_ip'), '10.0.1.20');
  assert.equal(await field('cloud'), 'openstack');
  assert.match((await field('host')) ?? '', /^hs-os-1 \(198\.51\.100\.11, up\)$/);
  assert.match((await field('mac_address')) ?? '', /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  assert.equal(await field('status'), 'DOWN');
  await admin.update('ports', 'port', pb.id, { status: 'ACTIVE' });
  await page.waitForFunction(() => document.querySelector('#port-status')?.textContent === 'ACTIVE', undefined, {
    timeout: 10_000,
  });
  await page.screenshot({ path: join(ARTIFACTS, 'ui-port-page.png') });
  assert.deepEqual((page as unknown as { jsErrors: string[] }).jsErrors, []);
  await page.close();
});

test('token mode: the page asks for a token and then works', { skip }, async () => {
  const tsrv = await startServer({ tokens: { 'ui-secret': { project_id: 'admin', roles: ['admin'] } } });
  try {
    await tsrv.admin.create('networks', 'network', { name: 'secret-net' });
    const page = await openDashboard(tsrv.url);
    await page.waitForSelector('#token-dialog[open]');
    await page.screenshot({ path: join(ARTIFACTS, 'ui-token.png') });
    await page.fill('#token-dialog input[name="token"]', 'ui-secret');
    await page.click('#token-dialog button[type="submit"]');
    await page.waitForSelector('body[data-conn="live"]');
    await page.waitForFunction(() => window.__hypernet!.cy.nodes('[kind = "network"]').length === 1);
    await page.close();
  } finally {
    await tsrv.close();
  }
});
