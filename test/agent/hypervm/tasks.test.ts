/**
 * HyperVM snapshot and migration with real LXC, as root, in the two-cloud world of
 * testkit/hypervm-world.ts (both nodes run HyperVMs): a snapshot exports the running container as a
 * new image of its tenant (uploaded with the node's single-use token, verified as any push); a
 * migration from cloud B to cloud A, driven through the CLI, keeps the port's IP and MAC and the
 * container's files, reports its downtime, and the container answers the VM on cloud B afterwards.
 * Refused tasks leave nothing behind. The console runs a command inside and returns its output. Namespaces start with `hnM-<pid>-`; all is removed, also on failure.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError } from '../../../src/client/api.js';
import { ImageClient } from '../../../src/client/images.js';
import type { HyperVm, Port } from '../../../src/model/types.js';
import { hyperVmWorldReady, worldFor } from '../../../testkit/hypervm-world.js';
import { eventually, msUntil } from '../../../testkit/wait.js';

const BIN = new URL('../../../../bin/hypernet.js', import.meta.url).pathname;
const w = worldFor(`hnM-${process.pid}-`, 'hypervm-tasks');

const cli = (args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const child = execFile(
      'node',
      [BIN, ...args, '--url', `unix:${w.sock}`],
      { timeout: 120_000 },
      (e, stdout, stderr) => resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(input ?? '');
  });

describe('HyperVM snapshot and migration (root, real containers)', { skip: hyperVmWorldReady() }, () => {
  let hv: HyperVm;
  const images = () => new ImageClient(w.api);

  before(() => w.up());
  after(() => w.down());

  test('snapshot exports the running container as a new image of its tenant', async () => {
    hv = await w.launch(60_000, 'cloud-b');
    assert.equal(hv.host, w.hostB);
    const wrote = await w.inContainer(hv.id, ['sh', '-c', 'echo kept-$((6*7)) > /etc/marker'], 15_000, 'b');
    assert.equal(wrote.code, 0, wrote.stderr);
    const before = (await images().list()).length;
    const out = await cli(['hypervm', 'snapshot', hv.id, '--name', 'snap1']);
    // The CLI polls: a step quicker than its poll may pass unseen, the end never does.
    assert.match(out.stderr, /^snapshot: .*\nsnapshot: snapshot [0-9a-f-]{36} done$/ms, 'steps shown');
    const m = /image ([0-9a-f-]{36})/.exec(out.stdout);
    assert.ok(m, `the CLI names the image: ${out.stdout} ${out.stderr}`);
    const img = await images().show(m[1]);
    assert.equal(img.status, 'active');
    assert.equal(img.owner, hv.project_id);
    assert.equal(img.name, 'snap1');
    assert.equal((await images().list()).length, before + 1);
    const now = await w.api.show<HyperVm>('hypervms', 'hypervm', hv.id);
    assert.equal(now.status, 'ACTIVE', 'the container kept running');
    assert.equal(now.task_state, `snapshot ${m[1]} done`);
    // The export's token was single-use: asking again for this (finished) task is refused.
    await assert.rejects(w.api.call('POST', `/v2.0/hypervms/${hv.id}/upload_token`), (e: ApiError) => e.status === 409);
  });

  test('refused tasks leave no image behind', async () => {
    const before = (await images().list()).length;
    await assert.rejects(
      w.api.call('POST', `/v2.0/hypervms/${hv.id}/migrate`, { migrate: { cloud: 'cloud-z' } }),
      (e: ApiError) => e.status === 400 && /no HyperVM support/.test(e.message),
    );
    await assert.rejects(
      w.api.call('POST', `/v2.0/hypervms/${hv.id}/migrate`, { migrate: { cloud: 'cloud-b' } }),
      (e: ApiError) => e.status === 409,
      'its own node is the only one of cloud-b',
    );
    assert.equal((await images().list()).length, before);
  });

  test('migrate moves the container to the other cloud with its IP, MAC and files', async () => {
    const port0 = await w.api.show<Port>('ports', 'port', hv.port_id);
    const out = await cli(['hypervm', 'migrate', hv.id, '--to', 'cloud-a']);
    assert.equal(out.code, 0, `${out.stdout}${out.stderr}`);
    // The launch on the target takes longer than the CLI's poll: that step is always seen.
    for (const step of [`migrate: starting on ${w.hostA}`, `migrate: migrated to ${w.hostA}`])
      assert.ok(out.stderr.includes(step), `the CLI shows '${step}': ${out.stderr}`);
    const m = /downtime (\d+) ms/.exec(out.stdout);
    assert.ok(m, `the CLI prints the downtime: ${out.stdout}`);
    console.log(`# ${out.stdout.trim()}`);
    const moved = await w.api.show<HyperVm>('hypervms', 'hypervm', hv.id);
    assert.equal(moved.host, w.hostA);
    assert.equal(moved.cloud, 'cloud-a');
    assert.equal(moved.status, 'ACTIVE');
    assert.equal(moved.downtime_ms, Number(m[1]));
    const port = await w.api.show<Port>('ports', 'port', hv.port_id);
    assert.equal(port['binding:host_id'], w.hostA);
    assert.deepEqual(port.fixed_ips, port0.fixed_ips);
    assert.equal(port.mac_address, port0.mac_address);
    assert.deepEqual(port.security_groups, port0.security_groups);
    // Inside: the port's MAC, the file written before the move.
    const link = await w.inContainer(hv.id, ['ip', 'link', 'show', 'eth0']);
    assert.match(link.stdout, new RegExp(port.mac_address, 'i'));
    assert.equal((await w.inContainer(hv.id, ['cat', '/etc/marker'])).stdout.trim(), 'kept-42');
    // The VM on cloud B reaches it on cloud A by its old hyper IP; the old container is gone.
    const ip = port.fixed_ips[0].ip_address;
    const ms = await msUntil(
      async () => (await w.inNs(w.ns.wb, ['ping', '-c', '1', '-W', '1', ip])).code === 0,
      30_000,
    );
    assert.ok(ms >= 0, 'the VM on cloud B pings the moved container');
    const addr = await w.inContainer(hv.id, ['ip', '-4', 'addr', 'show', 'eth0']);
    assert.match(addr.stdout, new RegExp(`inet ${ip.replace(/\./g, '\\.')}/`));
    assert.ok(await eventually(async () => !existsSync(join(w.lxcDirB, `hv-${hv.id}`)), 20_000), 'old one removed');
  });

  test('console: a command sent in runs inside the container and its output comes back', async () => {
    const out = await cli(['hypervm', 'console', hv.id], 'echo console-$((6*7)); cat /etc/marker\n');
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /console-42\nkept-42\n/);
    const missing = await cli(['hypervm', 'console', '00000000-0000-0000-0000-000000000000']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /could not be found|not found/i);
  });
});
