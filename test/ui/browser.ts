/**
 * Shared setup of the dashboard tests: build the bundle from the current source (so a test never sees
 * a stale one) and launch the system Chromium headless through playwright-core.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { after, before } from 'node:test';
import { REPO, startServer, type TestServer } from '../ctl/server.js';
import { skipUnless } from '../../testkit/preconditions.js';

export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = join(REPO, 'artifacts');
export const haveChromium = existsSync(CHROMIUM);

export function buildUi(): void {
  execFileSync(
    process.execPath,
    [join(REPO, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'src/ui/vite.config.ts'],
    { cwd: REPO, stdio: 'pipe' },
  );
  mkdirSync(ARTIFACTS, { recursive: true });
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** What `dashboardFixture` gives its tests once `before` has run. */
export interface DashboardFixture {
  /** The `skip` option of each test: false with Chromium, else why (a failure in CI). */
  skip: false | string;
  srv: TestServer;
  browser: Browser;
}

/**
 * Registers the file's `before`/`after`: the bundle built from the current source, a real server
 * and a headless Chromium, both closed after the file's tests.
 */
export function dashboardFixture(): DashboardFixture {
  const f = {
    skip: skipUnless(haveChromium, `needs ${CHROMIUM} (apt-get install chromium; scripts/setup.sh does it)`),
  } as DashboardFixture;
  before(async () => {
    if (!haveChromium) return;
    buildUi();
    f.srv = await startServer();
    f.browser = await launchChromium();
  });
  after(async () => {
    await f.browser?.close();
    await f.srv?.close();
  });
  return f;
}
