/**
 * The datapath survives its control plane (real server and agent processes, lab world builder):
 * an agent restart with the model unchanged loses no packet of a fast ping stream; an agent that was
 * down while ports were deleted and created converges when it comes back; kernel drift (an FDB entry
 * or the VXLAN device deleted by hand) is repaired within seconds; after a server restart the agents
 * resync and a port created after the restart becomes reachable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bridgeName, vxlanName } from '../../src/model/kernel-names.js';
import type { LabVm } from '../../src/lab/world.js';
import { eventually, isRoot, msUntil, nsRun, useWorld } from './fixture.js';
import { skipOrFail } from '../../testkit/preconditions.js';

/** ctx.vms = [vm-a1 (cloud-a), vm-b1 (cloud-b)]. */
const ctx = useWorld('r', 'resilience', { vmsPerCloud: 1 });
const world = ctx.world;

const fdb = async (ns: string) =>
  (await nsRun(ns, 'bridge', ['fdb', 'show', 'dev', vxlanName(ctx.vni)])).stdout.toLowerCase();

test('agent restart with the model unchanged: a 300-packet ping stream loses nothing', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  const [ca] = world.plan.clouds;
  const stream = nsRun(ctx.vms[0].site.ns, 'ping', ['-i', '0.01', '-c', '300', '-W', '1', '-q', ctx.vms[1].ip], 30_000);
  await new Promise((r) => setTimeout(r, 300));
  await world.stopAgent(ca);
  await world.startAgents([ca]);
  const r = await stream;
  assert.match(r.stdout, /300 packets transmitted, 300 received, 0% packet loss/, r.stdout);
});

test('agent restart after the model changed while it was down: it converges', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  const [ca, cb] = world.plan.clouds;
  const oldB = await world.addVm(await world.newVmSite(cb, 'old-b'), world.state.networkId!);
  assert.ok(await eventually(async () => (await fdb(ca.hyperswitchNs)).includes(oldB.port.mac_address), 5000));
  await world.stopAgent(ca);
  let local: LabVm | undefined;
  let newB: LabVm | undefined;
  try {
    // While hs-a's agent is down: a remote port goes, another comes (IPAM reuses the freed IP, with a
    // new MAC: hs-b's DHCP must have released the old lease), and a local port is created.
    await world.removeVm(oldB);
    newB = await world.addVm(await world.newVmSite(cb, 'new-b'), world.state.networkId!);
    assert.equal(newB.ip, oldB.ip);
    const localSite = await world.newVmSite(ca, 'late-a');
    const localPending = world.addVm(localSite, world.state.networkId!); // DHCP waits for the agent
    await new Promise((r) => setTimeout(r, 500));
    await world.startAgents([ca]);
    local = await localPending;
  } finally {
    if (!world.agentRunning(ca)) await world.startAgents([ca]);
  }
  const converged = async () => {
    const f = await fdb(ca.hyperswitchNs);
    return !f.includes(oldB.port.mac_address) && f.includes(newB!.port.mac_address);
  };
  assert.ok(await eventually(converged, 8000), 'hs-a FDB did not converge');
  assert.ok(await world.pingRetry(local!.site.ns, newB!.ip, 5), 'new local VM cannot reach the new remote VM');
  assert.ok(await world.pingRetry(ctx.vms[0].site.ns, newB!.ip, 5));
  await world.removeVm(newB!);
  await world.removeVm(local!);
});

test('kernel drift: a deleted FDB entry and a deleted VXLAN device are repaired within seconds', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  const [ca, cb] = world.plan.clouds;
  const mac = ctx.vms[1].port.mac_address.toLowerCase();
  // The entry's destination: cb's underlay IP, or its inner address when the pair is encrypted.
  const dst = new RegExp(`${mac} dst (\\S+)`).exec(await fdb(ca.hyperswitchNs))?.[1] ?? cb.underlayIp;
  await nsRun(ca.hyperswitchNs, 'bridge', ['fdb', 'del', mac, 'dev', vxlanName(ctx.vni), 'dst', dst]);
  assert.ok(!(await fdb(ca.hyperswitchNs)).includes(`${mac} dst ${dst}`), 'fdb entry was not deleted');
  const fdbMs = await msUntil(async () => (await fdb(ca.hyperswitchNs)).includes(`${mac} dst ${dst}`), 6000);
  assert.ok(fdbMs >= 0, 'FDB entry not repaired within 6 s');

  assert.equal((await nsRun(cb.hyperswitchNs, 'ip', ['link', 'del', vxlanName(ctx.vni)])).code, 0);
  const linkMs = await msUntil(async () => {
    const r = await nsRun(cb.hyperswitchNs, 'ip', ['-d', 'link', 'show', 'dev', vxlanName(ctx.vni)]);
    return r.code === 0 && r.stdout.includes(`master ${bridgeName(ctx.vni)}`);
  }, 6000);
  assert.ok(linkMs >= 0, 'VXLAN device not repaired within 6 s');
  assert.ok(await world.pingRetry(ctx.vms[0].site.ns, ctx.vms[1].ip, 5), 'no connectivity after the repair');
  t.diagnostic(`fdb repaired in ${fdbMs} ms, vxlan in ${linkMs} ms`);
});

test('server restart: agents resync and a port created after the restart becomes reachable', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  const [, cb] = world.plan.clouds;
  await world.stopServer();
  const restarted = Date.now();
  await world.startServer();
  await world.waitAgentsAlive({ sinceMs: restarted });
  // A never-used IP: this is about the agents resyncing, not about vm-a1's ARP cache still holding
  // the MAC of an earlier port with the same IP.
  const vm = await world.addVm(await world.newVmSite(cb, 'after-b'), world.state.networkId!, { fixedIp: '10.0.1.200' });
  const reached = await eventually(() => world.ping(ctx.vms[0].site.ns, vm.ip), 8000);
  assert.ok(reached, 'the port created after the server restart is not reachable');
  // hs-b wired it (so it resynced); hs-a must learn it too (static FDB entry toward hs-b).
  const [ca] = world.plan.clouds;
  // Toward hs-b: where hs-a sends hs-b's other VM (its underlay IP, or its inner address when encrypted).
  const dstOf = async (mac: string) =>
    new RegExp(`${mac.toLowerCase()} dst (\\S+)`).exec(await fdb(ca.hyperswitchNs))?.[1];
  const toB = await dstOf(ctx.vms[1].port.mac_address);
  assert.ok(toB, 'hs-a has no FDB entry for the VM on hs-b');
  const learned = await eventually(async () => (await dstOf(vm.port.mac_address)) === toB, 8000);
  assert.ok(learned, 'hs-a did not resync the new port after the server restart');
  assert.ok(await world.pingRetry(ctx.vms[0].site.ns, ctx.vms[1].ip));
});
