/**
 * Neutron's own API tests (neutron_tempest_plugin.api) against hypernet behind a real Keystone, as
 * part of `npm test`: runs testkit/tempest.ts (the same run as `npm run test:tempest`), prints the
 * totals and the extensions whose tests skipped, and fails on any failed test and on any skip that
 * is not for an extension hypernet does not list. The run's output is kept in artifacts/tempest/.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { haveKeystone } from '../../testkit/keystone.js';
import { isRoot, skipUnless } from '../../testkit/preconditions.js';
import { skippedExtension, type TempestSummary } from '../../testkit/tempest-summary.js';

const RUNNER = new URL('../../testkit/tempest.js', import.meta.url).pathname;
const ARTIFACTS = new URL('../../../artifacts/tempest/', import.meta.url).pathname;
const haveTempest = await new Promise<boolean>((resolve) => {
  const probe = spawn('/usr/bin/python3', ['-c', 'import tempest, neutron_tempest_plugin'], { stdio: 'ignore' });
  probe.on('error', () => resolve(false));
  probe.on('close', (code) => resolve(code === 0));
});

const skip =
  skipUnless(isRoot(), 'needs root (the run’s agents live in namespaces)') ||
  skipUnless(haveKeystone, 'needs python3-keystone (scripts/setup.sh)') ||
  skipUnless(haveTempest, 'needs tempest and neutron-tempest-plugin (scripts/setup.sh)');

test('neutron_tempest_plugin.api passes: no failure, skips only for extensions not listed', {
  skip,
  timeout: 3_600_000,
}, async (t) => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const summaryFile = `${ARTIFACTS}summary.json`;
  writeFileSync(summaryFile, '');
  const started = Date.now();
  const { code, out } = await new Promise<{ code: number; out: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [RUNNER, '--summary', summaryFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d));
    child.stderr.on('data', (d: Buffer) => (text += d));
    child.on('error', reject);
    child.on('close', (c) => resolve({ code: c ?? -1, out: text }));
  });
  writeFileSync(`${ARTIFACTS}run.log`, out);
  const raw = readFileSync(summaryFile, 'utf8');
  assert.ok(raw, `the runner wrote no summary (exit ${code}); see artifacts/tempest/run.log:\n${out.slice(-3000)}`);
  const sum = JSON.parse(raw) as TempestSummary & { exitCode: number };
  const byExtension = new Map<string, number>();
  const otherSkips: string[] = [];
  for (const s of sum.skips) {
    const ext = skippedExtension(s.reason);
    if (ext) byExtension.set(ext, (byExtension.get(ext) ?? 0) + 1);
    else otherSkips.push(`${s.test}: ${s.reason}`);
  }
  t.diagnostic(
    `tempest totals (${Math.round((Date.now() - started) / 1000)} s): ${sum.totals.replace(/\n\s*/g, '; ')}`,
  );
  const named = [...byExtension].sort(([a], [b]) => a.localeCompare(b)).map(([e, n]) => `${e} (${n})`);
  t.diagnostic(`skipped for extensions not listed: ${named.join(', ') || 'none'}`);
  assert.deepEqual(sum.failed, [], `failed tests; causes: ${JSON.stringify(sum.causes)}`);
  assert.deepEqual(otherSkips, [], 'tests skipped for a reason other than an extension hypernet does not list');
  assert.equal(sum.exitCode, 0, 'tempest run exit code');
  assert.match(sum.totals, /Passed: [1-9]/, 'some tests ran and passed');
});
