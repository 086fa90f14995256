/**
 * Token auth over real HTTP: 401 without a valid token, project isolation (own + shared networks),
 * no ports on others' private networks, no use of others' security groups, admin-only attributes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Network, Port, SecurityGroup } from '../../src/model/types.js';
import { adminTokenHolder, expectFault, expectRejectedUnchanged, startTestServer, type TestServer } from './helpers.js';

describe('token auth and tenancy', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({
      tokens: {
        ADMIN: { project_id: 'ops', roles: ['admin'] },
        ALICE: { project_id: 'pa', roles: ['member'] },
        BOB: { project_id: 'pb', roles: ['member'] },
        CAROL: { project_id: 'pc', roles: ['member'] },
      },
    });
    adminTokenHolder.token = 'ADMIN';
  });
  after(async () => {
    delete adminTokenHolder.token;
    await s.stop();
  });

  it('401 without or with an unknown token', async () => {
    await expectFault(() => s.client().list('networks'), 401, 'Unauthorized');
    await expectFault(() => s.client('WRONG').list('networks'), 401, 'Unauthorized');
  });

  it('isolates projects; shared networks are visible and usable by all', async () => {
    const alice = s.client('ALICE');
    const bob = s.client('BOB');
    const admin = s.client('ADMIN');
    const priv = await alice.create<Network>('networks', 'network', { name: 'alice-private' });
    await alice.create('subnets', 'subnet', { network_id: priv.id, cidr: '10.10.0.0/24' });
    await expectFault(
      () => alice.create('networks', 'network', { name: 'x', shared: true }),
      403,
      'PolicyNotAuthorized',
    );
    const shared = await admin.create<Network>('networks', 'network', {
      name: 'public',
      shared: true,
      project_id: 'ops',
    });
    await admin.create('subnets', 'subnet', { network_id: shared.id, cidr: '10.20.0.0/24' });
    assert.deepEqual(
      (await bob.list<Network>('networks')).map((n) => n.name),
      ['public'],
    );
    assert.equal((await admin.list('networks')).length, 2);
    await expectFault(() => bob.show('networks', 'network', priv.id), 404, 'NetworkNotFound');
    await expectRejectedUnchanged(
      s,
      () => bob.create('ports', 'port', { network_id: priv.id }),
      404,
      'NetworkNotFound',
    );
    await expectRejectedUnchanged(
      s,
      () => bob.update('networks', 'network', shared.id, { name: 'mine' }),
      403,
      'PolicyNotAuthorized',
    );
    const bp = await bob.create<Port>('ports', 'port', { network_id: shared.id });
    assert.equal(bp.project_id, 'pb');
    await expectFault(() => alice.show('ports', 'port', bp.id), 404, 'PortNotFound');
    await expectRejectedUnchanged(
      s,
      () => bob.create('ports', 'port', { network_id: shared.id, fixed_ips: [{ ip_address: '10.20.0.99' }] }),
      403,
      'PolicyNotAuthorized',
    );
    await expectRejectedUnchanged(
      s,
      () => bob.create('ports', 'port', { network_id: shared.id, project_id: 'pa' }),
      400,
      'BadRequest',
    );
  });

  it("cannot use another project's security group; only admin sets status", async () => {
    const alice = s.client('ALICE');
    const bob = s.client('BOB');
    const [aliceDefault] = await alice.list<SecurityGroup>('security-groups', { name: 'default' });
    assert.equal(aliceDefault.project_id, 'pa');
    const bobGroups = await bob.list<SecurityGroup>('security-groups');
    assert.deepEqual(
      bobGroups.map((g) => g.project_id),
      ['pb'],
    );
    const [shared] = await bob.list<Network>('networks', { name: 'public' });
    await expectRejectedUnchanged(
      s,
      () => bob.create('ports', 'port', { network_id: shared.id, security_groups: [aliceDefault.id] }),
      404,
      'SecurityGroupNotFound',
    );
    await expectRejectedUnchanged(
      s,
      () =>
        bob.create('security-group-rules', 'security_group_rule', {
          security_group_id: aliceDefault.id,
          direction: 'ingress',
        }),
      404,
      'SecurityGroupNotFound',
    );
    const [port] = await bob.list<Port>('ports');
    await expectRejectedUnchanged(
      s,
      () => bob.update('ports', 'port', port.id, { status: 'ACTIVE' }),
      403,
      'PolicyNotAuthorized',
    );
    const up = await s
      .client('ADMIN')
      .update<Port>('ports', 'port', port.id, { status: 'ACTIVE', 'binding:vif_type': 'tap' });
    assert.equal(up.status, 'ACTIVE');
    // Agents are admin-only: Neutron's policy filters them out of a member's list and hides each one.
    assert.deepEqual(await bob.list('agents'), []);
    const agent = await s.client('ADMIN').create<{ id: string }>('agents', 'agent', {
      host: 'hs-tenancy',
      configurations: { tunneling_ip: '192.0.2.20', cloud: 'a' },
    });
    await expectFault(() => bob.create('agents', 'agent', { host: 'hs-bob' }), 403, 'PolicyNotAuthorized');
    await expectFault(() => bob.show('agents', 'agent', agent.id), 404, 'AgentNotFound');
    await expectFault(() => bob.update('agents', 'agent', agent.id, { description: 'x' }), 404, 'AgentNotFound');
    await expectFault(() => bob.call('GET', '/v2.0/watch'), 403, 'PolicyNotAuthorized');
  });
  it("a refused security-group listing does not create the project's default group", async () => {
    const carol = s.client('CAROL');
    const groupsOfCarol = async () =>
      (await s.client('ADMIN').list<SecurityGroup>('security-groups')).filter((g) => g.project_id === 'pc');
    await expectRejectedUnchanged(s, () => carol.list('security-groups', { bogus: '1' }), 400, 'HTTPBadRequest');
    await expectRejectedUnchanged(s, () => carol.list('security-groups', { limit: 'x' }), 400, 'HTTPBadRequest');
    assert.deepEqual(await groupsOfCarol(), []);
    const listed = await carol.list<SecurityGroup>('security-groups');
    assert.deepEqual(
      listed.map((g) => [g.name, g.project_id]),
      [['default', 'pc']],
    );
    assert.equal((await groupsOfCarol()).length, 1);
  });
});
