/**
 * The agentless API (hyperswitches, agentless ports) of a real server whose provider is `aws`, pointed
 * at the lab's EC2 endpoint: what the API creates, lists and deletes are EC2 instances and ENIs, found
 * again by their tags. No hyperswitch agent runs here (the instances are records at the endpoint).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CustomRoutes } from '../../src/aws/custom-route.js';
import type { AgentlessPortWire, HyperswitchWire } from '../../src/model/agentless.js';
import type { Network, Port } from '../../src/model/types.js';
import { startEc2Lab, type Ec2Lab } from '../../testkit/ec2-endpoint.js';
import { startServer, type TestServer } from '../ctl/server.js';

describe('agentless API with provider aws on the lab EC2 endpoint', () => {
  let lab: Ec2Lab;
  let srv: TestServer;

  before(async () => {
    lab = await startEc2Lab();
    const routes = new CustomRoutes(lab.client(), lab.vpcId);
    await routes.ensureSecurityGroup('hs_sg_vms_123456', 'hyperswitch vms NICs', []);
    await routes.ensureSecurityGroup('vm_sg_vms_123456', 'agentless NICs', []);
    srv = await startServer({ config: { agentless: lab.config() } });
  });
  after(async () => {
    await srv?.close();
    await lab?.close();
  });

  test('a hyperswitch is an EC2 instance; an agentless port an ENI; deletes reach EC2', async () => {
    const hs = await srv.admin.create<HyperswitchWire>('hyperswitches', 'hyperswitch', { tenant_id: 'tenant-x' });
    assert.match(hs.instance_id, /^i-[0-9a-f]{17}$/);
    assert.equal(hs.cloud, 'aws-lab');
    const inst = lab.state.instances.get(hs.instance_id)!;
    assert.equal(inst.tags['hypernet:hyperswitch_id'], hs.id);
    assert.match(Buffer.from(inst.userData, 'base64').toString(), /hypernet/);

    const net = await srv.admin.create<Network>('networks', 'network', { name: 'aws-net' });
    await srv.admin.create('subnets', 'subnet', { network_id: net.id, cidr: '10.99.0.0/24', ip_version: 4 });
    const port = await srv.admin.create<Port>('ports', 'port', { network_id: net.id, device_id: 'vm-aws-1' });
    const ap = await srv.admin.create<AgentlessPortWire>('agentlessports', 'agentlessport', {
      port_id: port.id,
      device_id: 'vm-aws-1',
    });
    assert.match(ap.id, /^eni-[0-9a-f]{17}$/);
    const eni = lab.state.interfaces.get(ap.id)!;
    assert.equal(eni.tags['hypernet:port_id'], port.id);
    assert.equal(eni.privateIpAddress, ap.private_ip);
    const listed = await srv.admin.list<AgentlessPortWire>('agentlessports');
    assert.deepEqual(
      listed.map((p) => p.id),
      [ap.id],
    );

    await srv.admin.delete('agentlessports', ap.id);
    assert.equal(lab.state.interfaces.has(ap.id), false);
    for (const h of await srv.admin.list<HyperswitchWire>('hyperswitches'))
      await srv.admin.delete('hyperswitches', h.id);
    assert.deepEqual(await srv.admin.list('hyperswitches'), []);
    assert.equal(lab.state.instances.get(hs.instance_id)?.state, 'terminated');
  });
});
