/**
 * Shared setup of the dashboard tests: build the bundle from the current source (so a test never sees
 * a stale one) and launch the system Chromium headless through playwright-core.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { REPO } from '../ctl/server.js';

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
