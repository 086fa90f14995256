/**
 * The REAL `openstack image` commands against the catalog, found at `--os-endpoint URL/image/v2`:
 * create with --file (an OCI archive), list, show, set, save, delete, as a token project and as an
 * admin; a bad archive and a format the repository cannot hold fail with the server's message.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { realExec } from '../../src/common/exec.js';
import { skipUnless } from '../../testkit/preconditions.js';
import { buildLayout, type ImageServer, md5, repositoryFiles, startImageServer } from './image-fixtures.js';
import { cli, haveCli } from './openstack-cli-helpers.js';

type J = Record<string, unknown>;

describe('openstack image CLI against the catalog', {
  skip: skipUnless(haveCli, 'openstack CLI not installed'),
}, () => {
  let s: ImageServer;
  before(async () => {
    s = await startImageServer();
  });
  after(async () => s?.stop());

  const os =
    (token: string) =>
    (args: string[], allowFail = false) =>
      cli(['--os-auth-type', 'admin_token', '--os-token', token, '--os-endpoint', `${s.url}/image/v2`])(
        args,
        allowFail,
      );

  it('image create --file, list, show, set, save, delete', async () => {
    const alice = os('ALICE');
    const l = buildLayout({ content: 'for the openstack CLI\n' });
    const file = join(s.dir, 'image.tar');
    writeFileSync(file, l.tar);
    const created = (
      await alice([
        'image',
        'create',
        '--file',
        file,
        '--container-format',
        'docker',
        '--disk-format',
        'raw',
        '--private',
        '--tag',
        'web',
        'os-img',
        '-f',
        'json',
      ])
    ).json as J;
    assert.equal(created.name, 'os-img');
    const list = (await alice(['image', 'list', '-f', 'json'])).json as J[];
    assert.deepEqual(
      list.map((i) => [i.Name, i.Status]),
      [['os-img', 'active']],
    );
    const shown = (await alice(['image', 'show', 'os-img', '-f', 'json'])).json as J;
    assert.equal(shown.status, 'active');
    assert.equal(shown.visibility, 'private');
    assert.equal(shown.container_format, 'docker');
    assert.deepEqual(shown.tags, ['web']);
    assert.equal((shown.properties as J).oci_manifest_digest, l.manifestDigest);

    // Another project does not see a private image; an admin does.
    assert.deepEqual((await os('BOB')(['image', 'list', '-f', 'json'])).json, []);
    assert.notEqual((await os('BOB')(['image', 'show', String(shown.id)], true)).code, 0);
    assert.equal(((await os('ADMIN')(['image', 'show', String(shown.id), '-f', 'json'])).json as J).name, 'os-img');

    await alice(['image', 'set', '--name', 'os-img2', '--property', 'purpose=test', 'os-img']);
    const renamed = (await alice(['image', 'show', 'os-img2', '-f', 'json'])).json as J;
    assert.equal((renamed.properties as J).purpose, 'test');

    const saved = join(s.dir, 'saved.tar');
    await alice(['image', 'save', '--file', saved, 'os-img2']);
    assert.equal(md5(readFileSync(saved)), renamed.checksum);

    await alice(['image', 'delete', 'os-img2']);
    assert.deepEqual((await alice(['image', 'list', '-f', 'json'])).json, []);
    assert.deepEqual(repositoryFiles(s.dataDir), { blobs: [], tmp: [] });
  });

  it('a corrupt archive and a foreign format fail with the reason', async () => {
    const alice = os('ALICE');
    const file = join(s.dir, 'corrupt.tar');
    const bad = buildLayout({ corruptLayer: true });
    writeFileSync(file, bad.tar);
    const corrupt = await alice(
      ['image', 'create', '--file', file, '--container-format', 'docker', '--disk-format', 'raw', 'bad'],
      true,
    );
    assert.notEqual(corrupt.code, 0);
    assert.match(corrupt.stderr, new RegExp(bad.layerDigest));
    const qcow = await alice(['image', 'create', '--container-format', 'bare', '--disk-format', 'qcow2', 'q'], true);
    assert.notEqual(qcow.code, 0);
    assert.match(qcow.stderr, /OCI image layouts/);
    const publicByMember = await alice(['image', 'create', '--public', '--container-format', 'docker', 'p'], true);
    assert.notEqual(publicByMember.code, 0);
    assert.deepEqual(repositoryFiles(s.dataDir), { blobs: [], tmp: [] });
  });
});

describe('openstack image CLI, noauth', { skip: skipUnless(haveCli, 'openstack CLI not installed') }, () => {
  let s: ImageServer;
  before(async () => {
    s = await startImageServer({ noauth: true });
  });
  after(async () => s?.stop());

  it('finds the catalog by version discovery at /image', async () => {
    const file = join(s.dir, 'image.tar');
    writeFileSync(file, buildLayout().tar);
    const args = ['--os-auth-type', 'none', '--os-endpoint', `${s.url}/image`];
    const env = { ...process.env, OS_CLOUD: '', OS_AUTH_URL: '' };
    const run = (more: string[]) => realExec('openstack', [...args, ...more], { timeoutMs: 60_000, env });
    await run(['image', 'create', '--file', file, '--container-format', 'docker', '--disk-format', 'raw', 'n']);
    const list = JSON.parse((await run(['image', 'list', '-f', 'json'])).stdout) as J[];
    assert.deepEqual(
      list.map((i) => [i.Name, i.Status]),
      [['n', 'active']],
    );
  });
});
