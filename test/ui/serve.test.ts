/** The /ui static handler on a real fastify server over real HTTP: types, index, escapes, not built. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { registerUi, uiFile } from '../../src/server/ui-static.js';

test('uiFile keeps requests inside the directory', () => {
  assert.equal(uiFile('/srv/ui', ''), '/srv/ui/index.html');
  assert.equal(uiFile('/srv/ui', 'assets/a.js'), '/srv/ui/assets/a.js');
  assert.equal(uiFile('/srv/ui', '../secret'), null);
  assert.equal(uiFile('/srv/ui', '%2e%2e/secret'), null);
});

test('serves index, assets with content types, 404 and 503 when not built', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hn-ui-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>hypernet</title>');
  writeFileSync(join(dir, 'assets', 'x.js'), 'console.log(1)');
  writeFileSync(join(dir, 'assets', 'x.css'), 'body{}');
  const app = Fastify({ routerOptions: { ignoreTrailingSlash: true } }); // as the server's app
  await registerUi(app, { dir });
  const empty = Fastify();
  await registerUi(empty, { dir: join(dir, 'nothing') });
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const base2 = await empty.listen({ port: 0, host: '127.0.0.1' });
  try {
    let r = await fetch(`${base}/ui`, { redirect: 'manual' });
    assert.equal(r.status, 302);
    assert.equal(r.headers.get('location'), '/ui/');
    r = await fetch(`${base}/ui/`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.match(await r.text(), /<title>hypernet/);
    r = await fetch(`${base}/ui/assets/x.js`);
    assert.equal(r.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.match(r.headers.get('cache-control') ?? '', /immutable/);
    r = await fetch(`${base}/ui/assets/x.css`);
    assert.equal(r.headers.get('content-type'), 'text/css; charset=utf-8');
    assert.equal((await fetch(`${base}/ui/nope.js`)).status, 404);
    assert.equal((await fetch(`${base}/ui/..%2f..%2fetc%2fpasswd`)).status, 404);
    r = await fetch(`${base2}/ui/`);
    assert.equal(r.status, 503);
    assert.match(await r.text(), /npm run build:ui/);
  } finally {
    await app.close();
    await empty.close();
  }
});
