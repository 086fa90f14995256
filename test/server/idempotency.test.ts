/**
 * Idempotency keys on creates against a real server (SQLite, HTTP): a retried POST with the same key
 * returns the first result and creates nothing; the same key with another body is refused; keys are
 * per project; two copies of one request sent at once create once.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, TENANT_TOKENS, type TestServer } from './helpers.js';

describe('Idempotency-Key on creates', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ tokens: TENANT_TOKENS });
  });
  after(async () => server?.stop());

  const post = (token: string, key: string | undefined, body: unknown) =>
    server.client(token).raw('POST', '/v2.0/networks', body, key === undefined ? {} : { 'idempotency-key': key });
  const names = async (token: string) =>
    (await server.client(token).list<{ name: string }>('networks')).map((n) => n.name).sort();

  it('returns the first result to a retry and creates once', async () => {
    const a = await post('ALICE', 'k-1', { network: { name: 'once' } });
    const b = await post('ALICE', 'k-1', { network: { name: 'once' } });
    assert.equal(a.status, 201);
    assert.equal(b.status, 201);
    assert.deepEqual(b.body, a.body);
    assert.deepEqual(await names('ALICE'), ['once']);
  });

  it('refuses the same key with a different body', async () => {
    const r = await post('ALICE', 'k-1', { network: { name: 'other' } });
    assert.equal(r.status, 409);
    assert.equal((r.body as { NeutronError: { type: string } }).NeutronError.type, 'IdempotencyKeyReused');
    assert.deepEqual(await names('ALICE'), ['once']);
  });

  it('keeps keys per project, and creates twice without a key', async () => {
    assert.equal((await post('BOB', 'k-1', { network: { name: 'once' } })).status, 201);
    assert.deepEqual(await names('BOB'), ['once']);
    await post('BOB', undefined, { network: { name: 'twice' } });
    await post('BOB', undefined, { network: { name: 'twice' } });
    assert.deepEqual(await names('BOB'), ['once', 'twice', 'twice']);
  });

  it('creates once when two copies of a bulk create race', async () => {
    const body = { networks: [{ name: 'bulk-1' }, { name: 'bulk-2' }] };
    const [x, y] = await Promise.all([post('ALICE', 'bulk', body), post('ALICE', 'bulk', body)]);
    assert.equal(x.status, 201);
    assert.deepEqual(y.body, x.body);
    assert.deepEqual(await names('ALICE'), ['bulk-1', 'bulk-2', 'once']);
  });

  it('refuses a malformed key', async () => {
    assert.equal((await post('ALICE', 'has space', { network: { name: 'x' } })).status, 400);
  });
});
