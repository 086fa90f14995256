/**
 * End to end: `hypernet instance create/show/list/set/delete` (the real executable against a real
 * server): user data from a file, public keys and metadata as repeated KEY=VALUE, API errors as
 * exit 1 with Neutron's message, usage errors as exit 2.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliRunner, hypernet, startServer, type TestServer } from './server.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHh5cGVybmV0dGVzdGtleWJ5dGVzMDEyMzQ1Njc4OTAx me@host';

let srv: TestServer;
let env: Record<string, string>;
const dir = mkdtempSync(join(tmpdir(), 'hn-ctl-inst-'));

before(async () => {
  srv = await startServer();
  env = { HYPERNET_URL: srv.url };
});
after(async () => {
  await srv?.close();
  rmSync(dir, { recursive: true, force: true });
});

const { ok, json } = cliRunner(() => env);

test('instance: create with user data, keys and metadata; show, list, set, delete', async () => {
  const ud = join(dir, 'user-data');
  writeFileSync(ud, '#cloud-config\nhostname: web\n');
  const inst = await json([
    'instance',
    'create',
    'web-1',
    '--device-id',
    'vm-web-1',
    '--user-data',
    ud,
    '--public-key',
    `default=${KEY}`,
    '--property',
    'role=web',
    '--property',
    'expr=a=b,c',
  ]);
  assert.equal(inst.name, 'web-1');
  assert.equal(inst.device_id, 'vm-web-1');
  assert.equal(inst.hostname, 'web-1');
  assert.equal(inst.user_data, '#cloud-config\nhostname: web\n');
  assert.deepEqual(inst.public_keys, { default: KEY });
  assert.deepEqual(inst.meta, { role: 'web', expr: 'a=b,c' });
  assert.equal((await json(['instance', 'show', 'web-1'])).id, inst.id);
  const table = await ok(['instance', 'list']);
  assert.match(table, /\| ID +\| Name +\| Device +\| Hostname +\| Keys +\|/);
  assert.match(table, new RegExp(`\\| ${inst.id} \\| web-1 +\\| vm-web-1 +\\| web-1 +\\| default +\\|`));
  const changed = await json(['instance', 'set', 'web-1', '--hostname', 'web-one', '--property', 'role=db']);
  assert.equal(changed.hostname, 'web-one');
  assert.deepEqual(changed.meta, { role: 'db' });

  const dup = await hypernet(['instance', 'create', 'web-2', '--device-id', 'vm-web-1'], env);
  assert.equal(dup.code, 1);
  assert.match(dup.stderr, /already exists/);
  const badKey = await hypernet(['instance', 'create', 'x', '--device-id', 'vm-x', '--public-key', 'k=nope'], env);
  assert.equal(badKey.code, 1);
  assert.match(badKey.stderr, /OpenSSH public key/);
  const noFile = await hypernet(
    ['instance', 'create', 'x', '--device-id', 'vm-x', '--user-data', join(dir, 'no')],
    env,
  );
  assert.equal(noFile.code, 2);
  const noDevice = await hypernet(['instance', 'create', 'x'], env);
  assert.equal(noDevice.code, 2);

  assert.equal((await ok(['instance', 'delete', 'web-1'])).trim(), '');
  assert.deepEqual(await json(['instance', 'list']), []);
});
