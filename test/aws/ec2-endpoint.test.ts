/**
 * The lab's EC2 endpoint through the real AWS SDK over real HTTP (and by hand, signed with the SDK's
 * signer: GET, unknown actions): SigV4 checking, the policy (UnauthorizedOperation), DryRun, every
 * action the AWS driver uses with its EC2 errors, NextToken pagination, ClientToken idempotency and
 * throttling.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateNetworkInterfaceCommand,
  CreateRouteCommand,
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  DeleteNetworkInterfaceCommand,
  DeleteRouteCommand,
  DeleteSecurityGroupCommand,
  DeleteTagsCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand,
  DescribeTagsCommand,
  ModifyNetworkInterfaceAttributeCommand,
  paginateDescribeNetworkInterfaces,
  ReplaceRouteCommand,
  RevokeSecurityGroupIngressCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { AMI, KEYS, REGION, startEc2Lab, type Ec2Lab } from '../../testkit/ec2-endpoint.js';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '../../src/lab/ec2/sigv4.js';
import type { Ec2Dataplane } from '../../src/lab/ec2/state.js';

/** Runs `p` and returns the EC2 error code and HTTP status it failed with. */
async function failure(p: Promise<unknown>): Promise<{ code: string; status?: number }> {
  try {
    await p;
  } catch (e) {
    const err = e as Error & { $metadata?: { httpStatusCode?: number } };
    return { code: err.name, status: err.$metadata?.httpStatusCode };
  }
  assert.fail('expected the call to fail');
}

