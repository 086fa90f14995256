/**
 * The pure parts of the image repository: OCI layout checks (what a push or a pull refuses and
 * why), the canonical archive (same layout, same bytes; size known ahead), Glance's list query and
 * JSON patch, and the transfer progress line.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { archiveChunks, archiveSize } from '../../src/common/oci-archive.js';
import { LayoutError, parseIndex, parseManifest } from '../../src/model/oci.js';
import { transferLine } from '../../src/ctl/transfer-progress.js';
import { loadConfig } from '../../src/server/config.js';
import type { ImageRecord } from '../../src/server/images/catalog.js';
import { GlanceFault } from '../../src/server/images/glance-errors.js';
import { applyPatch, parseCreate, parseListQuery, parsePatch } from '../../src/server/images/glance-wire.js';

const D = (c: string) => `sha256:${c.repeat(64)}`;
const manifestDesc = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D('a'), size: 10 };
const json = (v: unknown) => Buffer.from(JSON.stringify(v));

test('index.json: one image manifest; several, none, or an index of indexes are refused', () => {
  assert.deepEqual(parseIndex(json({ schemaVersion: 2, manifests: [manifestDesc] })), manifestDesc);
  assert.throws(() => parseIndex(json({ schemaVersion: 2, manifests: [manifestDesc, manifestDesc] })), /one image/);
  assert.throws(() => parseIndex(json({ schemaVersion: 2, manifests: [] })), /missing manifest/);
  const nested = { ...manifestDesc, mediaType: 'application/vnd.oci.image.index.v1+json' };
  assert.throws(() => parseIndex(json({ schemaVersion: 2, manifests: [nested] })), LayoutError);
  assert.throws(
    () => parseIndex(json({ schemaVersion: 2, manifests: [{ ...manifestDesc, digest: 'md5:x' }] })),
    /sha256/,
  );
  assert.throws(() => parseIndex(Buffer.from('{not json')), /not valid JSON/);
});

test('manifest: OCI config and layer media types only, the failing digest named', () => {
  const config = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: D('b'), size: 2 };
  const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: D('c'), size: 3 };
  const g = parseManifest(json({ schemaVersion: 2, config, layers: [layer] }), manifestDesc);
  assert.deepEqual(g.layers, [layer]);
  const docker = { ...layer, mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip' };
  assert.throws(
    () => parseManifest(json({ schemaVersion: 2, config, layers: [docker] }), manifestDesc),
    (e: LayoutError) => e.digest === D('c') && /unsupported mediaType/.test(e.message),
  );
});

test('canonical archive: same layout, same bytes, size known before writing', async () => {
  const blob = Buffer.from('layer bytes');
  const hex = createHash('sha256').update(blob).digest('hex');
  const layout = () => ({
    layoutMarker: Buffer.from('{"imageLayoutVersion":"1.0.0"}'),
    index: Buffer.from('{}'),
    blobs: [{ hex, size: blob.length, open: () => Readable.from([blob]) }],
  });
  const bytes = async () => {
    const parts: Buffer[] = [];
    for await (const c of archiveChunks(layout())) parts.push(c);
    return Buffer.concat(parts);
  };
  const a = await bytes();
  assert.deepEqual(a, await bytes());
  assert.equal(a.length, archiveSize(layout()));
  assert.equal(a.length % 512, 0);
  const short = { ...layout(), blobs: [{ hex, size: blob.length + 1, open: () => Readable.from([blob]) }] };
  await assert.rejects(async () => {
    for await (const _ of archiveChunks(short));
  }, /expected/);
});

test('Glance create body: read-only and reserved attributes, formats, properties', () => {
  const f = parseCreate({ name: 'x', container_format: 'docker', disk_format: 'raw', os: 'linux' });
  assert.deepEqual(f.properties, { os: 'linux' });
  assert.equal(f.visibility, 'shared');
  assert.throws(
    () => parseCreate({ status: 'active' }),
    (e: GlanceFault) => e.status === 403,
  );
  assert.throws(
    () => parseCreate({ location: 'x' }),
    (e: GlanceFault) => e.status === 403,
  );
  assert.throws(
    () => parseCreate({ disk_format: 'qcow2' }),
    (e: GlanceFault) => e.status === 400,
  );
  assert.throws(
    () => parseCreate({ os: 5 }),
    (e: GlanceFault) => e.status === 400,
  );
  assert.throws(
    () => parseCreate({ visibility: 'everyone' }),
    (e: GlanceFault) => e.status === 400,
  );
});

test('Glance JSON patch and list query', () => {
  const img = { status: 'active', properties: { a: '1' }, tags: [] } as unknown as ImageRecord;
  const next = applyPatch(
    img,
    parsePatch([
      { op: 'add', path: '/b', value: '2' },
      { op: 'remove', path: '/a' },
    ]),
  );
  assert.deepEqual(next.properties, { b: '2' });
  assert.throws(
    () => applyPatch(img, parsePatch([{ op: 'remove', path: '/zz' }])),
    (e: GlanceFault) => e.status === 409,
  );
  assert.throws(
    () => parsePatch([{ op: 'replace', path: '/checksum', value: 'x' }]),
    (e: GlanceFault) => e.status === 403,
  );
  assert.throws(() => applyPatch(img, parsePatch([{ op: 'replace', path: '/disk_format', value: 'raw' }])), /queued/);
  const q = parseListQuery('sort=name:asc,size&limit=5000&tag=a&tag=b');
  assert.deepEqual(q.sort, [
    { key: 'name', dir: 'asc' },
    { key: 'size', dir: 'desc' },
  ]);
  assert.equal(q.limit, 1000);
  assert.deepEqual(q.filters, [['tag', ['a', 'b']]]);
  assert.throws(() => parseListQuery('limit=-1'), GlanceFault);
});

test('transfer progress line', () => {
  assert.equal(transferLine(512 * 1024, 1024 * 1024, 'pushing x'), '[##########          ] 0.5/1.0 MiB pushing x');
  assert.equal(transferLine(3 * 1024 * 1024, undefined, 'pulling'), '3.0 MiB pulling');
});

test('config: the image keys, and a bad repository_listen named in the error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hn-img-cfg-'));
  try {
    const file = join(dir, 'c.yaml');
    writeFileSync(
      file,
      'image_size_cap: 1048576\nrepository_token_ttl: 60\nrepository_listen: "198.51.100.1:9393"\nuser_storage_quota: 5\n',
    );
    const c = loadConfig(file).images;
    assert.deepEqual(
      [c.sizeCap, c.tokenTtlMs, c.repositoryListen, c.storageQuota],
      [1048576, 60_000, { host: '198.51.100.1', port: 9393 }, 5],
    );
    writeFileSync(file, 'repository_listen: "provider-net:80"\n');
    assert.throws(() => loadConfig(file), /repository_listen/);
    assert.equal(loadConfig().images.repositoryListen, undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
