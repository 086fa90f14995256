/**
 * `hypernet image push|list|show|pull|delete`, the real executable against a real server: a layout
 * directory made by umoci is packed on the fly (the catalog's checksum is the md5 of that canonical
 * archive, so pushing the same layout as a FILE gives the same checksum), an admin pulls it
 * through the repository with a single-use token, and a refused push leaves no image behind.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { skipUnless } from '../../testkit/preconditions.js';
import { buildLayout, haveUmoci, md5, umociLayout } from '../server/image-fixtures.js';
import { cliRunner, hypernet, startServer, type TestServer } from './server.js';

describe('hypernet image', { skip: skipUnless(haveUmoci, 'umoci not installed') }, () => {
  let srv: TestServer;
  let work: string;
  let env: Record<string, string>;
  before(async () => {
    srv = await startServer();
    work = mkdtempSync(join(tmpdir(), 'hn-ctl-img-'));
    env = { HYPERNET_URL: srv.url };
  });
  after(async () => {
    await srv?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });
  const run = () => cliRunner(() => env);

  it('push DIR, list, show, pull, delete', async () => {
    const { ok, json } = run();
    const layout = umociLayout(work);
    const pushed = await json(['image', 'push', layout, '--name', 'tiny', '--tag', 'v1']);
    assert.equal(pushed.status, 'active');
    assert.deepEqual(pushed.tags, ['v1']);
    assert.equal(
      pushed.oci_manifest_digest,
      JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')).manifests[0].digest,
    );
    const table = await ok(['image', 'list']);
    assert.match(table, /\| tiny +\| active +\| shared +\|/);
    assert.equal((await json(['image', 'show', 'tiny'])).id, pushed.id);

    const dest = join(work, 'pulled');
    const repo = `${srv.url}/repository`;
    const pulled = await ok(['image', 'pull', 'tiny', dest, '--address', '127.0.0.1', '--repository', repo]);
    assert.match(pulled, new RegExp(`pulled ${pushed.id}`));
    assert.ok(existsSync(join(dest, 'blobs', 'sha256', String(pushed.oci_manifest_digest).slice(7))));

    // The same layout as an archive file: the canonical archive, byte for byte.
    const file = join(work, 'served.tar');
    const download = await fetch(`${srv.url}/image/v2/images/${pushed.id}/file`);
    writeFileSync(file, Buffer.from(await download.arrayBuffer()));
    assert.equal(md5(readFileSync(file)), pushed.checksum);
    const again = await json(['image', 'push', file, '--name', 'tiny-file']);
    assert.equal(again.checksum, pushed.checksum);

    assert.equal((await ok(['image', 'delete', 'tiny', 'tiny-file'])).trim(), '');
    assert.deepEqual(await json(['image', 'list']), []);
  });

  it('a refused push exits 1 with the reason and leaves no image', async () => {
    const { json } = run();
    const bad = buildLayout({ corruptLayer: true });
    const file = join(work, 'bad.tar');
    writeFileSync(file, bad.tar);
    const r = await hypernet(['image', 'push', file, '--name', 'bad'], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`Error: .*${bad.layerDigest}`));
    assert.deepEqual(await json(['image', 'list']), []);
    const missing = await hypernet(['image', 'push', join(work, 'nope'), '--name', 'x'], env);
    assert.equal(missing.code, 2);
  });
});