describe('lab EC2 endpoint (real SDK, real HTTP)', () => {
  let lab: Ec2Lab;
  let ec2: EC2Client;
  let table: string;
  const seen: string[] = [];
  const dataplane: Ec2Dataplane = {
    routeChanged: async (t, cidr, r) => void seen.push(`${t.routeTableId} ${cidr} ${r?.networkInterfaceId ?? '-'}`),
    sourceDestCheckChanged: async (n) => void seen.push(`${n.networkInterfaceId} check=${n.sourceDestCheck}`),
  };

  before(async () => {
    lab = await startEc2Lab({ dataplane });
    ec2 = lab.client({ maxAttempts: 1 });
    const r = await ec2.send(new DescribeRouteTablesCommand({}));
    table = r.RouteTables![0]!.RouteTableId!;
  });
  after(async () => {
    await lab?.close();
  });

  const eni = async (subnet = lab.subnets.workload): Promise<string> =>
    (await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnet }))).NetworkInterface!.NetworkInterfaceId!;

  test('SigV4: a wrong secret, an unknown key and no signature are refused with EC2 error bodies', async () => {
    const wrong = lab.client({ maxAttempts: 1 });
    wrong.config.credentials = async () => ({ accessKeyId: KEYS.full.id, secretAccessKey: 'not-the-secret' });
    assert.deepEqual(await failure(wrong.send(new DescribeRouteTablesCommand({}))), {
      code: 'SignatureDoesNotMatch',
      status: 403,
    });
    const unknown = lab.client({ maxAttempts: 1 });
    unknown.config.credentials = async () => ({ accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: 'x' });
    assert.deepEqual(await failure(unknown.send(new DescribeRouteTablesCommand({}))), {
      code: 'AuthFailure',
      status: 401,
    });
    const raw = await fetch(lab.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=DescribeRouteTables&Version=2016-11-15',
    });
    assert.equal(raw.status, 401);
    const body = await raw.text();
    assert.match(
      body,
      /<Response><Errors><Error><Code>AuthFailure<\/Code><Message>[^<]+<\/Message><\/Error><\/Errors>/,
    );
    assert.match(body, /<RequestID>[0-9a-f-]{36}<\/RequestID><\/Response>$/);
  });

  test('the Query protocol by hand: GET with a query string, InvalidAction, a missing Version', async () => {
    const signer = new SignatureV4({
      credentials: { accessKeyId: KEYS.full.id, secretAccessKey: KEYS.full.secret },
      region: REGION,
      service: 'ec2',
      sha256: Sha256,
    });
    const url = new URL(lab.url);
    const send = async (method: 'GET' | 'POST', params: Record<string, string>) => {
      const form = new URLSearchParams(params).toString();
      const signed = await signer.sign({
        method,
        protocol: 'http:',
        hostname: url.hostname,
        port: Number(url.port),
        path: '/',
        query: method === 'GET' ? params : {},
        headers: {
          host: url.host,
          ...(method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        },
        body: method === 'POST' ? form : undefined,
      });
      const r = await fetch(`${lab.url}/${method === 'GET' ? `?${form}` : ''}`, {
        method,
        headers: signed.headers,
        body: method === 'POST' ? form : undefined,
      });
      return { status: r.status, body: await r.text() };
    };
    const get = await send('GET', { Action: 'DescribeVpcs', Version: '2016-11-15' });
    assert.equal(get.status, 200);
    assert.match(
      get.body,
      /^<\?xml version="1.0" encoding="UTF-8"\?>\n<DescribeVpcsResponse xmlns="http:\/\/ec2\.amazonaws\.com\/doc\/2016-11-15\/"><requestId>/,
    );
    assert.match(get.body, new RegExp(`<vpcSet><item><vpcId>${lab.vpcId}</vpcId>`));
    const bad = await send('POST', { Action: 'LaunchRockets', Version: '2016-11-15' });
    assert.equal(bad.status, 400);
    assert.match(bad.body, /<Code>InvalidAction<\/Code>/);
    const noVersion = await send('POST', { Action: 'DescribeVpcs' });
    assert.match(
      noVersion.body,
      /<Code>MissingParameter<\/Code><Message>The request must contain the parameter Version</,
    );
  });

  test('the policy: a read-only key describes but may not change (UnauthorizedOperation); DryRun', async () => {
    const ro = lab.client({ key: 'readonly', maxAttempts: 1 });
    assert.equal((await ro.send(new DescribeRouteTablesCommand({}))).RouteTables?.length, 1);
    const route = { RouteTableId: table, DestinationCidrBlock: '100.64.9.0/24', GatewayId: 'local' };
    assert.deepEqual(await failure(ro.send(new CreateRouteCommand(route))), {
      code: 'UnauthorizedOperation',
      status: 403,
    });
    assert.deepEqual(await failure(ro.send(new CreateRouteCommand({ ...route, DryRun: true }))), {
      code: 'UnauthorizedOperation',
      status: 403,
    });
    assert.deepEqual(await failure(ec2.send(new CreateRouteCommand({ ...route, DryRun: true }))), {
      code: 'DryRunOperation',
      status: 412,
    });
  });

  test('routes: create, duplicate, replace, delete, and the NotFound/Malformed errors', async () => {
    const [a, b] = [await eni(), await eni()];
    seen.length = 0;
    const cidr = '100.64.0.0/16';
    await ec2.send(new CreateRouteCommand({ RouteTableId: table, DestinationCidrBlock: cidr, NetworkInterfaceId: a }));
    const dup = ec2.send(
      new CreateRouteCommand({ RouteTableId: table, DestinationCidrBlock: cidr, NetworkInterfaceId: b }),
    );
    assert.equal((await failure(dup)).code, 'RouteAlreadyExists');
    await ec2.send(new ReplaceRouteCommand({ RouteTableId: table, DestinationCidrBlock: cidr, NetworkInterfaceId: b }));
    const rt = (await ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: [table] }))).RouteTables![0]!;
    const route = rt.Routes!.find((r) => r.DestinationCidrBlock === cidr)!;
    assert.equal(route.NetworkInterfaceId, b);
    // Not attached to an instance: EC2 shows such a route as a blackhole.
    assert.equal(route.State, 'blackhole');
    assert.equal(route.Origin, 'CreateRoute');
    const byFilter = await ec2.send(
      new DescribeRouteTablesCommand({ Filters: [{ Name: 'route.network-interface-id', Values: [b] }] }),
    );
    assert.deepEqual(
      byFilter.RouteTables?.map((t) => t.RouteTableId),
      [table],
    );
    await ec2.send(new DeleteRouteCommand({ RouteTableId: table, DestinationCidrBlock: cidr }));
    assert.deepEqual(seen, [`${table} ${cidr} ${a}`, `${table} ${cidr} ${b}`, `${table} ${cidr} -`]);
    const codes = [
      await failure(ec2.send(new DeleteRouteCommand({ RouteTableId: table, DestinationCidrBlock: cidr }))),
      await failure(
        ec2.send(new ReplaceRouteCommand({ RouteTableId: table, DestinationCidrBlock: cidr, NetworkInterfaceId: a })),
      ),
      await failure(
        ec2.send(
          new CreateRouteCommand({
            RouteTableId: 'rtb-0123456789abcdef0',
            DestinationCidrBlock: cidr,
            NetworkInterfaceId: a,
          }),
        ),
      ),
      await failure(ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: ['rtb-nothex'] }))),
      await failure(
        ec2.send(
          new CreateRouteCommand({ RouteTableId: table, DestinationCidrBlock: '100.64.0.1/16', NetworkInterfaceId: a }),
        ),
      ),
      await failure(
        ec2.send(
          new CreateRouteCommand({
            RouteTableId: table,
            DestinationCidrBlock: cidr,
            NetworkInterfaceId: 'eni-0123456789abcdef0',
          }),
        ),
      ),
      await failure(ec2.send(new DeleteRouteCommand({ RouteTableId: table, DestinationCidrBlock: '10.20.0.0/16' }))),
    ].map((f) => f.code);
    assert.deepEqual(codes, [
      'InvalidRoute.NotFound',
      'InvalidRoute.NotFound',
      'InvalidRouteTableID.NotFound',
      'InvalidRouteTableID.Malformed',
      'InvalidParameterValue',
      'InvalidNetworkInterfaceID.NotFound',
      'InvalidParameterValue',
    ]);
  });

  test('network interfaces: source/dest check, NextToken pages, ClientToken, delete', async () => {
    const before = (await ec2.send(new DescribeNetworkInterfacesCommand({}))).NetworkInterfaces!.length;
    const made = [];
    for (let i = 0; i < 12; i++) made.push(await eni(lab.subnets.vms[0]));
    seen.length = 0;
    await ec2.send(
      new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: made[0], SourceDestCheck: { Value: false } }),
    );
    assert.deepEqual(seen, [`${made[0]} check=false`]);
    const one = await ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [made[0]!] }));
    assert.equal(one.NetworkInterfaces?.[0]?.SourceDestCheck, false);

    const filter = [{ Name: 'subnet-id', Values: [lab.subnets.vms[0]!] }];
    const first = await ec2.send(new DescribeNetworkInterfacesCommand({ Filters: filter, MaxResults: 5 }));
    assert.equal(first.NetworkInterfaces?.length, 5);
    assert.ok(first.NextToken);
    const pages: number[] = [];
    const ids = new Set<string>();
    for await (const p of paginateDescribeNetworkInterfaces({ client: ec2, pageSize: 5 }, { Filters: filter })) {
      pages.push(p.NetworkInterfaces!.length);
      for (const n of p.NetworkInterfaces!) ids.add(n.NetworkInterfaceId!);
    }
    assert.deepEqual(pages, [5, 5, 2]);
    assert.deepEqual([...ids].sort(), [...made].sort());
    assert.equal(
      (await failure(ec2.send(new DescribeNetworkInterfacesCommand({ NextToken: 'bm90LWEtdG9rZW4', MaxResults: 5 }))))
        .code,
      'InvalidPaginationToken',
    );
    assert.equal(
      (await failure(ec2.send(new DescribeRouteTablesCommand({ NextToken: first.NextToken, MaxResults: 5 })))).code,
      'InvalidPaginationToken',
    );
    assert.equal(
      (await failure(ec2.send(new DescribeNetworkInterfacesCommand({ MaxResults: 2 })))).code,
      'InvalidParameterValue',
    );

    const args = { SubnetId: lab.subnets.workload, ClientToken: 'port-1-attempt' };
    const x = await ec2.send(new CreateNetworkInterfaceCommand(args));
    const y = await ec2.send(new CreateNetworkInterfaceCommand(args));
    assert.equal(y.NetworkInterface?.NetworkInterfaceId, x.NetworkInterface?.NetworkInterfaceId);
    assert.equal(y.ClientToken, 'port-1-attempt');
    const total = (await ec2.send(new DescribeNetworkInterfacesCommand({}))).NetworkInterfaces!.length;
    assert.equal(total, before + 12 + 1);
    const other = ec2.send(new CreateNetworkInterfaceCommand({ ...args, SubnetId: lab.subnets.data }));
    assert.equal((await failure(other)).code, 'IdempotentParameterMismatch');

    const id = x.NetworkInterface!.NetworkInterfaceId!;
    await ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: id }));
    assert.equal(
      (await failure(ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: id })))).code,
      'InvalidNetworkInterfaceID.NotFound',
    );
  });

  test('security groups: create, rules in and out, duplicates, dependency, delete', async () => {
    const name = 'hn-vm-sg';
    const g = await ec2.send(new CreateSecurityGroupCommand({ GroupName: name, Description: 'vms', VpcId: lab.vpcId }));
    const id = g.GroupId!;
    assert.match(id, /^sg-[0-9a-f]{17}$/);
    assert.equal(
      (await failure(ec2.send(new CreateSecurityGroupCommand({ GroupName: name, Description: 'x', VpcId: lab.vpcId }))))
        .code,
      'InvalidGroup.Duplicate',
    );
    const rule = { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '10.20.1.0/24' }] };
    const all = { IpProtocol: '-1', UserIdGroupPairs: [{ GroupId: id }] };
    const auth = await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: id, IpPermissions: [rule, all] }));
    assert.equal(auth.Return, true);
    assert.equal(auth.SecurityGroupRules?.length, 2);
    assert.equal(
      (await failure(ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: id, IpPermissions: [rule] })))).code,
      'InvalidPermission.Duplicate',
    );
    const d = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: [name] }] }));
    const perms = d.SecurityGroups![0]!.IpPermissions!;
    assert.deepEqual(
      perms.map((p) => [p.IpProtocol, p.FromPort, p.ToPort, p.IpRanges?.[0]?.CidrIp, p.UserIdGroupPairs?.[0]?.GroupId]),
      [
        ['tcp', 22, 22, '10.20.1.0/24', undefined],
        ['-1', undefined, undefined, undefined, id],
      ],
    );
    await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: id, IpPermissions: [rule] }));
    assert.equal(
      (await failure(ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: id, IpPermissions: [rule] })))).code,
      'InvalidPermission.NotFound',
    );
    const n = (await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: lab.subnets.workload, Groups: [id] })))
      .NetworkInterface!.NetworkInterfaceId!;
    assert.equal(
      (await failure(ec2.send(new DeleteSecurityGroupCommand({ GroupId: id })))).code,
      'DependencyViolation',
    );
    await ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: n }));
    await ec2.send(new DeleteSecurityGroupCommand({ GroupId: id }));
    assert.equal(
      (await failure(ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [id] })))).code,
      'InvalidGroup.NotFound',
    );
  });

  test('instances: RunInstances with user_data, tags and ClientToken; terminate frees the NICs', async () => {
    const userData = Buffer.from('#cloud-config\nruncmd: [hypernet agent]\n').toString('base64');
    const run = {
      ImageId: AMI,
      InstanceType: 't2.micro' as const,
      MinCount: 1,
      MaxCount: 1,
      UserData: userData,
      ClientToken: 'launch-hs-1',
      NetworkInterfaces: [
        { DeviceIndex: 0, SubnetId: lab.subnets.mgnt },
        { DeviceIndex: 1, SubnetId: lab.subnets.data },
      ],
      TagSpecifications: [
        { ResourceType: 'instance' as const, Tags: [{ Key: 'hypernet:hyperswitch_id', Value: 'hst-1' }] },
      ],
    };
    const r1 = await ec2.send(new RunInstancesCommand(run));
    const r2 = await ec2.send(new RunInstancesCommand(run));
    const id = r1.Instances![0]!.InstanceId!;
    assert.equal(r2.Instances![0]!.InstanceId, id);
    assert.equal(r1.Instances![0]!.State?.Name, 'pending');
    assert.equal(lab.state.instances.get(id)?.userData, userData);
    const d = await ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'tag:hypernet:hyperswitch_id', Values: ['hst-1'] }] }),
    );
    const inst = d.Reservations![0]!.Instances![0]!;
    assert.equal(inst.State?.Name, 'running');
    assert.deepEqual(
      inst.NetworkInterfaces?.map((n) => n.Attachment?.DeviceIndex),
      [0, 1],
    );
    assert.match(inst.PrivateIpAddress!, /^10\.20\.0\.\d+$/);
    assert.equal(
      (
        await failure(
          ec2.send(new RunInstancesCommand({ ...run, ClientToken: undefined, ImageId: 'ami-0000000000000000f' })),
        )
      ).code,
      'InvalidAMIID.NotFound',
    );
    const t = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    assert.deepEqual(
      t.TerminatingInstances?.map((x) => [x.PreviousState?.Name, x.CurrentState?.Name]),
      [['running', 'terminated']],
    );
    const nics = await ec2.send(
      new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [id] }] }),
    );
    assert.equal(nics.NetworkInterfaces?.length, 0);
    assert.equal(
      (await failure(ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] })))).code,
      'InvalidInstanceID.NotFound',
    );
  });

  test('tags: CreateTags, DescribeTags by key and resource, DeleteTags', async () => {
    const id = await eni();
    await ec2.send(new CreateTagsCommand({ Resources: [id, table], Tags: [{ Key: 'hypernet:role', Value: 'x' }] }));
    const d = await ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'key', Values: ['hypernet:role'] }] }));
    assert.deepEqual(
      d.Tags?.map((t) => [t.ResourceId, t.ResourceType, t.Value]).sort(),
      [
        [id, 'network-interface', 'x'],
        [table, 'route-table', 'x'],
      ].sort(),
    );
    await ec2.send(new DeleteTagsCommand({ Resources: [id], Tags: [{ Key: 'hypernet:role' }] }));
    const left = await ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [id] }] }));
    assert.deepEqual(left.Tags, []);
    assert.equal(
      (
        await failure(
          ec2.send(new CreateTagsCommand({ Resources: ['eni-0123456789abcdef0'], Tags: [{ Key: 'a', Value: 'b' }] })),
        )
      ).code,
      'InvalidNetworkInterfaceID.NotFound',
    );
  });

  test('throttling: RequestLimitExceeded is retried by the SDK, and surfaces once its attempts are spent', async () => {
    const retrying = lab.client();
    const calls = () => lab.endpoint.calls.get('DescribeRouteTables') ?? 0;
    const n0 = calls();
    lab.endpoint.inject({ action: 'DescribeRouteTables', code: 'RequestLimitExceeded', times: 2 });
    const r = await retrying.send(new DescribeRouteTablesCommand({}));
    assert.equal(r.RouteTables?.length, 1);
    assert.equal(r.$metadata.attempts, 3);
    assert.equal(calls() - n0, 3);
    // The SDK's standard mode makes 3 attempts: three refusals spend them all.
    lab.endpoint.inject({ action: 'DescribeRouteTables', code: 'RequestLimitExceeded', times: 3 });
    assert.deepEqual(await failure(retrying.send(new DescribeRouteTablesCommand({}))), {
      code: 'RequestLimitExceeded',
      status: 503,
    });
    assert.equal(calls() - n0, 6);
  });
});

describe('lab EC2 endpoint: a rate limit per access key', () => {
  test('a burst beyond the bucket is RequestLimitExceeded', async () => {
    const lab = await startEc2Lab({ rateLimit: { perSecond: 0.001, burst: 3 } });
    try {
      const ec2 = lab.client({ maxAttempts: 1 });
      for (let i = 0; i < 3; i++) await ec2.send(new DescribeRouteTablesCommand({}));
      assert.deepEqual(await failure(ec2.send(new DescribeRouteTablesCommand({}))), {
        code: 'RequestLimitExceeded',
        status: 503,
      });
      // Another key has its own bucket.
      const ro = lab.client({ key: 'readonly', maxAttempts: 1 });
      assert.equal((await ro.send(new DescribeRouteTablesCommand({}))).RouteTables?.length, 1);
    } finally {
      await lab.close();
    }
  });
});
