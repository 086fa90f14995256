/**
 * The encrypted overlay at the API (real server, real SQLite): the server's `encryption` default
 * from its config file, a network's `hypernet:encryption` override (admin only, validated) and the
 * presented `hypernet:encryption_effective` (also on the watch stream), and an agent's WireGuard
 * public key (44-character base64 of 32 bytes, nothing else) and its quietly kept status.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/server/config.js';
import type { Agent, Network } from '../../src/model/types.js';
import type { Snapshot } from '../../src/model/watch.js';
import { startTestServer, type TestServer } from './helpers.js';

const KEY = 'HPu4agnfCrLt5tkdILy/YQkvTc8yxOt8FintexJkjiE=';
let srv: TestServer;
before(async () => {
  srv = await startTestServer({
    config: { encryption: 'all' },
    tokens: {
      ADMIN: { project_id: 'ops', roles: ['admin'] },
      ALICE: { project_id: 'pa', roles: ['member'] },
    },
  });
});
after(() => srv.stop());

const refused = async (p: Promise<unknown>, status: number) =>
  assert.rejects(p, (e: { status?: number }) => e.status === status);

test('config: encryption defaults to cross-cloud, a file sets it, a bad value is refused', () => {
  assert.equal(loadConfig().encryption, 'cross-cloud');
  const dir = mkdtempSync(join(tmpdir(), 'hn-enc-'));
  writeFileSync(join(dir, 'a.yaml'), 'encryption: none\n');
  writeFileSync(join(dir, 'b.yaml'), 'encryption: sometimes\n');
  assert.equal(loadConfig(join(dir, 'a.yaml')).encryption, 'none');
  assert.throws(() => loadConfig(join(dir, 'b.yaml')), /encryption/);
});

test('network: no override follows the server default; an admin sets one; a tenant may not', async () => {
  const admin = srv.client('ADMIN');
  const alice = srv.client('ALICE');
  const n = await alice.create<Network>('networks', 'network', { name: 'n' });
  assert.equal(n['hypernet:encryption'], null);
  assert.equal(n['hypernet:encryption_effective'], 'all');
  await refused(alice.update('networks', 'network', n.id, { 'hypernet:encryption': 'none' }), 403);
  await refused(alice.create('networks', 'network', { name: 'm', 'hypernet:encryption': 'none' }), 403);
  await refused(admin.update('networks', 'network', n.id, { 'hypernet:encryption': 'sometimes' }), 400);
  await refused(admin.update('networks', 'network', n.id, { 'hypernet:encryption_effective': 'none' }), 400);
  const set = await admin.update<Network>('networks', 'network', n.id, { 'hypernet:encryption': 'none' });
  assert.equal(set['hypernet:encryption_effective'], 'none');
  const shown = await alice.show<Network>('networks', 'network', n.id);
  assert.equal(shown['hypernet:encryption'], 'none');
  const back = await admin.update<Network>('networks', 'network', n.id, { 'hypernet:encryption': null });
  assert.equal(back['hypernet:encryption_effective'], 'all');
  const m = await admin.create<Network>('networks', 'network', { name: 'm', 'hypernet:encryption': 'cross-cloud' });
  assert.equal(m['hypernet:encryption_effective'], 'cross-cloud');
});

/** The watch stream's first line: the snapshot. */
async function snapshot(): Promise<Snapshot> {
  const res = await fetch(`${srv.url}/v2.0/watch`, { headers: { 'x-auth-token': 'ADMIN' } });
  const reader = res.body!.getReader();
  let text = '';
  while (!text.includes('\n')) text += new TextDecoder().decode((await reader.read()).value);
  await reader.cancel();
  return JSON.parse(text.split('\n')[0]) as Snapshot;
}

test('watch: the snapshot presents the effective policy to agents', async () => {
  const snap = await snapshot();
  assert.ok(snap.networks.length > 0);
  for (const n of snap.networks) assert.ok(['all', 'cross-cloud'].includes(n['hypernet:encryption_effective']!));
});

test('agent: only a well-formed public key is taken; the status is kept without a change event', async () => {
  const admin = srv.client('ADMIN');
  const body = (extra: Record<string, unknown>) => ({
    host: 'node-1',
    configurations: { tunneling_ip: '192.0.2.1', cloud: 'cloud-a' },
    ...extra,
  });
  for (const bad of [`${KEY}\n`, 'a'.repeat(44), `${KEY.slice(0, 42)}B=`, '--private-key=/etc/shadow', 7])
    await refused(admin.create('agents', 'agent', body({ 'hypernet:wireguard_public_key': bad })), 400);
  const a = await admin.create<Agent>('agents', 'agent', body({ 'hypernet:wireguard_public_key': KEY }));
  assert.equal(a['hypernet:wireguard_public_key'], KEY);
  const status = { state: 'up', impl: 'userspace', peers: [{ host: 'node-2', latest_handshake: 1796588333 }] };
  const before = (await snapshot()).revision;
  await admin.update('agents', 'agent', a.id, { heartbeat: true, 'hypernet:encryption_status': status });
  const got = await admin.show<Agent>('agents', 'agent', a.id);
  assert.deepEqual(got['hypernet:encryption_status'], status);
  assert.equal((await snapshot()).revision, before, 'a status report is no change for the watch');
  await refused(
    admin.update('agents', 'agent', a.id, { 'hypernet:encryption_status': { ...status, state: 'fine' } }),
    400,
  );
  // A registration without a key (the node runs no encryption) drops the old one.
  const again = await admin.create<Agent>('agents', 'agent', body({}));
  assert.equal(again['hypernet:wireguard_public_key'], undefined);
});
