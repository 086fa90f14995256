/** Agentless options: the documented defaults, and refusal of bad values. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { awsInstanceType, parseAgentlessConfig } from '../../src/model/agentless-config.js';
import { buildHyperswitchUserData } from '../../src/server/agentless/userdata.js';
import { agentArgvFromUserData } from '../../src/lab/cloud-init.js';

describe('agentless config', () => {
  it('fills in the documented defaults', () => {
    const c = parseAgentlessConfig(undefined);
    assert.equal(c.provider, 'openstack');
    assert.equal(c.level, 'tenant');
    assert.deepEqual(c.vms_cidr, ['172.31.192.0/20', '172.31.208.0/20', '172.31.224.0/20']);
    assert.equal(c.hs_sg_name, 'hs_sg_vms_123456');
    assert.equal(c.vm_sg_name, 'vm_sg_vms_123456');
    assert.equal(c.default_flavor, '1G');
    assert.equal(c.mgnt_network, '');
    assert.deepEqual(c.aws_hs_flavor_map, { '0G': 't2.micro', '1G': 'c4.large', '10G': 'c4.xlarge' });
    assert.equal(awsInstanceType(c, '10G'), 'c4.xlarge');
    assert.deepEqual([c.vpn_port_min, c.vpn_port_max, c.underlay_mtu], [1194, 1693, 1500]);
  });

  it('keeps given values and refuses bad ones', () => {
    const c = parseAgentlessConfig({ provider: 'aws', level: 'vm', vms_cidr: ['192.0.2.0/24'], aws_vpc: 'vpc-1' });
    assert.equal(c.provider, 'aws');
    assert.equal(c.level, 'vm');
    assert.deepEqual(c.vms_cidr, ['192.0.2.0/24']);
    assert.throws(() => parseAgentlessConfig({ provider: 'gcp' }));
    assert.throws(() => parseAgentlessConfig({ level: 'host' }));
    assert.throws(() => parseAgentlessConfig({ default_flavor: '5G' }));
    assert.throws(() => parseAgentlessConfig({ vms_cidr: ['not-a-cidr'] }));
    assert.throws(() => parseAgentlessConfig({ vpn_port_min: 2000, vpn_port_max: 1000 }));
  });
  it('refuses a server URL, token or cloud name that would not be one argument of the agent', () => {
    for (const agent_server_url of ['unix:/run/hn.sock', 'http://192.0.2.1:9696', 'https://api.example:443/hn']) {
      assert.equal(parseAgentlessConfig({ agent_server_url }).agent_server_url, agent_server_url);
    }
    for (const agent_server_url of ['', 'ftp://x', 'http://a b', 'http://x\n--token y', 'unix:relative']) {
      assert.throws(() => parseAgentlessConfig({ agent_server_url }), JSON.stringify(agent_server_url));
    }
    for (const agent_token of ['a b', "x'y", 'x\ny']) assert.throws(() => parseAgentlessConfig({ agent_token }));
    for (const cloud of ['a b', '-x', '']) assert.throws(() => parseAgentlessConfig({ cloud }));
  });

  it("gives a hyperswitch's agent the token when one is configured", () => {
    const c = parseAgentlessConfig({ agent_server_url: 'http://192.0.2.1:9696', agent_token: 'S3cret-token' });
    const argv = (token: string) =>
      agentArgvFromUserData(buildHyperswitchUserData({ server: c.agent_server_url, host: 'hs-1', cloud: 'c', token }));
    assert.deepEqual(argv(c.agent_token), [
      'agent',
      '--server',
      'http://192.0.2.1:9696',
      '--host',
      'hs-1',
      '--cloud',
      'c',
      '--agentless',
      '--token',
      'S3cret-token',
    ]);
    assert.ok(!argv('').includes('--token'));
  });
});
