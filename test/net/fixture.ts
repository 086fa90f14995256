/**
 * Shared fixture of the network tests (docs/CONVENTIONS.md): a per-run prefix (`hn<letter><pid>-`) and state
 * directory, a sweep of stale runs (their PID is gone) before starting, and a World built with the lab
 * library whose teardown runs in `after()` even when a test failed. The server listens on TCP port 0
 * on loopback plus its Unix socket, so nothing is added to the root namespace.
 */
import { hasBpfProgram } from '../../testkit/bpf-filters.js';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { realClock } from '../../src/common/clock.js';
import { realExec } from '../../src/common/exec.js';
import { listNetns } from '../../src/lab/netns.js';
import { planLab, type LabOptions } from '../../src/lab/plan.js';
import { downLab, World, type LabVm } from '../../src/lab/world.js';
import type { Network } from '../../src/model/types.js';
import { after, before } from 'node:test';
import { alive } from '../../testkit/runs.js';
import { isRoot } from '../../testkit/preconditions.js';

export const deps = { exec: realExec, clock: realClock };
export const TEST_ROOT = join(tmpdir(), 'hypernet-test');
const ARTIFACTS = join(process.cwd(), 'artifacts', 'lab-logs');
const RUN_PREFIX = /^hn([a-z])(\d+)-/;

export { isRoot };

/** Per-run prefix and state directory for one test file (`letter` tells files apart). */
export function runNames(letter: string): { prefix: string; stateDir: string } {
  const prefix = `hn${letter}${process.pid}-`;
  return { prefix, stateDir: join(TEST_ROOT, prefix.slice(0, -1)) };
}

/** Removes what earlier runs of these tests left behind when they crashed (their PID is gone). */
export async function sweepStaleRuns(): Promise<void> {
  const stale = new Set<string>();
  for (const ns of await listNetns(realExec)) {
    const m = RUN_PREFIX.exec(ns);
    if (m && !alive(Number(m[2]))) stale.add(m[0]);
  }
  if (existsSync(TEST_ROOT)) {
    for (const d of readdirSync(TEST_ROOT)) {
      const m = RUN_PREFIX.exec(`${d}-`);
      if (m && !alive(Number(m[2]))) stale.add(m[0]);
    }
  }
  for (const prefix of stale) await downLab(join(TEST_ROOT, prefix.slice(0, -1)), prefix, deps);
}

/**
 * The agents' firewall for this run: `HYPERNET_TEST_FIREWALL` (nftables or tc-bpf, checked by
 * planLab), else the lab's default. scripts/test.sh runs the isolation and migration files a second
 * time on tc-BPF, so both firewalls pass the same end-to-end tests.
 */
const FIREWALL = process.env.HYPERNET_TEST_FIREWALL as LabOptions['firewall'] | undefined;

/** Plans a world for this run (server on TCP port 0). */
export function testPlan(letter: string, o: Partial<LabOptions> = {}) {
  return planLab({ ...runNames(letter), apiPort: 0, ...(FIREWALL ? { firewall: FIREWALL } : {}), ...o });
}

export function newWorld(letter: string, o: Partial<LabOptions> = {}): World {
  return new World(testPlan(letter, o), deps);
}

/** Tears a test world down, first keeping its logs in artifacts/lab-logs/NAME for post-mortems. */
export async function teardown(world: World, name: string): Promise<void> {
  world.copyLogs(join(ARTIFACTS, FIREWALL ? `${name}-${FIREWALL}` : name));
  await world.down();
}

/**
 * Registers the file's before/after hooks for a world: sweep stale runs, build it (server, agents,
 * network, VMs) before the tests, keep logs and tear it down after them. `vms` and `vni` (the tenant
 * network's VXLAN id) are filled in by the time tests run.
 */
export function useWorld(
  letter: string,
  name: string,
  o: Partial<LabOptions> = {},
): { world: World; vms: LabVm[]; vni: number } {
  const ctx = { world: newWorld(letter, o), vms: [] as LabVm[], vni: 0 };
  before(async () => {
    if (!isRoot()) return;
    await sweepStaleRuns();
    await ctx.world.down();
    ctx.vms = await ctx.world.up();
    if (FIREWALL === 'tc-bpf') await assertBpfFilters(ctx.vms);
    ctx.vni = (await ctx.world.api.show<Network>('networks', 'network', ctx.world.state.networkId!))[
      'provider:segmentation_id'
    ];
  });
  after(async () => {
    if (isRoot()) await teardown(ctx.world, name);
  });
  return ctx;
}

/** The run is on tc-BPF indeed: every VM's tap carries the security-group program on tc ingress. */
async function assertBpfFilters(vms: readonly LabVm[]): Promise<void> {
  for (const vm of vms) {
    const on = await hasBpfProgram(realExec, vm.site.hyperswitchNs, vm.tap);
    assert.ok(on, `${vm.tap} in ${vm.site.hyperswitchNs}: no tc-BPF program`);
  }
}

/** Runs a command in a namespace (bounded by `timeoutMs`); never throws on exit status. */
export function nsRun(ns: string, cmd: string, args: string[], timeoutMs = 20_000) {
  return realExec('ip', ['netns', 'exec', ns, cmd, ...args], { allowFail: true, timeoutMs });
}

export { eventually, msUntil } from '../../testkit/wait.js';

/** A log file's text so far ('' before it exists). */
export const readLog = (f: string): string => (existsSync(f) ? readFileSync(f, 'utf8') : '');

/** `p` is refused by the API with HTTP `status` (and NeutronError `type`, when given). */
export async function expectStatus(p: Promise<unknown>, status: number, type?: string): Promise<void> {
  await assert.rejects(p, (e: { status?: number; type?: string }) => {
    assert.equal(e.status, status);
    if (type) assert.equal(e.type, type);
    return true;
  });
}
