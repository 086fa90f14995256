/**
 * The dashboard's HyperVMs table in a real Chromium against a real server: a HyperVM launched
 * through the API is listed with its image, cloud, host and status, and its status changes (the
 * node's reports: ACTIVE, then ERROR with the reason) show live, without a reload.
 * Skips only when /usr/bin/chromium is absent.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import type { HyperVm, Network } from '../../src/model/types.js';
import { startServer, type TestServer } from '../ctl/server.js';
import { buildLayout, pushTar } from '../server/image-fixtures.js';
import { skipUnless } from '../../testkit/preconditions.js';
import { ARTIFACTS, buildUi, CHROMIUM, haveChromium, launchChromium } from './browser.js';

const skip = skipUnless(haveChromium, `needs ${CHROMIUM} (apt-get install chromium; scripts/setup.sh does it)`);

let srv: TestServer;
let browser: Browser;

before(async () => {
  if (!haveChromium) return;
  buildUi();
  srv = await startServer();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await srv?.close();
});

test('HyperVMs are listed with their status, live', { skip }, async () => {
  const admin = srv.admin;
  await admin.create('agents', 'agent', {
    host: 'hv-aws-1',
    agent_type: 'hypernet agent',
    configurations: {
      tunneling_ip: '192.0.2.21',
      cloud: 'aws',
      underlay_mtu: 1500,
      capabilities: ['vxlan', 'hypervm'],
    },
  });
  const { id: image, upload } = await pushTar(srv, undefined, buildLayout().tar);
  assert.equal(upload.status, 204);
  const net = await admin.create<Network>('networks', 'network', { name: 'apps' });
  await admin.create('subnets', 'subnet', { network_id: net.id, cidr: '10.0.3.0/24' });
  const hv = await admin.create<HyperVm>('hypervms', 'hypervm', {
    name: 'web-1',
    image_id: image,
    network_id: net.id,
    cloud: 'aws',
  });

  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${srv.url}/ui/`);
  await page.waitForSelector('body[data-conn="live"]');
  await page.click('button.tab[data-resource="hypervm"]');
  const row = `table.resources[data-resource="hypervm"] tbody tr[data-id="${hv.id}"]`;
  await page.waitForSelector(row);
  const cells = async () => (await page.locator(`${row} td`).allTextContents()).map((t) => t.trim());
  assert.deepEqual((await cells()).slice(1, 7), ['web-1', image, 'aws', 'hv-aws-1', hv.port_id, 'BUILD']);

  await page.evaluate(() => ((window as unknown as { marker: number }).marker = 7));
  await admin.update('hypervms', 'hypervm', hv.id, { status: 'ACTIVE' });
  await page.waitForFunction((sel) => document.querySelector(sel)?.textContent?.includes('ACTIVE'), row, {
    timeout: 10_000,
  });
  await admin.update('hypervms', 'hypervm', hv.id, { status: 'ERROR', status_reason: 'pull refused: expired' });
  await page.waitForFunction((sel) => document.querySelector(sel)?.textContent?.includes('pull refused'), row, {
    timeout: 10_000,
  });
  assert.equal((await cells())[6], 'ERROR');
  assert.equal(await page.evaluate(() => (window as unknown as { marker: number }).marker), 7, 'no reload happened');
  await page.screenshot({ path: join(ARTIFACTS, 'ui-hypervms.png') });
  assert.deepEqual(errors, []);
  await page.close();
});
