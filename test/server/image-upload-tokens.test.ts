/**
 * Upload tokens (a HyperVM node's export, src/client/repository-push.ts): one upload into one queued
 * image from one address. Another address is refused without burning the token; the token cannot
 * pull; a second upload is refused; a corrupt export is refused and leaves the image queued. Real
 * server, real SQLite catalog, the repository on its own loopback listener.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PullError, pullImage } from '../../src/client/repository-pull.js';
import { pushExport } from '../../src/client/repository-push.js';
import { buildLayout, glanceCall, type ImageServer, manualClock, startImageServer } from './image-fixtures.js';

const ADMIN = { isAdmin: true, projectId: 'ops' };

describe('upload tokens for HyperVM exports', () => {
  let s: ImageServer;
  let work: string;
  const clock = manualClock();
  before(async () => {
    s = await startImageServer({ clock, images: { repositoryListen: { host: '127.0.0.1', port: 0 } } });
    work = mkdtempSync(join(tmpdir(), 'hn-upload-'));
  });
  after(async () => {
    await s?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** A queued image of ALICE and a layout directory to send into it. */
  async function queued(name: string, corruptLayer = false): Promise<{ id: string; dir: string }> {
    const r = await glanceCall(s, 'ALICE', 'POST', '/v2/images', {
      name,
      container_format: 'docker',
      disk_format: 'raw',
    });
    const id = (r.body as { id: string }).id;
    const dir = join(work, name);
    mkdirSync(dir);
    const tar = join(work, `${name}.tar`);
    writeFileSync(tar, buildLayout({ content: `${name}\n`, corruptLayer }).tar);
    execFileSync('tar', ['-C', dir, '-xf', tar]);
    return { id, dir };
  }
  const status = async (id: string) =>
    ((await glanceCall(s, 'ALICE', 'GET', `/v2/images/${id}`)).body as { status: string }).status;
  const push = (token: string, imageId: string, layoutDir: string, localAddress = '127.0.0.1') =>
    pushExport({ repositoryUrl: s.repositoryUrl, token, imageId, layoutDir, localAddress });

  it('one upload from the bound address; other addresses, pulls and a second upload are refused', async () => {
    const img = await queued('snap');
    const { token } = s.images.issueUploadToken(ADMIN, img.id, '127.0.0.1');
    await assert.rejects(push(token, img.id, img.dir, '127.0.0.2'), /403\): wrong_address/);
    const pulled = await pullImage({
      repositoryUrl: s.repositoryUrl,
      token,
      imageId: img.id,
      dest: join(work, 'pulled'),
      localAddress: '127.0.0.1',
    }).catch((e: unknown) => e);
    assert.ok(pulled instanceof PullError && pulled.reason === 'wrong_purpose', String(pulled));
    const progress: number[] = [];
    const sent = await pushExport({
      repositoryUrl: s.repositoryUrl,
      token,
      imageId: img.id,
      layoutDir: img.dir,
      localAddress: '127.0.0.1',
      onProgress: (n) => progress.push(n),
    });
    assert.equal(progress.at(-1), sent);
    assert.equal(await status(img.id), 'active');
    await assert.rejects(push(token, img.id, img.dir), /403\): already_used/);
    assert.throws(() => s.images.issueUploadToken(ADMIN, img.id, '127.0.0.1'), /not queued/);
    assert.ok(
      s.logs.some((l) => /repository upload refused/.test(l)),
      'refusals are logged',
    );
  });

  it('a corrupt export is refused, the image stays queued and the token is spent', async () => {
    const img = await queued('bad', true);
    const { token } = s.images.issueUploadToken(ADMIN, img.id, '127.0.0.1');
    await assert.rejects(push(token, img.id, img.dir), /400\): refused: Image data is not a valid OCI layout/);
    assert.equal(await status(img.id), 'queued');
    await assert.rejects(push(token, img.id, img.dir), /already_used/);
  });
});
