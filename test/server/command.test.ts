/**
 * `hypernet server` as an operator starts it: noauth (everyone an admin) is refused on an address
 * other than loopback unless the operator says `--insecure-noauth` or uses token auth.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authProblem, isLoopbackHost } from '../../src/server/command.js';

const BIN = new URL('../../../bin/hypernet.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'hn-server-cmd-'));

/** Starts the server and resolves with its first stdout line (it is listening), then stops it. */
function startsListening(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'server', '--port', '0', '--data-dir', join(dir, 'data'), ...args]);
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGTERM'), 15_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) child.kill('SIGTERM');
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('exit', () => {
      clearTimeout(timer);
      if (out.includes('listening')) resolve(out.trim());
      else reject(new Error(`server did not start: ${err}`));
    });
  });
}

describe('hypernet server flags', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('knows loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) assert.ok(isLoopbackHost(h), h);
    for (const h of ['0.0.0.0', '::', '192.0.2.1', '127.0.0.1.example', 'localhost.', '']) {
      assert.ok(!isLoopbackHost(h), h);
    }
    assert.equal(authProblem({ auth: 'token', host: '0.0.0.0' }), undefined);
    assert.equal(authProblem({ auth: 'noauth', host: '0.0.0.0', insecureNoauth: true }), undefined);
    assert.match(authProblem({ auth: 'noauth', host: '0.0.0.0' }) ?? '', /--auth token/);
  });

  it('refuses noauth on a non-loopback address, naming the way out', () => {
    const r = spawnSync(process.execPath, [BIN, 'server', '--host', '0.0.0.0', '--port', '0', '--data-dir', dir], {
      encoding: 'utf8',
      timeout: 15_000,
    });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /--auth noauth makes every caller on 0\.0\.0\.0 an admin/);
    assert.match(r.stderr, /--insecure-noauth/);
  });

  it('starts on loopback with noauth (a wider address is not opened by a test)', async () => {
    assert.match(await startsListening(['--host', '127.0.0.1']), /listening on http:\/\/127\.0\.0\.1:/);
  });
});
