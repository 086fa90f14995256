/** Network namespace listing, shared by the agent (DHCP namespaces), the lab and the tests. */
import type { Exec } from './exec.js';

/** Names of the named network namespaces (`ip netns list`). */
export async function listNetns(exec: Exec): Promise<string[]> {
  const r = await exec('ip', ['netns', 'list'], { allowFail: true });
  if (r.code !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((n): n is string => !!n);
}
