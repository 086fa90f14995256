/**
 * Preconditions of tests that need the machine to have something (root, a tool). Outside CI a test
 * whose precondition is missing skips, so a developer without root can still run the rest; in CI
 * (`CI=true`, run as root with every package installed by scripts/setup.sh) a missing precondition
 * is a broken runner, and a skip there would hide it, so these fail instead.
 */
import type { TestContext } from 'node:test';

/** True when the suite runs in CI (`CI=true`, as CI services set it). */
export const inCi = (): boolean => process.env.CI === 'true';

export const isRoot = (): boolean => process.getuid?.() === 0;

/**
 * The `skip` option of a `describe`/`test` whose precondition is `ok`: false when it holds, else the
 * reason (outside CI). In CI a missing precondition throws, which fails the file.
 */
export function skipUnless(ok: boolean, reason: string): false | string {
  if (ok) return false;
  if (inCi()) throw new Error(`precondition failed in CI: ${reason}`);
  return reason;
}

/** `skip` option of a test that needs root (namespaces, nftables). */
export const needsRoot = (): false | string => skipUnless(isRoot(), 'needs root');

/** Skips `t` with `reason` outside CI; in CI fails it instead. Call as `return skipOrFail(t, …)`. */
export function skipOrFail(t: TestContext, reason: string): void {
  if (inCi()) throw new Error(`precondition failed in CI: ${reason}`);
  t.skip(reason);
}
