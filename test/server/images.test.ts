/**
 * The image catalog over real HTTP with real files: push (create + upload) of a layout built by
 * umoci and of one assembled here, show/list/download/delete, blobs stored once per content, and
 * every kind of bad upload refused with nothing left on disk and the image back to `queued`.
 * Tenancy as Glance has it: another project's private image is 404, public needs an admin.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { skipUnless } from '../../testkit/preconditions.js';
import {
  buildLayout,
  glanceCall,
  haveUmoci,
  type ImageServer,
  md5,
  pushTar,
  repositoryFiles,
  sha256,
  startImageServer,
  tarDir,
  umociLayout,
} from './image-fixtures.js';

type Img = Record<string, unknown> & { id: string; status: string };

describe('image catalog: push, show, list, download, delete', () => {
  let s: ImageServer;
  before(async () => {
    s = await startImageServer();
  });
  after(async () => s?.stop());

  it('stores a umoci-built layout: active, digests recorded, blobs content-addressed', {
    skip: skipUnless(haveUmoci, 'umoci not installed'),
  }, async () => {
    const layout = umociLayout(s.dir);
    const { id, upload } = await pushTar(s, 'ALICE', tarDir(layout), { name: 'umoci-img' });
    assert.equal(upload.status, 204, upload.raw.toString());
    const img = (await glanceCall(s, 'ALICE', 'GET', `/v2/images/${id}`)).body as Img;
    assert.equal(img.status, 'active');
    assert.equal(img.owner, 'pa');
    assert.equal(img.os_hash_algo, 'sha512');
    const index = JSON.parse(readFileSync(`${layout}/index.json`, 'utf8'));
    assert.equal(img.oci_manifest_digest, index.manifests[0].digest);
    const blobs = repositoryFiles(s.dataDir).blobs;
    assert.ok(blobs.includes(String(img.oci_manifest_digest).slice(7)));
    // What download serves is what the checksum and size describe, and a valid layout again.
    const file = await glanceCall(s, 'ALICE', 'GET', `/v2/images/${id}/file`);
    assert.equal(file.status, 200);
    assert.equal(md5(file.raw), img.checksum);
    assert.equal(file.raw.length, img.size);
    assert.equal((await glanceCall(s, 'ALICE', 'DELETE', `/v2/images/${id}`)).status, 204);
    assert.deepEqual(repositoryFiles(s.dataDir), { blobs: [], tmp: [] });
  });

  it('create, show, list, patch, tags, delete in Glance wire format', async () => {
    const l = buildLayout();
    const { id, upload } = await pushTar(s, 'ALICE', l.tar, { name: 'web', tags: ['v1'], min_ram: 64, os: 'linux' });
    assert.equal(upload.status, 204);
    const img = (await glanceCall(s, 'ALICE', 'GET', `/v2/images/${id}`)).body as Img;
    assert.equal(img.oci_manifest_digest, l.manifestDigest);
    assert.equal(img.self, `/v2/images/${id}`);
    assert.equal(img.file, `/v2/images/${id}/file`);
    assert.equal(img.schema, '/v2/schemas/image');
    assert.equal(img.os, 'linux');
    assert.equal(img.visibility, 'shared');
    assert.deepEqual(img.tags, ['v1']);
    assert.equal(img.min_ram, 64);
    const patched = await glanceCall(
      s,
      'ALICE',
      'PATCH',
      `/v2/images/${id}`,
      [
        { op: 'replace', path: '/name', value: 'web2' },
        { op: 'add', path: '/protected', value: true },
        { op: 'remove', path: '/os' },
      ],
      'application/openstack-images-v2.1-json-patch',
    );
    assert.equal(patched.status, 200, patched.raw.toString());
    assert.equal((patched.body as Img).name, 'web2');
    assert.equal((patched.body as Img).os, undefined);
    const ro = await glanceCall(
      s,
      'ALICE',
      'PATCH',
      `/v2/images/${id}`,
      [{ op: 'replace', path: '/status', value: 'active' }],
      'application/openstack-images-v2.1-json-patch',
    );
    assert.equal(ro.status, 403);
    assert.match((ro.body as { message: string }).message, /read-only/);
    assert.equal((await glanceCall(s, 'ALICE', 'PUT', `/v2/images/${id}/tags/blue`)).status, 204);
    assert.equal((await glanceCall(s, 'ALICE', 'DELETE', `/v2/images/${id}/tags/v1`)).status, 204);
    assert.deepEqual(((await glanceCall(s, 'ALICE', 'GET', `/v2/images/${id}`)).body as Img).tags, ['blue']);
    // Protected: refused with Glance's error body; unprotected: gone.
    const refused = await glanceCall(s, 'ALICE', 'DELETE', `/v2/images/${id}`);
    assert.equal(refused.status, 403);
    assert.deepEqual(Object.keys(refused.body as object).sort(), ['code', 'message', 'title']);
    assert.equal((refused.body as { code: string }).code, '403 Forbidden');
    await glanceCall(
      s,
      'ALICE',
      'PATCH',
      `/v2/images/${id}`,
      [{ op: 'replace', path: '/protected', value: false }],
      'application/openstack-images-v2.1-json-patch',
    );
    assert.equal((await glanceCall(s, 'ALICE', 'DELETE', `/v2/images/${id}`)).status, 204);
    assert.equal((await glanceCall(s, 'ALICE', 'GET', `/v2/images/${id}`)).status, 404);
    assert.deepEqual(repositoryFiles(s.dataDir), { blobs: [], tmp: [] });
  });

  it('a second upload is 409; an upload before the formats are set is 400', async () => {
    const { id, upload } = await pushTar(s, 'ALICE', buildLayout().tar);
    assert.equal(upload.status, 204);
    const again = await glanceCall(
      s,
      'ALICE',
      'PUT',
      `/v2/images/${id}/file`,
      buildLayout().tar,
      'application/octet-stream',
    );
    assert.equal(again.status, 409);
    const bare = await glanceCall(s, 'ALICE', 'POST', '/v2/images', { name: 'noformat' });
    const put = await glanceCall(
      s,
      'ALICE',
      'PUT',
      `/v2/images/${(bare.body as Img).id}/file`,
      buildLayout().tar,
      'application/octet-stream',
    );
    assert.equal(put.status, 400);
    const qcow = await glanceCall(s, 'ALICE', 'POST', '/v2/images', { disk_format: 'qcow2', container_format: 'bare' });
    assert.equal(qcow.status, 400);
    assert.match((qcow.body as { message: string }).message, /OCI image layouts/);
    for (const i of [id, (bare.body as Img).id]) await glanceCall(s, 'ALICE', 'DELETE', `/v2/images/${i}`);
  });

  it('blobs are kept once per content and deleted with the last image holding them', async () => {
    const l = buildLayout({ content: 'shared content\n' });
    const a = await pushTar(s, 'ALICE', l.tar);
    const b = await pushTar(s, 'BOB', l.tar);
    assert.equal(a.upload.status, 204);
    assert.equal(b.upload.status, 204);
    const hexes = [l.manifestDigest, l.configDigest, l.layerDigest].map((d) => d.slice(7));
    const stored = repositoryFiles(s.dataDir).blobs;
    for (const h of hexes) assert.equal(stored.filter((x) => x === h).length, 1);
    await glanceCall(s, 'ALICE', 'DELETE', `/v2/images/${a.id}`);
    for (const h of hexes) assert.ok(repositoryFiles(s.dataDir).blobs.includes(h), 'still held by the other image');
    await glanceCall(s, 'BOB', 'DELETE', `/v2/images/${b.id}`);
    assert.deepEqual(repositoryFiles(s.dataDir), { blobs: [], tmp: [] });
  });

  it('list: filters, sort, limit/marker with a next link', async () => {
    const ids: string[] = [];
    for (const name of ['c', 'a', 'b']) {
      const r = await glanceCall(s, 'BOB', 'POST', '/v2/images', { name, tags: name === 'a' ? ['x'] : [] });
      ids.push((r.body as Img).id);
    }
    const sorted = (await glanceCall(s, 'BOB', 'GET', '/v2/images?sort=name:asc')).body as { images: Img[] };
    assert.deepEqual(
      sorted.images.map((i) => i.name),
      ['a', 'b', 'c'],
    );
    const first = (await glanceCall(s, 'BOB', 'GET', '/v2/images?sort_key=name&sort_dir=asc&limit=2')).body as {
      images: Img[];
      next: string;
    };
    assert.deepEqual(
      first.images.map((i) => i.name),
      ['a', 'b'],
    );
    assert.match(first.next, /^\/v2\/images\?.*marker=/);
    const second = (await glanceCall(s, 'BOB', 'GET', first.next)).body as { images: Img[]; next?: string };
    assert.deepEqual(
      second.images.map((i) => i.name),
      ['c'],
    );
    assert.equal(second.next, undefined);
    const tagged = (await glanceCall(s, 'BOB', 'GET', '/v2/images?tag=x')).body as { images: Img[] };
    assert.deepEqual(
      tagged.images.map((i) => i.name),
      ['a'],
    );
    const named = (await glanceCall(s, 'BOB', 'GET', '/v2/images?name=b&status=queued')).body as { images: Img[] };
    assert.deepEqual(
      named.images.map((i) => i.name),
      ['b'],
    );
    assert.equal((await glanceCall(s, 'BOB', 'GET', '/v2/images?sort_key=bogus')).status, 400);
    for (const id of ids) await glanceCall(s, 'BOB', 'DELETE', `/v2/images/${id}`);
  });
});

describe('image upload: bad archives are refused and leave nothing', () => {
  let s: ImageServer;
  before(async () => {
    s = await startImageServer({ images: { sizeCap: 64 * 1024 } });
  });
  after(async () => s?.stop());

  const cases: { name: string; tar: () => Buffer; status: number; message: RegExp }[] = [
    {
      name: 'corrupt blob',
      tar: () => buildLayout({ corruptLayer: true }).tar,
      status: 400,
      message: new RegExp(buildLayout().layerDigest),
    },
    {
      name: 'wrong size in a descriptor',
      tar: () => buildLayout({ wrongLayerSize: true }).tar,
      status: 400,
      message: /descriptor says \d+ bytes/,
    },
    {
      name: 'missing manifest',
      tar: () => buildLayout({ missingManifest: true }).tar,
      status: 400,
      message: /manifest sha256:[0-9a-f]{64} is missing/,
    },
    {
      name: 'path traversal',
      tar: () => buildLayout({ extra: [{ path: '../../etc/evil', data: Buffer.from('x') }] }).tar,
      status: 400,
      message: /\.\./,
    },
    {
      name: 'absolute path',
      tar: () => buildLayout({ extra: [{ path: '/etc/evil', data: Buffer.from('x') }] }).tar,
      status: 400,
      message: /absolute path/,
    },
    {
      name: 'symlink',
      tar: () =>
        buildLayout({ extra: [{ path: 'blobs/sha256/link', type: 'SymbolicLink', linkpath: '/etc/passwd' }] }).tar,
      status: 400,
      message: /SymbolicLink refused/,
    },
    {
      name: 'device',
      tar: () => buildLayout({ extra: [{ path: 'blobs/sha256/dev', type: 'CharacterDevice' }] }).tar,
      status: 400,
      message: /CharacterDevice refused/,
    },
    {
      name: 'not a tar at all',
      tar: () => Buffer.from('this is not an archive'.repeat(40)),
      status: 400,
      message: /not a valid tar/,
    },
    {
      name: 'larger than image_size_cap',
      tar: () => buildLayout({ extra: [{ path: 'blobs/sha256/big', data: Buffer.alloc(100 * 1024) }] }).tar,
      status: 413,
      message: /exceeds 65536 bytes/,
    },
  ];

  for (const c of cases) {
    it(`${c.name}: ${c.status}, image queued again, no blob, no temp file`, async () => {
      const { id, upload } = await pushTar(s, 'ALICE', c.tar());
      assert.equal(upload.status, c.status, upload.raw.toString());
      assert.match((upload.body as { message: string }).message, c.message);
      const img = (await glanceCall(s, 'ALICE', 'GET', `/v2/images/${id}`)).body as Img;
      assert.equal(img.status, 'queued');
      assert.equal(img.checksum, null);
      assert.deepEqual(repositoryFiles(s.dataDir), { blobs: [], tmp: [] });
      // The image takes a good upload afterwards.
      const good = await glanceCall(
        s,
        'ALICE',
        'PUT',
        `/v2/images/${id}/file`,
        buildLayout().tar,
        'application/octet-stream',
      );
      assert.equal(good.status, 204);
      await glanceCall(s, 'ALICE', 'DELETE', `/v2/images/${id}`);
      assert.deepEqual(repositoryFiles(s.dataDir), { blobs: [], tmp: [] });
    });
  }

  it('an upload the client abandons half-way leaves nothing and the image queued', async () => {
    const created = await glanceCall(s, 'ALICE', 'POST', '/v2/images', {
      container_format: 'docker',
      disk_format: 'raw',
    });
    const id = (created.body as Img).id;
    const tar = buildLayout({ extra: [{ path: 'blobs/sha256/pad', data: Buffer.alloc(40 * 1024) }] }).tar;
    const u = new URL(`${s.url}/image/v2/images/${id}/file`);
    await new Promise<void>((resolve) => {
      const req = request({
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'PUT',
        headers: { 'x-auth-token': 'ALICE', 'content-type': 'application/octet-stream', 'content-length': tar.length },
      });
      req.on('error', () => resolve());
      req.write(tar.subarray(0, 20 * 1024), () => setTimeout(() => req.destroy(), 200));
    });
    let img = (await glanceCall(s, 'ALICE', 'GET', `/v2/images/${id}`)).body as Img;
    for (let i = 0; i < 50 && img.status !== 'queued'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      img = (await glanceCall(s, 'ALICE', 'GET', `/v2/images/${id}`)).body as Img;
    }
    assert.equal(img.status, 'queued');
    assert.deepEqual(repositoryFiles(s.dataDir), { blobs: [], tmp: [] });
    await glanceCall(s, 'ALICE', 'DELETE', `/v2/images/${id}`);
  });

  it('the stored blob bytes are the pushed ones', async () => {
    const l = buildLayout();
    const { id } = await pushTar(s, 'ALICE', l.tar);
    const layer = l.entries.find((e) => e.path === `blobs/sha256/${l.layerDigest.slice(7)}`)!.data!;
    const stored = readFileSync(`${s.dataDir}/images/blobs/sha256/${l.layerDigest.slice(7)}`);
    assert.equal(sha256(stored), sha256(layer));
    await glanceCall(s, 'ALICE', 'DELETE', `/v2/images/${id}`);
  });
});

describe('image tenancy (token auth)', () => {
  let s: ImageServer;
  before(async () => {
    s = await startImageServer();
  });
  after(async () => s?.stop());

  it("another project's private image is 404, public is visible, public create needs an admin", async () => {
    const priv = await pushTar(s, 'ALICE', buildLayout().tar, { name: 'alice-private', visibility: 'private' });
    assert.equal((await glanceCall(s, 'BOB', 'GET', `/v2/images/${priv.id}`)).status, 404);
    assert.equal((await glanceCall(s, 'BOB', 'GET', `/v2/images/${priv.id}/file`)).status, 404);
    assert.equal((await glanceCall(s, 'BOB', 'DELETE', `/v2/images/${priv.id}`)).status, 404);
    const bobList = (await glanceCall(s, 'BOB', 'GET', '/v2/images')).body as { images: Img[] };
    assert.ok(!bobList.images.some((i) => i.id === priv.id));
    assert.equal((await glanceCall(s, 'ADMIN', 'GET', `/v2/images/${priv.id}`)).status, 200);

    const pub = await glanceCall(s, 'ALICE', 'POST', '/v2/images', { name: 'p', visibility: 'public' });
    assert.equal(pub.status, 403);
    const mkPublic = await glanceCall(
      s,
      'ALICE',
      'PATCH',
      `/v2/images/${priv.id}`,
      [{ op: 'replace', path: '/visibility', value: 'public' }],
      'application/openstack-images-v2.1-json-patch',
    );
    assert.equal(mkPublic.status, 403);
    const adminPub = await pushTar(s, 'ADMIN', buildLayout().tar, { name: 'base', visibility: 'public' });
    assert.equal(adminPub.upload.status, 204);
    const seen = (await glanceCall(s, 'BOB', 'GET', '/v2/images')).body as { images: Img[] };
    assert.ok(seen.images.some((i) => i.id === adminPub.id));
    assert.equal((await glanceCall(s, 'BOB', 'GET', `/v2/images/${adminPub.id}`)).status, 200);
    // Visible but not Bob's: he may not change, delete or download it.
    assert.equal((await glanceCall(s, 'BOB', 'DELETE', `/v2/images/${adminPub.id}`)).status, 403);
    assert.equal((await glanceCall(s, 'BOB', 'GET', `/v2/images/${adminPub.id}/file`)).status, 403);
    assert.equal((await glanceCall(s, undefined, 'GET', '/v2/images')).status, 401);
  });

  it('a shared image is visible to a member once added, listed once accepted', async () => {
    const img = await pushTar(s, 'ALICE', buildLayout().tar, { name: 'shared', visibility: 'shared' });
    assert.equal((await glanceCall(s, 'BOB', 'GET', `/v2/images/${img.id}`)).status, 404);
    const add = await glanceCall(s, 'ALICE', 'POST', `/v2/images/${img.id}/members`, { member: 'pb' });
    assert.equal(add.status, 200);
    assert.equal((add.body as { status: string }).status, 'pending');
    assert.equal((await glanceCall(s, 'BOB', 'GET', `/v2/images/${img.id}`)).status, 200);
    const listed = () =>
      glanceCall(s, 'BOB', 'GET', '/v2/images').then((r) => (r.body as { images: Img[] }).images.map((i) => i.id));
    assert.ok(!(await listed()).includes(img.id));
    assert.equal(
      (await glanceCall(s, 'BOB', 'PUT', `/v2/images/${img.id}/members/pb`, { status: 'accepted' })).status,
      200,
    );
    assert.ok((await listed()).includes(img.id));
    assert.equal((await glanceCall(s, 'ALICE', 'DELETE', `/v2/images/${img.id}/members/pb`)).status, 204);
    assert.equal((await glanceCall(s, 'BOB', 'GET', `/v2/images/${img.id}`)).status, 404);
  });
});

describe('image upload interrupted by a server crash', () => {
  it('the next start puts the image back to queued and removes the staged files', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hn-img-crash-'));
    let s = await startImageServer({ dataDir });
    try {
      const created = await glanceCall(s, 'ALICE', 'POST', '/v2/images', {
        container_format: 'docker',
        disk_format: 'raw',
      });
      const id = (created.body as Img).id;
      // What a crash mid-upload leaves: the image saving, a staged blob.
      assert.ok(s.images.catalog.transition(id, 'queued', { status: 'saving' }));
      mkdirSync(join(dataDir, 'images', 'tmp', 'up-crashed'));
      writeFileSync(join(dataDir, 'images', 'tmp', 'up-crashed', 'a'.repeat(64)), 'partial');
      await s.close();
      rmSync(s.dir, { recursive: true, force: true });
      s = await startImageServer({ dataDir });
      assert.equal(((await glanceCall(s, 'ALICE', 'GET', `/v2/images/${id}`)).body as Img).status, 'queued');
      assert.deepEqual(repositoryFiles(dataDir), { blobs: [], tmp: [] });
      const upload = await glanceCall(
        s,
        'ALICE',
        'PUT',
        `/v2/images/${id}/file`,
        buildLayout().tar,
        'application/octet-stream',
      );
      assert.equal(upload.status, 204);
    } finally {
      await s.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('image storage quota (user_storage_quota)', () => {
  let s: ImageServer;
  before(async () => {
    s = await startImageServer({ images: { storageQuota: 16 * 1024 } });
  });
  after(async () => s?.stop());

  it("a project's active images stay within its quota; other projects are not affected", async () => {
    const first = await pushTar(s, 'ALICE', buildLayout({ content: 'one\n' }).tar);
    assert.equal(first.upload.status, 204);
    const used = ((await glanceCall(s, 'ALICE', 'GET', `/v2/images/${first.id}`)).body as Img).size as number;
    assert.ok(used > 0 && used < 16 * 1024);
    const big = buildLayout({ content: 'two\n'.repeat(4096) });
    const over = await pushTar(s, 'ALICE', big.tar);
    assert.equal(over.upload.status, 413);
    assert.match((over.upload.body as { message: string }).message, /storage quota/);
    assert.equal(((await glanceCall(s, 'ALICE', 'GET', `/v2/images/${over.id}`)).body as Img).status, 'queued');
    assert.equal((await pushTar(s, 'BOB', buildLayout({ content: 'bob\n' }).tar)).upload.status, 204);
    await glanceCall(s, 'ALICE', 'DELETE', `/v2/images/${first.id}`);
    const retry = await glanceCall(
      s,
      'ALICE',
      'PUT',
      `/v2/images/${over.id}/file`,
      buildLayout().tar,
      'application/octet-stream',
    );
    assert.equal(retry.status, 204);
  });
});
