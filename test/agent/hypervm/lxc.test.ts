/**
 * HyperVMs with real LXC, as root, in the two-cloud world of testkit/hypervm-world.ts: a HyperVM
 * launched on node A pulls with its one token, runs as an unprivileged container on its port's tap,
 * takes its hyper IP by DHCP and reaches the VM on node B; security groups and anti-spoofing apply on
 * the node's side; root inside cannot touch the node; the repository is reachable from the node and
 * not from the container. Namespaces start with `hnE-<pid>-`; containers are killed, also on failure.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { realExec } from '../../../src/common/exec.js';
import type { HyperVm, Port } from '../../../src/model/types.js';
import { hyperVmWorldReady, worldFor } from '../../../testkit/hypervm-world.js';
import { eventually, msUntil } from '../../../testkit/wait.js';

const w = worldFor(`hnE-${process.pid}-`, 'hypervm-lxc');

describe('HyperVMs on LXC (root, real containers)', { skip: hyperVmWorldReady() }, () => {
  let hv: HyperVm;
  const inContainer = (cmd: string[]) => w.inContainer(hv.id, cmd);
  /** What a failed reachability check needs: the container's addresses and DHCP log, node A's bridge. */
  const diagnose = async () => {
    const parts = [
      await inContainer(['ip', 'addr']),
      await inContainer(['cat', '/tmp/udhcpc.log']),
      await w.inNs(w.ns.a, ['bridge', 'link']),
      await w.inNs(w.ns.b, ['bridge', 'fdb', 'show']),
    ];
    return parts.map((r) => `# ${(r.stdout + r.stderr).replace(/\n/g, '\n# ')}`).join('\n');
  };

  before(() => w.up());
  after(() => w.down());

  test('a launch goes BUILD → ACTIVE, and the container reaches the VM on the other cloud by hyper IP', async () => {
    const t0 = Date.now();
    hv = await w.launch();
    assert.equal(hv.host, w.hostA);
    const hyperIp = await w.hyperIp(hv);
    // The container took the port's MAC on its side and its hyper IP by DHCP, from inside.
    const ms = await msUntil(
      async () => (await w.inNs(w.ns.wb, ['ping', '-c', '1', '-W', '1', hyperIp])).code === 0,
      60_000,
    );
    if (ms < 0) console.log(await diagnose());
    assert.ok(ms >= 0, 'the VM on node B pings the container');
    console.log(`# launch: API call to the container answering ping in ${Date.now() - t0} ms`);
    const port = await w.api.show<Port>('ports', 'port', hv.port_id);
    assert.match((await inContainer(['ip', 'link', 'show', 'eth0'])).stdout, new RegExp(port.mac_address, 'i'));
    const out = await inContainer(['ping', '-c', '2', '-W', '2', w.vmIp]);
    assert.equal(out.code, 0, `container → VM: ${out.stdout}${out.stderr}`);
    // Unprivileged: the container's root is uid 100000 on the node.
    const pid = (await w.inNs(w.ns.a, ['lxc-info', '-n', `hv-${hv.id}`, '-P', w.lxcDir, '-p', '-H'])).stdout.trim();
    const uidMap = (await realExec('cat', [`/proc/${pid}/uid_map`])).stdout.trim().split(/\s+/);
    assert.deepEqual(uidMap, ['0', '100000', '65536']);
  });

  test('root inside cannot touch the node; spoofed addresses are dropped', async () => {
    const routesBefore = (await w.inNs(w.ns.a, ['ip', 'route', 'show', 'table', 'all'])).stdout;
    const nftBefore = (await w.inNs(w.ns.a, ['nft', '-s', 'list', 'ruleset'])).stdout;
    // Its own namespace it may change; the node's stay as they were.
    await inContainer(['ip', 'route', 'add', '198.51.100.0/24', 'dev', 'eth0']);
    assert.equal((await w.inNs(w.ns.a, ['ip', 'route', 'show', 'table', 'all'])).stdout, routesBefore);
    assert.equal((await w.inNs(w.ns.a, ['nft', '-s', 'list', 'ruleset'])).stdout, nftBefore);
    const agentPids = (
      await realExec('pgrep', ['-f', `hypernet.js agent .*--host ${w.hostA}`], { allowFail: true })
    ).stdout
      .trim()
      .split('\n');
    assert.ok(agentPids.filter(Boolean).length > 0, 'the agent of node A runs');
    for (const p of agentPids.filter(Boolean))
      assert.notEqual((await inContainer(['kill', '-0', p])).code, 0, `the agent (pid ${p}) is out of reach`);
    // A spoofed source IP: the node's firewall drops it (the real address still works).
    await inContainer(['ip', 'addr', 'add', '10.70.0.222/24', 'dev', 'eth0']);
    const spoofed = await inContainer(['ping', '-c', '2', '-W', '1', '-I', '10.70.0.222', w.vmIp]);
    assert.notEqual(spoofed.code, 0, 'a ping from a spoofed source gets no answer');
    const real = await inContainer(['ping', '-c', '2', '-W', '2', w.vmIp]);
    assert.equal(real.code, 0, 'the port’s own address still works');
  });

  test('security groups apply on the node’s side of the container', async () => {
    const port = await w.api.show<Port>('ports', 'port', hv.port_id);
    const hyperIp = port.fixed_ips[0].ip_address;
    // No group: nothing may enter the container's port any more.
    await w.api.update('ports', 'port', port.id, { security_groups: [] });
    const ping = async () => (await w.inNs(w.ns.wb, ['ping', '-c', '1', '-W', '1', hyperIp])).code === 0;
    assert.ok(await eventually(async () => !(await ping()), 15_000), 'ingress is dropped without a group allowing it');
    await w.api.update('ports', 'port', port.id, { security_groups: port.security_groups });
    assert.ok(await eventually(ping, 15_000), 'and allowed again with the default group');
  });

  test('the repository is reachable from the node and not from the container', async () => {
    const url = `${w.server}/repository/images/${w.image}/index.json`;
    const probe = `fetch(${JSON.stringify(url)}).then(async (r) => console.log(r.status, await r.text()))`;
    const fromNode = await w.inNs(w.ns.a, ['node', '-e', probe]);
    assert.match(fromNode.stdout, /^401 .*missing_token/, 'the node reaches it (and is refused without a token)');
    const fromContainer = await inContainer(['wget', '-T', '3', '-O', '-', url]);
    assert.notEqual(fromContainer.code, 0);
    assert.doesNotMatch(fromContainer.stderr + fromContainer.stdout, /401|missing_token/i, 'never reached');
  });

  test('delete removes the container and its files', async () => {
    await w.api.delete('hypervms', hv.id);
    assert.ok(await eventually(async () => !existsSync(join(w.lxcDir, `hv-${hv.id}`)), 20_000));
  });
});
