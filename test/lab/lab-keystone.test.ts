/**
 * `hypernet lab up --keystone` as a user runs it: a private Keystone, the server behind it with
 * `--auth keystone`, agents that still converge (they use the lab's static token), a clouds.yaml the
 * stock `openstack` CLI logs in with (password auth, network endpoint from the catalog), a 401 with
 * WWW-Authenticate for an anonymous request, and `lab down` leaving no Keystone and no files behind.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { realExec } from '../../src/common/exec.js';
import { pidsMentioning } from '../../src/lab/processes.js';
import { readState } from '../../src/lab/state.js';
import { downLab } from '../../src/lab/world.js';
import { haveKeystone } from '../../testkit/keystone.js';
import { skipOrFail } from '../../testkit/preconditions.js';
import { deps, isRoot, runNames, sweepStaleRuns } from '../net/fixture.js';
import { hypernet } from './run-cli.js';

const { prefix, stateDir } = runNames('k');
const ready = () => isRoot() && haveKeystone;

before(async () => {
  if (ready()) await sweepStaleRuns();
});
after(async () => {
  if (ready()) await downLab(stateDir, prefix, deps);
});

test('lab up --keystone: agents converge, the CLI logs in with clouds.yaml, down stops Keystone', async (t) => {
  if (!ready()) return skipOrFail(t, 'needs root and python3-keystone');
  const args = ['--state-dir', stateDir, '--prefix', prefix, '--api-port', '0', '--vms-per-cloud', '1'];
  const up = await hypernet(['lab', 'up', '--keystone', ...args], 300_000);
  assert.equal(up.code, 0, up.out);
  assert.match(up.out, /✓ keystone/);
  assert.match(up.out, /all reachable/);
  const clouds = join(stateDir, 'clouds.yaml');
  assert.ok(up.out.includes(`OS_CLIENT_CONFIG_FILE=${clouds} openstack --os-cloud hypernet-lab network list`));

  const status = await hypernet(['lab', 'status', '--state-dir', stateDir]);
  assert.equal(status.code, 0, status.out);
  assert.match(status.out, /lab is healthy/);

  const apiUrl = readState(join(stateDir, 'lab.json'))?.apiUrl as string;
  const anonymous = await fetch(`${apiUrl}/v2.0/networks`);
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Keystone uri="http:\/\/127\.0\.0\.1:\d+\/v3"$/);

  const list = await realExec('openstack', ['--os-cloud', 'hypernet-lab', 'network', 'list', '-f', 'json'], {
    allowFail: true,
    timeoutMs: 90_000,
    env: { ...process.env, OS_CLIENT_CONFIG_FILE: clouds, OS_CLOUD: '', OS_AUTH_URL: '' },
  });
  assert.equal(list.code, 0, list.stderr);
  // The tenant network, and the external network of each cloud, which every project sees.
  assert.deepEqual((JSON.parse(list.stdout) as { Name: string }[]).map((n) => n.Name).sort(), [
    'ext-cloud-a',
    'ext-cloud-b',
    'hyper-net',
  ]);

  const down = await hypernet(['lab', 'down', '--state-dir', stateDir]);
  assert.equal(down.code, 0, down.out);
  assert.match(down.out, /keystone: stopped/);
  assert.deepEqual(pidsMentioning(`${stateDir}/`), []);
  assert.equal(existsSync(join(stateDir, 'keystone')), false);
});
