/**
 * Agentless tenancy under token auth (needs root: the lab provider makes namespaces): a real server
 * with the agentless plugin, an admin and two tenants. A tenant sees, shows, moves and deletes only
 * its own agentless ports and hyperswitches; only an admin fetches or reports a hyperswitch's VPN
 * configuration (its keys and CA); a device_id is a strict word, and a device belongs to the project
 * that first placed an agentless port or hyperswitch on it: naming another project's device (in the
 * body, or as the Neutron port's own device_id) is refused and leaves nothing behind.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApiClient } from '../../src/client/api.js';
import type { AgentlessPortWire, HyperswitchWire, VpnAgentConfig } from '../../src/model/agentless.js';
import type { Network, Port } from '../../src/model/types.js';
import { startAgentlessServer, type AgentlessServer } from '../ctl/agentless-server.js';
import { expectFault } from './helpers.js';

const isRoot = process.getuid?.() === 0;
const TOKENS = {
  ADMIN: { project_id: 'ops', roles: ['admin'] },
  ALICE: { project_id: 'pa', roles: ['member'] },
  BOB: { project_id: 'pb', roles: ['member'] },
};

describe('agentless tenancy under token auth', { skip: !isRoot && 'needs root', timeout: 240_000 }, () => {
  let srv: AgentlessServer;
  let admin: ApiClient;
  let alice: ApiClient;
  let bob: ApiClient;
  let net: Network;
  /** Alice's agentless port on her own VM (per-VM hyperswitch) and Bob's at tenant level. */
  let aPort: AgentlessPortWire;
  let bPort: AgentlessPortWire;

  const port = (c: ApiClient, name: string, deviceId: string) =>
    c.create<Port>('ports', 'port', { network_id: net.id, name, device_id: deviceId });
  const agentless = (c: ApiClient, body: Record<string, unknown>) =>
    c.create<AgentlessPortWire>('agentlessports', 'agentlessport', body);
  /** What the provider holds, as the admin lists it. */
  const providerState = async () => ({
    ports: (await admin.list<AgentlessPortWire>('agentlessports')).map((p) => [p.id, p.device_id, p.tenant_id]),
    hss: (await admin.list<HyperswitchWire>('hyperswitches')).map((h) => [h.id, h.device_id, h.tenant_id]),
  });
  /** The request fails as given and the provider holds the same NICs and hyperswitches after it. */
  const refusedUnchanged = async (fn: () => Promise<unknown>, status: number, type: string) => {
    const before = await providerState();
    await expectFault(fn, status, type);
    assert.deepEqual(await providerState(), before);
  };

  before(async () => {
    if (!isRoot) return;
    srv = await startAgentlessServer('y', { tokens: TOKENS });
    admin = srv.admin;
    alice = new ApiClient({ url: srv.url, token: 'ALICE' });
    bob = new ApiClient({ url: srv.url, token: 'BOB' });
    net = await admin.create<Network>('networks', 'network', { name: 'al-shared', shared: true, project_id: 'ops' });
    await admin.create('subnets', 'subnet', { network_id: net.id, cidr: '10.0.9.0/24', ip_version: 4 });
    const pa = await port(alice, 'a-port', 'vm-ya');
    const pb = await port(bob, 'b-port', 'vm-yb');
    aPort = await agentless(alice, { port_id: pa.id, device_id: 'vm-ya' });
    bPort = await agentless(bob, { port_id: pb.id });
  });
  after(async () => {
    await srv?.close();
  });

  it('places each tenant on its own hyperswitch', async () => {
    assert.equal(aPort.tenant_id, 'pa');
    assert.equal(bPort.tenant_id, 'pb');
    const [ha] = await admin.list<HyperswitchWire>('hyperswitches', { id: aPort.hyperswitch_id });
    const [hb] = await admin.list<HyperswitchWire>('hyperswitches', { id: bPort.hyperswitch_id });
    assert.deepEqual([ha?.device_id, ha?.tenant_id], ['vm-ya', 'pa']);
    assert.deepEqual([hb?.device_id, hb?.tenant_id], [null, 'pb']);
  });

  it("a tenant cannot place a port on another project's device", async () => {
    const pb2 = await port(bob, 'b-port-2', 'vm-yb2');
    // named in the body: Alice's device (404 hides that it exists, as for anything invisible); NIC
    // index 1, as index 0 of that VM is taken, which alone would stop the provider
    await refusedUnchanged(
      () => agentless(bob, { port_id: pb2.id, device_id: 'vm-ya', index: 1 }),
      404,
      'DeviceNotFound',
    );
    // or as the Neutron port's own device_id (free text a tenant sets), at tenant level
    const pb3 = await port(bob, 'b-port-3', 'vm-ya');
    await refusedUnchanged(() => agentless(bob, { port_id: pb3.id, index: 2 }), 404, 'DeviceNotFound');
    // nor claim it with a hyperswitch of its own
    await refusedUnchanged(
      () => bob.create('hyperswitches', 'hyperswitch', { device_id: 'vm-ya' }),
      404,
      'DeviceNotFound',
    );
    // an admin acting for Bob's port is told the device is another project's
    await refusedUnchanged(
      () => agentless(admin, { port_id: pb2.id, device_id: 'vm-ya', index: 1 }),
      409,
      'DeviceInUse',
    );
    // Alice's hyperswitch serves Alice's port alone
    assert.deepEqual(
      (await admin.list<AgentlessPortWire>('agentlessports', { device_id: 'vm-ya' })).map((p) => p.id),
      [aPort.id],
    );
  });

  it('device_id is a strict word (it names a VM, in the lab a namespace)', async () => {
    const pb4 = await port(bob, 'b-port-4', 'vm-yb4');
    for (const bad of ['../vm-ya', 'a/b', 'a b', '-x', 'x'.repeat(65), 'vm.ya'])
      await refusedUnchanged(() => agentless(bob, { port_id: pb4.id, device_id: bad }), 400, 'InvalidInput');
    await refusedUnchanged(() => bob.create('hyperswitches', 'hyperswitch', { device_id: 'a/b' }), 400, 'InvalidInput');
    // a Neutron port's device_id holds any text: used as the agentless device it must be a word too
    const odd = await port(bob, 'b-port-5', 'x;y');
    await refusedUnchanged(() => agentless(bob, { port_id: odd.id }), 400, 'InvalidInput');
  });

  it("a tenant neither sees, shows, moves nor deletes another tenant's agentless ports", async () => {
    assert.deepEqual(
      (await bob.list<AgentlessPortWire>('agentlessports')).map((p) => p.id),
      [bPort.id],
    );
    assert.deepEqual(await bob.list('agentlessports', { tenant_id: 'pa' }), []);
    assert.deepEqual(await bob.list('agentlessports', { device_id: 'vm-ya' }), []);
    await expectFault(() => bob.show('agentlessports', 'agentlessport', aPort.id), 404, 'AgentlessportNotFound');
    await refusedUnchanged(
      () => bob.update('agentlessports', 'agentlessport', aPort.id, { cloud: 'agentless' }),
      404,
      'AgentlessportNotFound',
    );
    await refusedUnchanged(() => bob.delete('agentlessports', aPort.id), 404, 'AgentlessportNotFound');
    // nor makes one for a Neutron port that is not his
    const pa2 = await port(alice, 'a-port-2', 'vm-ya');
    await refusedUnchanged(() => agentless(bob, { port_id: pa2.id }), 404, 'PortNotFound');
    // Alice's port is untouched, and the admin sees both
    const shown = await alice.show<AgentlessPortWire>('agentlessports', 'agentlessport', aPort.id);
    assert.equal(shown.hyperswitch_id, aPort.hyperswitch_id);
    assert.ok(shown.user_data.includes('PRIVATE KEY'), 'the owner gets its user_data');
    assert.deepEqual(
      (await admin.list<AgentlessPortWire>('agentlessports')).map((p) => p.id).sort(),
      [aPort.id, bPort.id].sort(),
    );
  });

  it("a tenant neither sees, shows, creates for nor deletes another tenant's hyperswitches", async () => {
    assert.deepEqual(
      (await bob.list<HyperswitchWire>('hyperswitches')).map((h) => h.id),
      [bPort.hyperswitch_id],
    );
    assert.deepEqual(await bob.list('hyperswitches', { tenant_id: 'pa' }), []);
    await expectFault(() => bob.show('hyperswitches', 'hyperswitch', aPort.hyperswitch_id), 404, 'HyperswitchNotFound');
    await refusedUnchanged(() => bob.delete('hyperswitches', aPort.hyperswitch_id), 404, 'HyperswitchNotFound');
    await refusedUnchanged(
      () => bob.create('hyperswitches', 'hyperswitch', { tenant_id: 'pa' }),
      403,
      'PolicyNotAuthorized',
    );
    assert.equal(
      (await alice.show<HyperswitchWire>('hyperswitches', 'hyperswitch', aPort.hyperswitch_id)).id,
      aPort.hyperswitch_id,
    );
  });

  it("only an admin fetches or reports a hyperswitch's VPN configuration", async () => {
    const path = (id: string) => `/v2.0/hyperswitches/${id}/vpn`;
    for (const [who, id] of [
      [bob, aPort.hyperswitch_id],
      [bob, bPort.hyperswitch_id],
      [alice, aPort.hyperswitch_id],
    ] as const) {
      await expectFault(() => who.call('GET', path(id)), 403, 'PolicyNotAuthorized');
      await expectFault(() => who.call('PUT', path(id), { vpn: { serving: [] } }), 403, 'PolicyNotAuthorized');
    }
    const { vpn } = await admin.call<{ vpn: VpnAgentConfig }>('GET', path(aPort.hyperswitch_id));
    assert.match(vpn.ca_pem, /BEGIN CERTIFICATE/);
    assert.match(vpn.key_pem, /PRIVATE KEY/);
    assert.deepEqual(
      vpn.ports.map((p) => p.port_id),
      [aPort.port_id],
    );
  });
});
