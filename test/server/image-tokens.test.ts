/**
 * Single-use repository tokens and the puller, over real HTTP on the repository's own listener:
 * a pull succeeds once and writes a verified layout; reuse, another image, another source address
 * (127.0.0.2: all of 127/8 is loopback, nothing to configure) and an expired token (injected clock)
 * are each refused with the reason, logged without the token, and leave nothing on disk. Tokens
 * are stored hashed and survive a restart; a blob corrupted on the server's disk fails the pull.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PullError, pullImage } from '../../src/client/repository-pull.js';
import {
  buildLayout,
  glanceCall,
  haveUmoci,
  type ImageServer,
  manualClock,
  pushTar,
  sha256,
  startImageServer,
} from './image-fixtures.js';

async function issue(s: ImageServer, who: string, id: string, address: string, ttl?: number) {
  const r = await glanceCall(s, who, 'POST', `/v2/images/${id}/repository_tokens`, { address, ttl });
  return { status: r.status, token: (r.body as { repository_token?: { token: string } }).repository_token?.token };
}

async function refusal(p: Promise<unknown>): Promise<PullError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof PullError) return e;
    throw e;
  }
  throw new Error('the pull succeeded');
}

describe('repository tokens and the puller', () => {
  let s: ImageServer;
  let work: string;
  let imgA: string;
  let imgB: string;
  const clock = manualClock();
  const layout = buildLayout({ content: 'image A\n' });
  before(async () => {
    s = await startImageServer({ clock, images: { repositoryListen: { host: '127.0.0.1', port: 0 } } });
    work = mkdtempSync(join(tmpdir(), 'hn-pull-'));
    imgA = (await pushTar(s, 'ALICE', layout.tar, { name: 'a', visibility: 'private' })).id;
    imgB = (await pushTar(s, 'ALICE', buildLayout({ content: 'image B\n' }).tar, { name: 'b' })).id;
  });
  after(async () => {
    await s?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const pull = (token: string, imageId: string, dest: string, localAddress = '127.0.0.1') =>
    pullImage({ repositoryUrl: s.repositoryUrl, token, imageId, dest: join(work, dest), localAddress });
  const leftovers = () => readdirSync(work).filter((n) => n.startsWith('.pull-'));

  it('the repository has its own listener; the API port does not serve it', async () => {
    assert.notEqual(new URL(s.repositoryUrl).port, new URL(s.url).port);
    const res = await fetch(`${s.url}/repository/images/${imgA}/index.json`);
    assert.equal(res.status, 404);
  });

  it('only the owner or an admin issues a token, for an IP address', async () => {
    assert.equal((await issue(s, 'BOB', imgA, '127.0.0.1')).status, 404);
    assert.equal((await issue(s, 'ALICE', imgA, 'not-an-ip')).status, 400);
    assert.equal((await issue(s, 'ADMIN', imgA, '127.0.0.1')).status, 201);
  });

  it('a pull succeeds once and writes a verified OCI layout; the second pull is refused', async () => {
    const { token } = await issue(s, 'ALICE', imgA, '127.0.0.1');
    const progress: number[] = [];
    const r = await pullImage({
      repositoryUrl: s.repositoryUrl,
      token: token!,
      imageId: imgA,
      dest: join(work, 'first'),
      localAddress: '127.0.0.1',
      onProgress: (done) => progress.push(done),
    });
    assert.equal(r.manifest.digest, layout.manifestDigest);
    assert.ok(progress.length > 0);
    const blobs = readdirSync(join(work, 'first', 'blobs', 'sha256')).sort();
    assert.deepEqual(
      blobs,
      [layout.manifestDigest, layout.configDigest, layout.layerDigest].map((d) => d.slice(7)).sort(),
    );
    for (const b of blobs) assert.equal(sha256(readFileSync(join(work, 'first', 'blobs', 'sha256', b))), b);
    if (haveUmoci) execFileSync('umoci', ['stat', '--image', `${join(work, 'first')}:latest`]);

    const again = await refusal(pull(token!, imgA, 'second'));
    assert.equal(again.status, 403);
    assert.equal(again.reason, 'already_used');
    assert.equal(existsSync(join(work, 'second')), false);
    assert.deepEqual(leftovers(), []);
  });

  it('another image, another address, an expired token: refused, logged, nothing written', async () => {
    const { token } = await issue(s, 'ALICE', imgA, '127.0.0.1');
    const other = await refusal(pull(token!, imgB, 'other-image'));
    assert.equal(other.reason, 'wrong_image');
    assert.equal(other.status, 403);
    const elsewhere = await refusal(pull(token!, imgA, 'other-address', '127.0.0.2'));
    assert.equal(elsewhere.reason, 'wrong_address');
    assert.equal(elsewhere.status, 403);
    // Refused attempts do not burn it: the rightful pull still works.
    await pull(token!, imgA, 'rightful');

    const late = await issue(s, 'ALICE', imgA, '127.0.0.1');
    clock.advance(10 * 60 * 1000);
    const expired = await refusal(pull(late.token!, imgA, 'expired'));
    assert.equal(expired.reason, 'expired');
    assert.equal(expired.status, 401);
    const short = await issue(s, 'ALICE', imgA, '127.0.0.1', 5);
    clock.advance(5_000);
    assert.equal((await refusal(pull(short.token!, imgA, 'short'))).reason, 'expired');
    assert.equal((await issue(s, 'ALICE', imgA, '127.0.0.1', 601)).status, 400);

    for (const d of ['other-image', 'other-address', 'expired', 'short'])
      assert.equal(existsSync(join(work, d)), false);
    assert.deepEqual(leftovers(), []);
    const refusals = s.logs.filter((l) => l.includes('repository pull refused'));
    for (const reason of ['wrong_image', 'wrong_address', 'expired'])
      assert.ok(
        refusals.some((l) => JSON.parse(l).reason === reason),
        reason,
      );
    for (const t of [token!, late.token!, short.token!])
      assert.ok(!s.logs.some((l) => l.includes(t)), 'a token appears in clear in the log');
  });

  it('each read is checked: no token, blob before index.json, a blob of another image', async () => {
    const base = `${s.repositoryUrl}/images/${imgA}`;
    const noToken = await fetch(`${base}/index.json`);
    assert.equal(noToken.status, 401);
    assert.equal(((await noToken.json()) as { error: { reason: string } }).error.reason, 'missing_token');
    const { token } = await issue(s, 'ALICE', imgA, '127.0.0.1');
    const auth = { authorization: `Bearer ${token}` };
    const early = await fetch(`${base}/blobs/sha256/${layout.layerDigest.slice(7)}`, { headers: auth });
    assert.equal(((await early.json()) as { error: { reason: string } }).error.reason, 'pull_not_started');
    assert.equal((await fetch(`${base}/index.json`, { headers: auth })).status, 200);
    const foreign = buildLayout({ content: 'image B\n' }).layerDigest.slice(7);
    const wrong = await fetch(`${base}/blobs/sha256/${foreign}`, { headers: auth });
    assert.equal(((await wrong.json()) as { error: { reason: string } }).error.reason, 'not_in_image');
    const layer = await fetch(`${base}/blobs/sha256/${layout.layerDigest.slice(7)}`, { headers: auth });
    assert.equal(layer.status, 200);
    assert.equal(sha256(Buffer.from(await layer.arrayBuffer())), layout.layerDigest.slice(7));
    const twice = await fetch(`${base}/blobs/sha256/${layout.layerDigest.slice(7)}`, { headers: auth });
    assert.equal(((await twice.json()) as { error: { reason: string } }).error.reason, 'blob_already_served');
  });

  it('a blob corrupted on the server is refused by the puller, which leaves nothing', async () => {
    const c = buildLayout({ content: 'to be corrupted\n' });
    const { id } = await pushTar(s, 'ALICE', c.tar, { name: 'c' });
    const file = join(s.dataDir, 'images', 'blobs', 'sha256', c.layerDigest.slice(7));
    const bytes = readFileSync(file);
    writeFileSync(file, Buffer.from(bytes).fill(0x42, 0, 16));
    const { token } = await issue(s, 'ALICE', id, '127.0.0.1');
    const e = await refusal(pull(token!, id, 'corrupt'));
    assert.equal(e.reason, 'verification_failed');
    assert.match(e.message, new RegExp(`${c.layerDigest}.*digest mismatch`));
    assert.equal(existsSync(join(work, 'corrupt')), false);
    assert.deepEqual(leftovers(), []);
  });
});

describe('repository tokens across a restart', () => {
  it('are stored hashed and still work after the server restarts', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hn-img-restart-'));
    const work = mkdtempSync(join(tmpdir(), 'hn-pull-'));
    let s = await startImageServer({ dataDir });
    try {
      const { id } = await pushTar(s, 'ALICE', buildLayout().tar);
      const { token } = await issue(s, 'ALICE', id, '127.0.0.1');
      await s.close();
      rmSync(s.dir, { recursive: true, force: true });
      const dbFiles = readdirSync(join(dataDir, 'images')).filter((n) => n.startsWith('catalog.db'));
      const db = Buffer.concat(dbFiles.map((n) => readFileSync(join(dataDir, 'images', n))));
      assert.equal(db.includes(Buffer.from(token!)), false, 'the token is stored in clear');
      assert.ok(db.includes(Buffer.from(sha256(token!))), 'the token hash is stored');
      s = await startImageServer({ dataDir });
      await pullImage({ repositoryUrl: s.repositoryUrl, token: token!, imageId: id, dest: join(work, 'after') });
      assert.ok(existsSync(join(work, 'after', 'index.json')));
      const reuse = await refusal(
        pullImage({ repositoryUrl: s.repositoryUrl, token: token!, imageId: id, dest: join(work, 'again') }),
      );
      assert.equal(reuse.reason, 'already_used');
    } finally {
      await s.stop();
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    }
  });
});
