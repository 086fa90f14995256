/**
 * The `aws` provider driver on the real AWS SDK against the lab's EC2 endpoint over real HTTP: every
 * ProviderDriver operation and the custom-route calls, idempotency, retries on RequestLimitExceeded,
 * a launch that fails half-way, and a restarted server that rebuilds its view from EC2's tags.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DescribeNetworkInterfacesCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { realClock } from '../../src/common/clock.js';
import { realExec } from '../../src/common/exec.js';
import { silentLogger } from '../../src/common/log.js';
import { AwsProvider } from '../../src/aws/aws-provider.js';
import { CustomRoutes } from '../../src/aws/custom-route.js';
import { PROVIDERS } from '../../src/providers.js';
import { NIC_TAGS } from '../../src/model/provider.js';
import { startEc2Lab, type Ec2Lab } from '../../testkit/ec2-endpoint.js';

describe('aws provider driver (real SDK → lab EC2 endpoint)', () => {
  let lab: Ec2Lab;
  let aws: AwsProvider;
  const deps = { stateDir: '/nonexistent', exec: realExec, clock: realClock, log: silentLogger() };
  const make = () => new AwsProvider({ ...deps, config: lab.config() });
  const userData = '#!/bin/sh\nhypernet agent --agentless --server http://192.0.2.10:9696\n';
  const launch = (p: AwsProvider, owner: { hybrid_cloud_device_id?: string; hybrid_cloud_tenant_id?: string }) =>
    p.launchHyperswitch({
      user_data: userData,
      flavor: '0G',
      net_list: [
        { network: lab.subnets.mgnt, security_group: '' },
        { network: lab.subnets.data, security_group: '' },
        ...lab.subnets.vms.map((network) => ({ network, security_group: 'hs_sg_vms_123456' })),
      ],
      ...owner,
    });
  const live = () => [...lab.state.instances.values()].filter((i) => i.state !== 'terminated');

  before(async () => {
    lab = await startEc2Lab();
    aws = make();
  });
  after(async () => {
    await lab?.close();
  });

  test('getSgs and getVmsSubnet find the VPC security groups and vms subnets', async () => {
    assert.deepEqual(await aws.getSgs(), { hs_sg: null, vm_sg: null });
    const routes = new CustomRoutes(aws.ec2, lab.vpcId);
    const hs = await routes.ensureSecurityGroup('hs_sg_vms_123456', 'hyperswitch vms NICs', []);
    const vm = await routes.ensureSecurityGroup('vm_sg_vms_123456', 'agentless NICs', []);
    assert.deepEqual(await aws.getSgs(), { hs_sg: hs, vm_sg: vm });
    assert.deepEqual(await aws.getVmsSubnet(), lab.subnets.vms);
  });

  test('launchHyperswitch: an instance with user_data, flavor, tags; source/dest check off; idempotent', async () => {
    const hs = await launch(aws, { hybrid_cloud_tenant_id: 'tenant-a' });
    assert.equal(hs.id, aws.getHyperswitchHostName({ hybrid_cloud_tenant_id: 'tenant-a' }));
    assert.match(hs.id, /^hst-[0-9a-f]{8}$/);
    assert.equal(hs.instance_type, 't2.micro');
    assert.equal(hs.state, 'running');
    assert.equal(hs.tenant_id, 'tenant-a');
    assert.equal(hs.device_id, null);
    assert.match(hs.mgnt_ip, /^10\.20\.0\.\d+$/);
    assert.match(hs.data_ip, /^10\.20\.1\.\d+$/);
    assert.match(hs.vms_ip_0!, /^10\.20\.19[2-9]\.\d+$/);
    assert.match(hs.vms_ip_2!, /^10\.20\.22\d\.\d+$/);
    const inst = lab.state.instances.get(hs.instance_id)!;
    assert.equal(Buffer.from(inst.userData, 'base64').toString(), userData);
    const nics = [...lab.state.interfaces.values()].filter((n) => n.attachment?.instanceId === hs.instance_id);
    assert.equal(nics.length, 5);
    assert.ok(nics.every((n) => !n.sourceDestCheck));
    // The vms NICs carry the hyperswitch group, named in net_list and resolved to its id.
    const { hs_sg } = await aws.getSgs();
    const vmsGroups = nics.filter((n) => n.attachment!.deviceIndex >= 2).map((n) => n.groups);
    assert.deepEqual(vmsGroups, [[hs_sg], [hs_sg], [hs_sg]]);
    const again = await launch(aws, { hybrid_cloud_tenant_id: 'tenant-a' });
    assert.deepEqual(again, hs);
    assert.equal(live().length, 1);
  });

  test('getHyperswitchs filters ANDed; stopped ones are started; delete terminates, twice is fine', async () => {
    const v = await launch(aws, { hybrid_cloud_device_id: 'vm-1', hybrid_cloud_tenant_id: 'tenant-a' });
    const all = await aws.getHyperswitchs();
    assert.equal(all.length, 2);
    assert.deepEqual(
      (await aws.getHyperswitchs({ device_ids: ['vm-1'] })).map((h) => h.id),
      [v.id],
    );
    assert.equal((await aws.getHyperswitchs({ tenant_ids: ['tenant-a'] })).length, 2);
    assert.deepEqual(await aws.getHyperswitchs({ tenant_ids: ['tenant-a'], names: ['nope'] }), []);
    assert.deepEqual(
      (await aws.getHyperswitchs({ hyperswitch_ids: [v.id] })).map((h) => h.instance_id),
      [v.instance_id],
    );

    await aws.ec2.send(new StopInstancesCommand({ InstanceIds: [v.instance_id] }));
    const [stopped] = await aws.getHyperswitchs({ names: [v.id] });
    assert.equal(stopped?.state, 'stopped');
    await aws.startHyperswitchs([stopped!]);
    assert.equal((await aws.getHyperswitchs({ names: [v.id] }))[0]?.state, 'running');

    await aws.deleteHyperswitch(v.id);
    assert.deepEqual(await aws.getHyperswitchs({ names: [v.id] }), []);
    assert.equal(lab.state.instances.get(v.instance_id)?.state, 'terminated');
    await aws.deleteHyperswitch(v.id);
  });

  test('network interfaces: create with tags (idempotent), list by each filter, delete (twice is fine)', async () => {
    const [hs] = await aws.getHyperswitchs();
    const { vm_sg } = await aws.getSgs();
    const args = {
      port_id: 'port-1',
      device_id: 'vm-9',
      tenant_id: 'tenant-a',
      index: 0,
      subnet: lab.subnets.vms[0]!,
      security_group: vm_sg!,
      tags: { [NIC_TAGS.hyperswitch]: hs!.id, [NIC_TAGS.vpnPort]: '1194', [NIC_TAGS.flavor]: '0G' },
    };
    const nic = await aws.createNetworkInterface(args);
    assert.match(nic.id, /^eni-[0-9a-f]{17}$/);
    assert.equal(nic.port_id, 'port-1');
    assert.equal(nic.index, 0);
    assert.equal(nic.tags[NIC_TAGS.vpnPort], '1194');
    assert.match(nic.mac_address, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    assert.deepEqual(await aws.createNetworkInterface(args), nic);
    const other = await aws.createNetworkInterface({
      ...args,
      port_id: 'port-2',
      index: 1,
      subnet: lab.subnets.vms[1]!,
    });
    assert.deepEqual(await aws.getNetworkInterfaces({ private_ips: [nic.private_ip] }), [nic]);
    assert.deepEqual(await aws.getNetworkInterfaces({ names: [other.id] }), [other]);
    assert.deepEqual(
      (await aws.getNetworkInterfaces({ indexes: [1] })).map((n) => n.id),
      [other.id],
    );
    assert.equal((await aws.getNetworkInterfaces({ device_ids: ['vm-9'], tenant_ids: ['tenant-a'] })).length, 2);
    assert.deepEqual(
      (await aws.getNetworkInterfaces({ port_ids: ['port-2'] })).map((n) => n.id),
      [other.id],
    );
    // The hyperswitch's own NICs carry no port tag: they are not agentless ports.
    assert.equal((await aws.getNetworkInterfaces()).length, 2);
    await aws.deleteNetworkInterface(other.id);
    await aws.deleteNetworkInterface(other.id);
    assert.deepEqual(await aws.getNetworkInterfaces({ port_ids: ['port-2'] }), []);
  });

  test('a restarted server (a new driver) rebuilds the same view from the tags alone', async () => {
    const restarted = make();
    assert.deepEqual(await restarted.getHyperswitchs(), await aws.getHyperswitchs());
    assert.deepEqual(await restarted.getNetworkInterfaces(), await aws.getNetworkInterfaces());
    assert.equal((await restarted.getHyperswitchs()).length, 1);
    assert.equal((await restarted.getNetworkInterfaces()).length, 1);
  });

  test('throttling: RequestLimitExceeded is retried with the SDK backoff, and errors come out once spent', async () => {
    const n = () => lab.endpoint.calls.get('DescribeInstances') ?? 0;
    const n0 = n();
    lab.endpoint.inject({ action: 'DescribeInstances', code: 'RequestLimitExceeded', times: 2 });
    assert.equal((await aws.getHyperswitchs()).length, 1);
    assert.equal(n() - n0, 3);
    lab.endpoint.inject({ action: 'DescribeNetworkInterfaces', code: 'RequestLimitExceeded', times: 3 });
    await assert.rejects(aws.getNetworkInterfaces(), { name: 'RequestLimitExceeded' });
  });

  test('a launch that fails after RunInstances terminates its instance', async () => {
    const before = live().length;
    // More failures than the SDK's attempts: the source/dest change fails for good.
    lab.endpoint.inject({ action: 'ModifyNetworkInterfaceAttribute', code: 'InternalError', times: 3 });
    await assert.rejects(launch(aws, { hybrid_cloud_device_id: 'vm-half' }), { name: 'InternalError' });
    assert.equal(live().length, before);
    const id = aws.getHyperswitchHostName({ hybrid_cloud_device_id: 'vm-half' });
    assert.deepEqual(await aws.getHyperswitchs({ names: [id] }), []);
    const gone = [...lab.state.instances.values()].filter((i) => i.tags['hypernet:hyperswitch_id'] === id);
    assert.deepEqual(
      gone.map((i) => i.state),
      ['terminated'],
    );
    // Its NICs went with it (DeleteOnTermination).
    const left = await aws.ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [{ Name: 'attachment.instance-id', Values: [gone[0]!.instanceId] }],
      }),
    );
    assert.deepEqual(left.NetworkInterfaces, []);
  });

  test('custom routes: the hyper subnet routed to a hyperswitch, replaced on failover, deleted', async () => {
    const routes = new CustomRoutes(aws.ec2, lab.vpcId);
    const table = await routes.routeTableOf(lab.subnets.workload);
    assert.match(table, /^rtb-/);
    const [hs] = await aws.getHyperswitchs();
    const standby = await launch(aws, { hybrid_cloud_device_id: 'standby' });
    const eniOf = (instanceId: string) =>
      [...lab.state.interfaces.values()].find(
        (n) => n.attachment?.instanceId === instanceId && n.attachment.deviceIndex === 1,
      )!.networkInterfaceId;
    const cidr = '100.96.0.0/16';
    assert.equal(await routes.setRoute(table, cidr, eniOf(hs!.instance_id)), 'created');
    assert.equal(await routes.setRoute(table, cidr, eniOf(standby.instance_id)), 'replaced');
    assert.deepEqual(await new CustomRoutes(make().ec2, lab.vpcId).routes(table), [
      { cidr, networkInterfaceId: eniOf(standby.instance_id), state: 'active' },
    ]);
    await routes.setSourceDestCheck(eniOf(standby.instance_id), true);
    assert.equal(lab.state.interfaces.get(eniOf(standby.instance_id))?.sourceDestCheck, true);
    await routes.deleteRoute(table, cidr);
    await routes.deleteRoute(table, cidr);
    assert.deepEqual(await routes.routes(table), []);
  });

  test('security groups: rules converge to the wanted list; delete is idempotent', async () => {
    const routes = new CustomRoutes(aws.ec2, lab.vpcId);
    const hsGroup = (await aws.getSgs()).hs_sg!;
    const want = [
      { protocol: '-1', group: hsGroup },
      { protocol: 'tcp', from: 22, to: 22, cidr: '10.20.1.0/24' },
    ];
    const id = await routes.ensureSecurityGroup('hn-custom-route-vms', 'vms talk only to the hyperswitch', want);
    assert.equal(await routes.ensureSecurityGroup('hn-custom-route-vms', 'x', want), id);
    const rules = () =>
      lab.state.groups.get(id)!.ingress.map((r) => [r.ipProtocol, r.fromPort, r.cidrs[0], r.groupIds[0]]);
    assert.deepEqual(rules(), [
      ['-1', undefined, undefined, hsGroup],
      ['tcp', 22, '10.20.1.0/24', undefined],
    ]);
    await routes.ensureSecurityGroup('hn-custom-route-vms', 'x', [
      want[0]!,
      { protocol: 'udp', from: 53, to: 53, cidr: '10.20.0.0/16' },
    ]);
    assert.deepEqual(rules(), [
      ['-1', undefined, undefined, hsGroup],
      ['udp', 53, '10.20.0.0/16', undefined],
    ]);
    await routes.deleteSecurityGroup('hn-custom-route-vms');
    await routes.deleteSecurityGroup('hn-custom-route-vms');
    assert.equal(lab.state.groups.has(id), false);
  });

  test('the executable offers `aws`: its factory loads the SDK on first use', async () => {
    const driver = PROVIDERS.aws!({ ...deps, config: lab.config() });
    assert.equal(
      driver.getHyperswitchHostName({ hybrid_cloud_tenant_id: 'tenant-a' }),
      aws.getHyperswitchHostName({ hybrid_cloud_tenant_id: 'tenant-a' }),
    );
    assert.deepEqual(await driver.getHyperswitchs(), await aws.getHyperswitchs());
  });
});
