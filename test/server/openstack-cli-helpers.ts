/**
 * Driving the REAL `openstack` CLI from tests: whether it is installed, and a runner that gives each
 * command the auth arguments, no cloud from the environment, and its JSON output parsed.
 */
import { execFileSync } from 'node:child_process';
import { realExec } from '../../src/common/exec.js';

export const haveCli = (() => {
  try {
    execFileSync('openstack', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

export function cli(auth: string[]) {
  return async (args: string[], allowFail = false): Promise<{ code: number; json: unknown; stderr: string }> => {
    const r = await realExec('openstack', [...auth, ...args], {
      allowFail: true,
      timeoutMs: 60_000,
      env: { ...process.env, OS_CLOUD: '', OS_AUTH_URL: '' },
    });
    if (r.code !== 0 && !allowFail) throw new Error(`openstack ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
    let json: unknown;
    try {
      json = r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
    } catch {
      json = r.stdout;
    }
    return { code: r.code, json, stderr: r.stderr };
  };
}
