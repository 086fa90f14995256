/**
 * The agent's metadata signer over real Unix sockets (no root): a request from a known (network,
 * source) is forwarded below /metadata with a valid signature and without the agent's token; an
 * unknown source or a path that would leave the metadata trees is answered 404 and never forwarded.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../../../src/client/api.js';
import { silentLogger } from '../../../src/common/log.js';
import { MetadataSigner } from '../../../src/agent/metadata/signer.js';
import { verifiedIdentity } from '../../../src/model/metadata-signature.js';

const SECRET = 'signer-test-secret-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'hn-md-signer-'));
const seen: http.IncomingMessage[] = [];
const upstream = http.createServer((req, res) => {
  seen.push(req);
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"uuid":"vm-a"}');
});
const signer = new MetadataSigner({
  api: new ApiClient({ url: `unix:${join(dir, 'server.sock')}`, token: 'AGENT-ADMIN-TOKEN' }),
  secret: SECRET,
  socket: join(dir, 'metadata', 'agent.sock'),
  log: silentLogger(),
});
const ID = { instanceId: 'vm-a', tenantId: 'pa', portId: 'port-a' };

/** A request as the namespace proxy sends it. */
function viaProxy(path: string, source: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = { 'x-hypernet-network-id': 'net-1', 'x-forwarded-for': source };
    const req = http.request({ socketPath: join(dir, 'metadata', 'agent.sock'), path, headers }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  await new Promise<void>((r) => upstream.listen(join(dir, 'server.sock'), r));
  signer.update(new Map([['net-1', new Map([['10.0.0.5', ID]])]]));
  await signer.start();
});

after(async () => {
  await signer.close();
  await new Promise((r) => upstream.close(r));
  rmSync(dir, { recursive: true, force: true });
});

test('a known source is forwarded signed, below /metadata, without the agent token', async () => {
  seen.length = 0;
  const r = await viaProxy('/openstack/latest/meta_data.json', '10.0.0.5');
  assert.deepEqual(r, { status: 200, body: '{"uuid":"vm-a"}' });
  assert.equal(seen.length, 1);
  assert.equal(seen[0].url, '/metadata/openstack/latest/meta_data.json');
  assert.equal(seen[0].headers['x-auth-token'], undefined);
  assert.deepEqual(verifiedIdentity(SECRET, seen[0].headers), ID);
});

test('an unknown source, another network or an escaping path gets 404 and nothing is forwarded', async () => {
  seen.length = 0;
  assert.equal((await viaProxy('/openstack/latest/meta_data.json', '10.0.0.6')).status, 404);
  for (const path of ['/../v2.0/networks', '/openstack/../../v2.0/ports', '/%2e%2e/v2.0/networks'])
    assert.equal((await viaProxy(path, '10.0.0.5')).status, 404, path);
  // Not even a path: Node's HTTP parser refuses it (400) before the signer sees it.
  assert.equal((await viaProxy('v2.0', '10.0.0.5')).status, 400);
  assert.equal(seen.length, 0);
});
