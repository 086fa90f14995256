/**
 * The provider path of HyperVMs (root): a lab whose cloud-b launches HyperVMs through the lab provider.
 * Creating one makes a new namespace on the cloud's provider network running the real agent
 * (`--hypervm`, configured from the user_data: port, repository, the single-use token bound to the
 * namespace's provider address); it pulls, starts the LXC container, and the VM of cloud-a pings it by
 * hyper IP. The token cannot be taken again. Deleting the HyperVM removes the namespace, the agent
 * (process and record), the container and the port: nothing is left.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ApiError } from '../../src/client/api.js';
import { realClock } from '../../src/common/clock.js';
import { realExec } from '../../src/common/exec.js';
import { buildHyperVmImage, canBuildHyperVmImage, pushLayout } from '../../src/lab/hypervm-image.js';
import { listNetnsWithPrefix } from '../../src/lab/netns.js';
import { planLab } from '../../src/lab/plan.js';
import { downLab, World } from '../../src/lab/world.js';
import type { Agent, HyperVm, Port } from '../../src/model/types.js';
import { isRoot, skipOrFail } from '../../testkit/preconditions.js';
import { eventually } from '../../testkit/wait.js';

const prefix = 'hnP-pv-';
const stateDir = join(tmpdir(), 'hypernet-test', `hnP-pv-${process.pid}`);
const deps = { exec: realExec, clock: realClock };

after(async () => {
  if (isRoot()) await downLab(stateDir, prefix, deps);
});

const ping = async (ns: string, ip: string): Promise<boolean> =>
  (await realExec('ip', ['netns', 'exec', ns, 'ping', '-n', '-c', '1', '-W', '1', ip], { allowFail: true })).code === 0;

test('a HyperVM launched through the provider answers the other cloud; delete leaves nothing', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root');
  if (!canBuildHyperVmImage()) return skipOrFail(t, 'needs busybox-static and umoci');
  await downLab(stateDir, prefix, deps);
  const plan = planLab({ prefix, stateDir, clouds: 2, vmsPerCloud: 1, apiPort: 0, hypervmProvider: true });
  const world = new World(plan, deps);
  const vms = await world.up();
  const a1 = vms.find((v) => v.site.name === 'vm-a1')!;
  const b1 = vms.find((v) => v.site.name === 'vm-b1')!;
  const { api } = world;
  const image = await pushLayout(plan.paths.socket, buildHyperVmImage(join(stateDir, 'image')), 'busybox');

  // Where the provider launches HyperVMs, their node is their own: naming a host is refused, and
  // the refusal leaves no port behind.
  const portsBefore = (await api.list<Port>('ports')).length;
  await assert.rejects(
    api.create('hypervms', 'hypervm', {
      image_id: image,
      network_id: world.state.networkId,
      cloud: 'cloud-b',
      host: 'x',
    }),
    (e: unknown) => e instanceof ApiError && e.status === 400,
  );
  assert.equal((await api.list<Port>('ports')).length, portsBefore);

  const hv = await api.create<HyperVm>('hypervms', 'hypervm', {
    image_id: image,
    network_id: world.state.networkId,
    cloud: 'cloud-b',
  });
  assert.match(hv.host, /^hvm-/, 'the node is the HyperVM’s own provider VM, not a cloud agent');
  const ns = `${prefix}${hv.host}`;
  let last: HyperVm = hv;
  const active = await eventually(async () => {
    last = await api.show<HyperVm>('hypervms', 'hypervm', hv.id);
    if (last.status === 'ERROR') throw new Error(`HyperVM failed: ${last.status_reason}`);
    return last.status === 'ACTIVE';
  }, 120_000);
  assert.ok(active, `HyperVM ACTIVE (last status ${last.status})`);
  assert.ok((await listNetnsWithPrefix(realExec, ns)).includes(ns), 'its namespace exists');

  // The agent registered from the user_data's command line, with the provider address as underlay.
  const agent = (await api.list<Agent>('agents')).find((a) => a.host === hv.host);
  assert.ok(agent, 'the HyperVM’s agent registered');
  assert.equal(agent.configurations.cloud, 'cloud-b');
  const providerIp = String(agent.configurations.tunneling_ip);
  assert.match(providerIp, /^203\.0\.113\./);
  const addrs = await realExec('ip', ['-n', ns, '-j', 'addr', 'show', 'data0']);
  assert.ok(addrs.stdout.includes(`"${providerIp}"`), 'the token’s address is the namespace’s provider address');

  // The launch's one token went into the user_data: the server issues no second one.
  await assert.rejects(
    api.call('POST', `/v2.0/hypervms/${hv.id}/launch_token`),
    (e: unknown) => e instanceof ApiError && e.status === 409,
  );

  const port = await api.show<Port>('ports', 'port', hv.port_id);
  assert.equal(port['binding:host_id'], hv.host);
  const hyperIp = port.fixed_ips[0]!.ip_address;
  assert.ok(await eventually(() => ping(a1.site.ns, hyperIp), 30_000), 'vm-a1 (cloud-a) pings the container');

  await api.delete('hypervms', hv.id);
  const gone = await eventually(async () => !(await listNetnsWithPrefix(realExec, ns)).length, 60_000);
  assert.ok(gone, 'the namespace is removed');
  assert.ok(
    await eventually(async () => !(await api.list<Agent>('agents')).some((a) => a.host === hv.host), 10_000),
    'the agent’s record is removed',
  );
  await assert.rejects(
    api.show('ports', 'port', hv.port_id),
    (e: unknown) => e instanceof ApiError && e.status === 404,
  );
  const providerDir = join(plan.paths.serverDataDir, 'lab-provider');
  assert.ok(!existsSync(join(providerDir, 'a', hv.host)), 'the agent’s directory (container, rootfs) is removed');
  const left = await realExec('sh', ['-c', `ps -eo args | grep -F '${providerDir}/a/${hv.host}' | grep -v grep`], {
    allowFail: true,
  });
  assert.equal(left.stdout.trim(), '', 'no process of the HyperVM is left (agent, container)');
  assert.ok(await ping(a1.site.ns, b1.ip), 'the rest of the lab still works');
});
