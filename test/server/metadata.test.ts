/**
 * The server's metadata trees (`/metadata/…`) over real HTTP and a real SQLite store: a request
 * signed for a port gets that port's instance (OpenStack and EC2 trees, user data, keys, its
 * floating IP), and unsigned, mis-signed, re-targeted or unconfigured requests get nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { signedHeaders, signIdentity } from '../../src/model/metadata-signature.js';
import type { FloatingIp, Port, Router } from '../../src/model/types.js';
import { adminTokenHolder, startTestServer, type TestServer } from './helpers.js';
import { L3_TOKENS as TOKENS, addInterface, externalNet, tenantNet } from './l3-fixtures.js';

const SECRET = 'metadata-test-secret-0123456789';
const KEY_A = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHh5cGVybmV0dGVzdGtleWJ5dGVzMDEyMzQ1Njc4OTAx alice@laptop';

describe('metadata service (server side)', () => {
  let s: TestServer;
  let portA: Port;
  let portB: Port;
  const admin = () => s.client('ADMIN');
  const alice = () => s.client('ALICE');
  const bob = () => s.client('BOB');
  const idOf = (p: Port) => ({ instanceId: p.device_id, tenantId: p.project_id, portId: p.id });
  /** A GET as the node's proxy sends it (no token: the signature is the credential). */
  const get = (path: string, headers: Record<string, string>) =>
    s.client().raw('GET', `/metadata${path}`, undefined, headers);

  before(async () => {
    s = await startTestServer({ tokens: TOKENS, config: { metadataSecret: SECRET } });
    adminTokenHolder.token = 'ADMIN';
    const ext = await externalNet(admin(), 'public', '203.0.113.0/26', 'cloud-a');
    const netA = await tenantNet(alice(), 'md-a', '10.80.0.0/24');
    const netB = await tenantNet(bob(), 'md-b', '10.80.0.0/24');
    portA = await alice().create<Port>('ports', 'port', { network_id: netA.net.id, device_id: 'vm-a' });
    portB = await bob().create<Port>('ports', 'port', { network_id: netB.net.id, device_id: 'vm-b' });
    await alice().create('instances', 'instance', {
      device_id: 'vm-a',
      name: 'Alpha',
      user_data: '#cloud-config\nhostname: alpha\n',
      public_keys: { laptop: KEY_A },
      meta: { role: 'web' },
    });
    await bob().create('instances', 'instance', { device_id: 'vm-b', name: 'Bravo', user_data: 'bravo-data' });
    const r = await alice().create<Router>('routers', 'router', { external_gateway_info: { network_id: ext.net.id } });
    await addInterface(alice(), r.id, { subnet_id: netA.subnet.id });
    await alice().create<FloatingIp>('floatingips', 'floatingip', {
      floating_network_id: ext.net.id,
      port_id: portA.id,
    });
  });
  after(async () => {
    delete adminTokenHolder.token;
    await s?.stop();
  });

  it('answers the OpenStack tree of the signed port', async () => {
    const h = signedHeaders(SECRET, idOf(portA));
    const versions = await get('/openstack', h);
    assert.equal(versions.status, 200);
    assert.match(String(versions.body), /^2012-08-10\n[\s\S]*\nlatest\n$/);
    const md = await get('/openstack/latest/meta_data.json', h);
    assert.equal(md.status, 200);
    const meta = md.body as Record<string, unknown>;
    assert.equal(meta.uuid, 'vm-a');
    assert.equal(meta.hostname, 'alpha');
    assert.equal(meta.project_id, portA.project_id);
    assert.deepEqual(meta.public_keys, { laptop: KEY_A });
    assert.deepEqual(meta.meta, { role: 'web' });
    const ud = await get('/openstack/latest/user_data', h);
    assert.equal(ud.body, '#cloud-config\nhostname: alpha\n');
    const nd = (await get('/openstack/2018-08-27/network_data.json', h)).body as {
      links: { ethernet_mac_address: string }[];
      networks: { ip_address: string; netmask: string }[];
    };
    assert.equal(nd.links[0].ethernet_mac_address, portA.mac_address);
    assert.equal(nd.networks[0].ip_address, portA.fixed_ips[0].ip_address);
    assert.equal(nd.networks[0].netmask, '255.255.255.0');
  });

  it('answers the EC2 tree, with public-ipv4 only where a floating IP is associated', async () => {
    const h = signedHeaders(SECRET, idOf(portA));
    const list = String((await get('/latest/meta-data/', h)).body);
    assert.match(list, /^instance-id$/m);
    assert.match(list, /^public-keys\/$/m);
    assert.equal((await get('/latest/meta-data/instance-id', h)).body, 'vm-a');
    assert.equal((await get('/latest/meta-data/local-ipv4', h)).body, portA.fixed_ips[0].ip_address);
    assert.match(String((await get('/latest/meta-data/public-ipv4', h)).body), /^203\.0\.113\.\d+$/);
    assert.equal((await get('/latest/meta-data/public-keys/', h)).body, '0=laptop\n');
    assert.equal((await get('/latest/meta-data/public-keys/0/openssh-key', h)).body, KEY_A);
    const hb = signedHeaders(SECRET, idOf(portB));
    assert.equal((await get('/latest/meta-data/instance-id', hb)).body, 'vm-b');
    assert.equal((await get('/latest/meta-data/public-ipv4', hb)).status, 404);
    assert.equal((await get('/latest/user-data', hb)).body, 'bravo-data');
  });

  it('refuses unsigned and mis-signed requests with 403', async () => {
    assert.equal((await get('/openstack/latest/meta_data.json', {})).status, 403);
    const forged = {
      ...signedHeaders(SECRET, idOf(portA)),
      'x-instance-id-signature': signIdentity('another-secret-of-some-length', idOf(portB)),
    };
    assert.equal((await get('/openstack/latest/meta_data.json', forged)).status, 403);
    // Alice's valid signature with Bob's instance id: the signature covers every field.
    const swapped = { ...signedHeaders(SECRET, idOf(portA)), 'x-instance-id': 'vm-b' };
    const r = await get('/openstack/latest/meta_data.json', swapped);
    assert.equal(r.status, 403);
    assert.doesNotMatch(String(JSON.stringify(r.body)), /bravo/i);
  });

  it('a well-signed identity whose port holds another instance gets 404', async () => {
    const wrong = signedHeaders(SECRET, { instanceId: 'vm-b', tenantId: portB.project_id, portId: portA.id });
    const r = await get('/openstack/latest/meta_data.json', wrong);
    assert.equal(r.status, 404);
    assert.doesNotMatch(String(r.body), /vm-b|bravo/i);
  });

  it('is off without a shared secret', async () => {
    const off = await startTestServer({ tokens: TOKENS });
    try {
      const r = await off.client().raw('GET', '/metadata/openstack', undefined, signedHeaders(SECRET, idOf(portA)));
      assert.equal(r.status, 404);
    } finally {
      await off.stop();
    }
  });
});
