/**
 * The dashboard's agentless mode in a real Chromium against a real server running the agentless
 * plugin with the lab provider (needs root; test/ctl/agentless-server.ts): an agentless port created
 * through the form, its user_data downloaded from the Blob link (Playwright's download API) equal to
 * the API's, the hyperswitch and agentless port tables, the hyperswitch's agent labelled as such in
 * the topology with the port inside it, a port created elsewhere showing up by the 10 s poll, and
 * delete from the table (the hyperswitch leaves with its last port).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import type { Port } from '../../src/model/types.js';
import type { AgentlessPortWire } from '../../src/model/agentless.js';
import { startAgentlessServer, type AgentlessServer } from '../ctl/agentless-server.js';
import { ARTIFACTS, buildUi, CHROMIUM, haveChromium, launchChromium } from './browser.js';
import { isRoot, skipUnless } from '../../testkit/preconditions.js';

const skip =
  skipUnless(haveChromium, `needs ${CHROMIUM}`) ||
  skipUnless(isRoot(), 'needs root (the lab provider makes namespaces)');

let srv: AgentlessServer;
let browser: Browser;

before(async () => {
  if (skip) return;
  buildUi();
  srv = await startAgentlessServer('u');
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await srv?.close();
});

test('agentless port from the form, user_data download, tables, topology, poll, delete', {
  skip,
  timeout: 300_000,
}, async () => {
  const admin = srv.admin;
  const net = await admin.create<{ id: string }>('networks', 'network', { name: 'al-ui' });
  await admin.create('subnets', 'subnet', { network_id: net.id, cidr: '10.0.8.0/24', ip_version: 4 });
  const p1 = await admin.create<Port>('ports', 'port', { network_id: net.id, name: 'vm-ui-port', device_id: 'vm-ui' });
  const p2 = await admin.create<Port>('ports', 'port', {
    network_id: net.id,
    name: 'other-port',
    device_id: 'vm-other',
  });

  const page = await browser.newPage({ viewport: { width: 1400, height: 1100 }, acceptDownloads: true });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('dialog', (d) => void d.accept());
  await page.goto(`${srv.url}/ui/`);
  await page.waitForSelector('body[data-conn="live"]');
  await page.waitForSelector(`#agentless-form select[name="port_id"] option[value="${p1.id}"]`, { state: 'attached' });

  // the form: port, flavor, device
  await page.selectOption('#agentless-form select[name="port_id"]', p1.id);
  await page.selectOption('#agentless-form select[name="flavor"]', '0G');
  await page.fill('#agentless-form input[name="device_id"]', 'vm-ui');
  await page.click('#agentless-form button[type="submit"]');
  const link = page.locator('#agentless-form a.download');
  await link.waitFor({ state: 'visible', timeout: 60_000 });
  const id = await link.getAttribute('data-id');
  const [made] = await admin.list<AgentlessPortWire>('agentlessports', { port_id: p1.id });
  assert.equal(id, made!.id);
  assert.equal(made!.flavor, '0G');
  assert.equal(made!.device_id, 'vm-ui');
  assert.match(
    (await page.textContent('#agentless-form .form-msg')) ?? '',
    new RegExp(`agentless port ${made!.id} created on hyperswitch ${made!.hyperswitch_id}`),
  );
  assert.doesNotMatch((await page.textContent('body')) ?? '', /PRIVATE KEY/, 'the key is only in the download');
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  assert.equal(download.suggestedFilename(), `user-data-${p1.id}.yaml`);
  const text = readFileSync((await download.path())!, 'utf8');
  assert.equal(text, made!.user_data);
  assert.match(text, /PRIVATE KEY/);
  // the port now has one: no longer offered
  assert.equal(await page.locator(`#agentless-form select[name="port_id"] option[value="${p1.id}"]`).count(), 0);

  // tables
  await page.click('button.tab[data-resource="agentless"]');
  await page.waitForSelector(`table.resources[data-resource="agentless"] tbody tr[data-id="${made!.id}"]`);
  const row = (await page.textContent(`table.resources tbody tr[data-id="${made!.id}"]`)) ?? '';
  for (const s of [p1.id, 'vm-ui', '0G', made!.private_ip, made!.hyperswitch_id])
    assert.ok(row.includes(s), `${s} in ${row}`);
  await page.click('button.tab[data-resource="hyperswitch"]');
  await page.waitForSelector(
    `table.resources[data-resource="hyperswitch"] tbody tr[data-id="${made!.hyperswitch_id}"]`,
  );
  assert.match(
    (await page.textContent(`table.resources tbody tr[data-id="${made!.hyperswitch_id}"]`)) ?? '',
    /vm-ui.*0G.*203\.0\.113\./s,
  );

  // topology: the hyperswitch's agent (real, registering over the Unix socket) labelled, the port in it
  const hsNode = `agent:${made!.hyperswitch_id}`;
  await page.waitForFunction((n) => window.__hypernet!.cy.getElementById(n).data('role') === 'hyperswitch', hsNode, {
    timeout: 60_000,
  });
  assert.match(
    String(await page.evaluate((n) => window.__hypernet!.cy.getElementById(n).data('label'), hsNode)),
    /^hyperswitch hsv-[0-9a-f]{8}\nvm vm-ui\n/,
  );
  await page.waitForFunction(
    ([p, n]) => window.__hypernet!.cy.getElementById(p).data('parent') === n,
    [`port:${p1.id}`, hsNode] as const,
    { timeout: 20_000 },
  );
  assert.equal(
    await page.evaluate((p) => window.__hypernet!.cy.getElementById(p).data('agentless'), `port:${p1.id}`),
    made!.id,
  );
  await page.screenshot({ path: join(ARTIFACTS, 'ui-agentless.png') });

  // made elsewhere (the API): shows by the poll, no watch event involved
  const other = await admin.create<AgentlessPortWire>('agentlessports', 'agentlessport', {
    port_id: p2.id,
    device_id: 'vm-other',
  });
  await page.click('button.tab[data-resource="agentless"]');
  await page.waitForSelector(`table.resources tbody tr[data-id="${other.id}"]`, { timeout: 15_000 });

  // delete from the table: the row goes, and the VM's hyperswitch with its last port
  await page.click(`table.resources tbody tr[data-id="${made!.id}"] button.delete`);
  await page.waitForSelector(`table.resources tbody tr[data-id="${made!.id}"]`, { state: 'detached', timeout: 30_000 });
  assert.deepEqual(
    (await admin.list<AgentlessPortWire>('agentlessports')).map((a) => a.id),
    [other.id],
  );
  await page.click('button.tab[data-resource="hyperswitch"]');
  await page.waitForSelector(`table.resources tbody tr[data-id="${made!.hyperswitch_id}"]`, {
    state: 'detached',
    timeout: 5_000,
  });
  assert.deepEqual(errors, []);
  await page.close();
});
