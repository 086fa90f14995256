/**
 * The lab's underlay without server or agents: namespaces, the internet routing between clouds, the
 * native (no overlay) VM plumbing, and a sweep by prefix that leaves nothing behind (including the
 * processes living in the namespaces).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { listNetnsWithPrefix } from '../../src/lab/netns.js';
import { planNamespaces } from '../../src/lab/plan.js';
import { buildTopology, plugNative, sweepNamespaces } from '../../src/lab/topology.js';
import { deps, isRoot, nsRun, sweepStaleRuns, testPlan } from './fixture.js';
import { skipOrFail } from '../../testkit/preconditions.js';

const plan = testPlan('t', { clouds: 3, vmsPerCloud: 1 });

before(async () => {
  if (!isRoot()) return;
  await sweepStaleRuns();
  await sweepNamespaces(deps.exec, deps.clock, plan.prefix);
});
after(async () => {
  if (isRoot()) await sweepNamespaces(deps.exec, deps.clock, plan.prefix);
});

test('topology: every planned namespace exists, the root namespace gets nothing', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  const rootLinks = (await deps.exec('ip', ['-o', 'link'])).stdout.split('\n').length;
  await buildTopology(deps.exec, plan);
  assert.deepEqual((await listNetnsWithPrefix(deps.exec, plan.prefix)).sort(), planNamespaces(plan).sort());
  assert.equal((await deps.exec('ip', ['-o', 'link'])).stdout.split('\n').length, rootLinks);
  const a = plan.clouds[0];
  const addr = (await deps.exec('ip', ['-n', a.hyperswitchNs, '-br', 'addr', 'show', 'dev', a.hyperswitchIf])).stdout;
  assert.match(addr, new RegExp(`${a.underlayIp.replace(/\./g, '\\.')}/25`));
});

test('topology: hyperswitches of different clouds reach each other through the internet only', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  const [a, b, c] = plan.clouds;
  for (const [from, to] of [
    [a, b],
    [b, c],
    [c, a],
  ]) {
    const r = await nsRun(from.hyperswitchNs, 'ping', ['-c', '1', '-W', '2', to.underlayIp]);
    assert.equal(r.code, 0, `${from.hostId} → ${to.underlayIp}: ${r.stdout}`);
  }
  const route = await nsRun(a.hyperswitchNs, 'ip', ['route', 'get', b.underlayIp]);
  assert.match(route.stdout, new RegExp(`via ${a.gatewayIp.replace(/\./g, '\\.')}`));
});

test('topology: native plumbing routes VM to VM across clouds without overlay', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  const [va, vb] = [plan.clouds[0].vms[0], plan.clouds[1].vms[0]];
  await plugNative(deps.exec, plan, va);
  await plugNative(deps.exec, plan, vb);
  const r = await nsRun(va.ns, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', vb.nativeIp!]);
  assert.equal(r.code, 0, r.stdout);
  assert.match(r.stdout, /ttl=61/); // VM → hs-a → internet → hs-b → VM: three routers
});

test('topology: the sweep stops processes living in the namespaces and removes every one', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  const vm = plan.vms[0];
  const child = spawn('ip', ['netns', 'exec', vm.ns, 'sleep', '60'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 200));
  const pid = child.pid!;
  const exited = new Promise((r) => child.once('exit', r));
  const removed = await sweepNamespaces(deps.exec, deps.clock, plan.prefix);
  await exited;
  assert.equal(removed.length, planNamespaces(plan).length);
  assert.deepEqual(await listNetnsWithPrefix(deps.exec, plan.prefix), []);
  assert.throws(() => process.kill(pid, 0));
  assert.deepEqual(await sweepNamespaces(deps.exec, deps.clock, plan.prefix), []); // idempotent
});
