/**
 * A real Keystone for tests (src/lab/keystone.ts in a temp directory): `startTestKeystone` sets it up
 * and `stop()` ends it by PID and removes the directory. `haveKeystone` is the precondition
 * (scripts/setup.sh installs python3-keystone).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { realClock } from '../src/common/clock.js';
import { realExec } from '../src/common/exec.js';
import { startKeystone, type RunningKeystone } from '../src/lab/keystone.js';

export const haveKeystone = (() => {
  try {
    execFileSync('keystone-manage', ['--version'], { stdio: 'ignore' });
    execFileSync('sh', ['-c', 'command -v keystone-wsgi-public'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** Starts a private Keystone; `tokenExpiration` in seconds (short ones let a test see tokens expire). */
export async function startTestKeystone(opts: { tokenExpiration?: number } = {}): Promise<RunningKeystone> {
  const dir = mkdtempSync(join(tmpdir(), 'hn-keystone-'));
  try {
    const ks = await startKeystone({ dir, exec: realExec, clock: realClock, tokenExpiration: opts.tokenExpiration });
    return { ...ks, stop: () => ks.stop({ remove: true }) };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
