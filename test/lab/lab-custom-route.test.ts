/**
 * `hypernet lab up --custom-route-vms 2` as a user runs it (the real executable, server, agents and
 * the lab's EC2 endpoint daemon), with a per-run prefix and state directory: the vpc cloud's VMs, with
 * nothing but their VPC address, are in the ping matrix by hyper IP with the other clouds' VMs and
 * every pair passes; `lab status` reads the VPC route table through the SDK (the hyper subnet → the
 * active hyperswitch's ENI, made by the server's custom-route controller); `lab down` leaves no
 * namespace, process or file. One VM per other cloud keeps the matrix, and the run, short.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { realExec } from '../../src/common/exec.js';
import { addNetns, listNetnsWithPrefix } from '../../src/lab/netns.js';
import { readPidDir } from '../../src/lab/processes.js';
import { readState } from '../../src/lab/state.js';
import { downLab, World } from '../../src/lab/world.js';
import { skipOrFail } from '../../testkit/preconditions.js';
import { deps, isRoot, runNames, sweepStaleRuns, testPlan } from '../net/fixture.js';
import { launchVpcHyperswitches, startVpcEndpoint } from '../../src/lab/vpc-cloud.js';
import { hypernet } from './run-cli.js';
import { labDownLeavesNothing } from './lab-down.js';

const { prefix, stateDir } = runNames('v');
let pids: number[] = [];

before(async () => {
  if (isRoot()) await sweepStaleRuns();
});
after(async () => {
  if (isRoot()) await downLab(stateDir, prefix, deps);
});

test('the flag is validated: an integer 0…8', async () => {
  // Two through the CLI (each run starts the executable); plan.test.ts covers the rest of the range.
  for (const bad of ['9', '1.5']) {
    const r = await hypernet(['lab', 'up', '--state-dir', stateDir, '--prefix', prefix, '--custom-route-vms', bad]);
    assert.notEqual(r.code, 0, bad);
    assert.match(r.out, /custom-route VMs must be an integer 0…8, got "/, bad);
  }
  assert.equal(existsSync(stateDir), false, 'nothing was built');
});

test('the vpc cloud refuses what it cannot share: a second tenant network', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  const r = await hypernet([
    ...['lab', 'up', '--state-dir', stateDir, '--prefix', prefix, '--api-port', '0'],
    ...['--custom-route-vms', '1', '--networks', '2'],
  ]);
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /custom-route VMs need a single tenant network/);
  assert.deepEqual(await listNetnsWithPrefix(realExec, prefix), []);
});

test('lab up --custom-route-vms 2: the vpc VMs pass the ping matrix with the others', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  const r = await hypernet([
    ...['lab', 'up', '--state-dir', stateDir, '--prefix', prefix, '--api-port', '0'],
    ...['--vms-per-cloud', '1', '--custom-route-vms', '2'],
  ]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /✓ vpc: EC2 endpoint and VPC router/);
  assert.match(r.out, /✓ vpc: routes, checks and security groups by the server/);
  const state = readState(`${stateDir}/lab.json`)!;
  const vpc = state.vpc!;
  assert.deepEqual(
    vpc.vms.map((v) => [v.name, v.mode, v.hostId]),
    [
      ['vm-vpc1', 'instead', 'hs-vpc1'],
      ['vm-vpc2', 'in-addition', 'hs-vpc1'],
    ],
  );
  // Each VM has its VPC address only; the in-addition one also its hyper IP (its user_data's runcmd).
  for (const v of vpc.vms) {
    const a = await realExec('ip', ['-n', v.ns, '-4', '-o', 'addr', 'show', 'dev', 'eth0']);
    assert.match(a.stdout, new RegExp(`inet ${v.vpcIp.replaceAll('.', '\\.')}/24`));
    assert.equal(a.stdout.includes(`inet ${v.ip}/`), v.mode === 'in-addition', a.stdout);
  }
  // The VPC security groups: an instead VM takes nothing from another VM at its VPC address, only
  // through the hyperswitch by hyper IP (the matrix below).
  const [v1, v2] = vpc.vms;
  const direct = await realExec('ip', ['netns', 'exec', v2!.ns, 'ping', '-n', '-q', '-c', '1', '-W', '1', v1!.vpcIp], {
    allowFail: true,
  });
  assert.notEqual(direct.code, 0, `${v2!.name} → ${v1!.name} at its VPC address is dropped`);
  // The matrix: the four VMs, every pair reachable by hyper IP.
  assert.match(r.out, /ping matrix \(all reachable\)/);
  const rows = r.out.split('\n').filter((l) => /^\| (vm-a1|vm-b1|vm-vpc1|vm-vpc2) /.test(l));
  const matrixRows = rows.filter((l) => /[✓✗·]/.test(l));
  assert.equal(matrixRows.length, 4, r.out);
  for (const row of matrixRows) assert.doesNotMatch(row, /✗/, row);
  assert.match(
    r.out,
    /vm-vpc2 [ |]+in-addition [ |]+10\.0\.1\.\d+ [ |]+10\.20\.2\.\d+ [ |]+eni-[0-9a-f]{17} [ |]+hs-vpc1/,
  );
  pids = [...readPidDir(`${stateDir}/pids`).values()];
  assert.ok(readPidDir(`${stateDir}/pids`).has('vpc-endpoint'), 'the endpoint daemon is recorded');
});

test('lab status shows the vpc route table: the hyper subnet → the active hyperswitch', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  const r = await hypernet(['lab', 'status', '--state-dir', stateDir]);
  assert.equal(r.code, 0, r.out);
  const vpc = readState(`${stateDir}/lab.json`)!.vpc!;
  const active = vpc.hyperswitches[0]!;
  assert.match(r.out, /vpc route table \(DescribeRouteTables\):/);
  assert.match(r.out, new RegExp(`10\\.0\\.1\\.0/24 [ |]+${active.eni} [ |]+hs-vpc1 [ |]+active`));
  assert.match(r.out, /10\.20\.0\.0\/16 [ |]+local [ |]+the VPC [ |]+active/);
  // The in-addition VM's hyper IP is routed to its own ENI.
  const v2 = vpc.vms[1]!;
  assert.match(r.out, new RegExp(`${v2.ip.replaceAll('.', '\\.')}/32 [ |]+${v2.eni} [ |]+vm-vpc2`));
  assert.match(r.out, new RegExp(`${prefix}vpc [ |]+yes`));
  assert.match(r.out, /hs-vpc2 [ |]+yes/, 'the standby hyperswitch agent is alive');
  assert.match(r.out, /lab is healthy/);
});

test('lab down removes the endpoint daemon, the VPC router and every namespace', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  assert.match(await labDownLeavesNothing(stateDir, prefix, pids), /vpc-endpoint: stopped/);
});

test('an endpoint daemon that cannot start fails lab up at once, with its log', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  const world = new World(testPlan('v', { vmsPerCloud: 0, customRouteVms: 1 }), deps);
  await world.buildTopology();
  // Its dataplane makes the VPC router namespace, and refuses one that exists.
  await addNetns(realExec, world.plan.vpc!.routerNs);
  const t0 = Date.now();
  await assert.rejects(startVpcEndpoint(world), /the vpc endpoint exited; its log:[\s\S]*File exists/);
  assert.ok(Date.now() - t0 < 10_000, `failed after ${Date.now() - t0} ms, not at the 20 s timeout`);
  await labDownLeavesNothing(stateDir, prefix, []);
});

test('lab down also cleans up after a half-finished lab up (endpoint, hyperswitches, no VMs)', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  const world = new World(testPlan('v', { vmsPerCloud: 0, customRouteVms: 1 }), deps);
  await world.buildTopology();
  await startVpcEndpoint(world);
  await world.startServer();
  await launchVpcHyperswitches(world);
  const recorded = [...readPidDir(`${stateDir}/pids`).values()];
  assert.equal(recorded.length, 4, "so far: the endpoint, the server, the vpc hyperswitches' agents");
  await labDownLeavesNothing(stateDir, prefix, recorded);
});
