/**
 * The server's custom-route controller end to end, without root: a real server (SQLite, HTTP) whose
 * `agentless:` cloud is `provider: aws` on the lab's EC2 endpoint, agents registered and heart-beating
 * through the API, ports bound through the API; what EC2 holds is read back with the real SDK. Both
 * modes, migration off and back onto a hyperswitch, deletes, failover to a standby when the bound
 * hyperswitch stops heart-beating, a restart rebuilding from EC2, and throttling retried.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CreateNetworkInterfaceCommand,
  DeleteRouteCommand,
  DescribeNetworkInterfacesCommand,
  DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { ApiClient } from '../../src/client/api.js';
import { silentLogger } from '../../src/common/log.js';
import { CUSTOM_ROUTE_PROFILE_KEY } from '../../src/model/custom-route.js';
import { customRouteUserData } from '../../src/model/custom-route-userdata.js';
import type { Network, Port } from '../../src/model/types.js';
import { PROVIDERS } from '../../src/providers.js';
import { defaultConfig } from '../../src/server/config.js';
import { rebindPorts } from '../../src/server/custom-route/rebind.js';
import { serve, type RunningServer } from '../../src/server/serve.js';
import { startEc2Lab, type Ec2Lab } from '../../testkit/ec2-endpoint.js';
import { eventually } from '../../testkit/wait.js';

const CLOUD = 'aws-lab';
const HYPER = '10.99.0.0/24';
const VM_SG = 'hypernet-custom-route-vms';
const HS_SG = 'hypernet-custom-route-hyperswitches';

describe('custom-route controller (server → real SDK → lab EC2 endpoint)', { timeout: 90_000 }, () => {
  let lab: Ec2Lab;
  let ec2: EC2Client;
  let dataDir: string;
  let srv: RunningServer;
  let api: ApiClient;
  let table: string;
  let net: Network;
  const eni = { hsA: '', hsB: '', vm1: '', vm2: '' };
  const beating = new Set<string>();
  const agentIds = new Map<string, string>();
  let heart: NodeJS.Timeout;

  const start = async (): Promise<void> => {
    srv = await serve({
      host: '127.0.0.1',
      port: 0,
      dataDir,
      config: {
        ...defaultConfig(),
        // Short, for the failover; long enough that a restart's heartbeat gap is no failover.
        agentDownTime: 3,
        agentless: lab.config({ custom_route_resync_seconds: 3 }),
      },
      auth: { mode: 'noauth', defaultProjectId: defaultConfig().defaultProjectId },
      logger: silentLogger(),
      providers: PROVIDERS,
    });
    api = new ApiClient({ url: srv.url });
  };
  const newEni = async (subnet: string): Promise<string> =>
    (await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnet }))).NetworkInterface!.NetworkInterfaceId!;
  const routes = async (): Promise<Record<string, string>> => {
    const r = await ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: [table] }));
    return Object.fromEntries(
      (r.RouteTables?.[0]?.Routes ?? [])
        .filter((x) => x.NetworkInterfaceId)
        .map((x) => [x.DestinationCidrBlock!, x.NetworkInterfaceId!]),
    );
  };
  const nic = async (id: string) =>
    (await ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [id] }))).NetworkInterfaces![0]!;
  const groupId = async (name: string): Promise<string | undefined> =>
    (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: [name] }] })))
      .SecurityGroups?.[0]?.GroupId;
  const register = async (host: string, cloud: string, cri?: string): Promise<void> => {
    const a = await api.create<{ id: string }>('agents', 'agent', {
      host,
      agent_type: 'hypernet agent',
      binary: 'hypernet-agent',
      configurations: {
        tunneling_ip: '192.0.2.10',
        cloud,
        underlay_mtu: 1500,
        capabilities: ['vxlan', ...(cri ? ['custom-route'] : [])],
        ...(cri ? { custom_route_interface: cri } : {}),
      },
    });
    agentIds.set(host, a.id);
    beating.add(host);
  };
  const crPort = (vm: string, vpcIp: string, mode: string, host: string) =>
    api.create<Port>('ports', 'port', {
      network_id: net.id,
      'binding:host_id': host,
      'binding:profile': { [CUSTOM_ROUTE_PROFILE_KEY]: { mode, interface: vm, vpc_ip: vpcIp } },
    });
  const until = async (what: string, probe: () => Promise<boolean>, ms = 10_000) =>
    assert.ok(await eventually(probe, ms), `timed out waiting for ${what}`);

  before(async () => {
    lab = await startEc2Lab();
    ec2 = lab.client();
    dataDir = mkdtempSync(join(tmpdir(), 'hn-crc-'));
    eni.hsA = await newEni(lab.subnets.data);
    eni.hsB = await newEni(lab.subnets.data);
    eni.vm1 = await newEni(lab.subnets.workload);
    eni.vm2 = await newEni(lab.subnets.workload);
    table = lab.state.routeTableOf(lab.state.subnets.get(lab.subnets.workload)!)!.routeTableId;
    await start();
    heart = setInterval(() => {
      for (const h of beating)
        void api.update('agents', 'agent', agentIds.get(h)!, { heartbeat: true }).catch(() => undefined);
    }, 300);
    await register('hs-a', CLOUD, eni.hsA);
    await register('hs-b', CLOUD, eni.hsB);
    await register('plain-1', 'elsewhere');
    net = await api.create<Network>('networks', 'network', { name: 'cr-net' });
    await api.create('subnets', 'subnet', { network_id: net.id, cidr: HYPER, ip_version: 4 });
  });
  after(async () => {
    clearInterval(heart);
    await srv?.close();
    await lab?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test('the agent API takes custom_route_interface only in the ENI grammar', async () => {
    await assert.rejects(
      api.create('agents', 'agent', {
        host: 'bad-1',
        configurations: { tunneling_ip: '192.0.2.11', cloud: CLOUD, custom_route_interface: 'eni-XYZ; rm -rf /' },
      }),
      /custom_route_interface|ENI/,
    );
    const [a] = await api.list<{ configurations: Record<string, unknown> }>('agents', { host: 'hs-a' });
    assert.equal(a?.configurations.custom_route_interface, eni.hsA);
  });

  let p1: Port;
  let p2: Port;
  test('both modes: subnet route to the hyperswitch, /32 to the in-addition VM, checks off, groups', async () => {
    p1 = await crPort(eni.vm1, '10.20.2.10', 'instead', 'hs-a');
    p2 = await crPort(eni.vm2, '10.20.2.11', 'in-addition', 'hs-a');
    const ip2 = p2.fixed_ips[0]!.ip_address;
    await until('routes', async () => {
      const r = await routes();
      return r[HYPER] === eni.hsA && r[`${ip2}/32`] === eni.vm2;
    });
    await until('groups attached', async () => {
      const vmSg = await groupId(VM_SG);
      const hsSg = await groupId(HS_SG);
      const n = await Promise.all([nic(eni.vm1), nic(eni.vm2), nic(eni.hsA), nic(eni.hsB)]);
      return (
        !!vmSg &&
        !!hsSg &&
        n[0].Groups!.some((g) => g.GroupId === vmSg) &&
        n[1].Groups!.some((g) => g.GroupId === vmSg) &&
        n[2].Groups!.some((g) => g.GroupId === hsSg) &&
        n[3].Groups!.some((g) => g.GroupId === hsSg)
      );
    });
    assert.equal((await nic(eni.hsA)).SourceDestCheck, false);
    assert.equal((await nic(eni.hsB)).SourceDestCheck, false, 'a standby is ready before it is needed');
    assert.equal((await nic(eni.vm2)).SourceDestCheck, false, 'in-addition: EC2 must pass the hyper IP');
    assert.equal((await nic(eni.vm1)).SourceDestCheck, true, 'instead: the check stays on');
    // Other groups the ENI had (the VPC default) stay.
    assert.equal((await nic(eni.vm1)).Groups!.length, 2);
    const sgs = await ec2.send(
      new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: [VM_SG, HS_SG] }] }),
    );
    const byName = new Map(sgs.SecurityGroups!.map((g) => [g.GroupName!, g]));
    const sources = (name: string) =>
      byName
        .get(name)!
        .IpPermissions!.flatMap((p) => [
          ...(p.IpRanges ?? []).map((r) => `${p.IpProtocol} ${r.CidrIp}`),
          ...(p.UserIdGroupPairs ?? []).map((u) => `${p.IpProtocol} ${u.GroupId}`),
        ])
        .sort();
    assert.deepEqual(sources(VM_SG), [`-1 ${HYPER}`, `-1 ${byName.get(HS_SG)!.GroupId}`].sort());
    assert.deepEqual(sources(HS_SG), [`-1 ${HYPER}`, `-1 ${byName.get(VM_SG)!.GroupId}`].sort());
    // The in-addition VM's user_data, from the API.
    const shown = await api.show<Port>('ports', 'port', p2.id);
    assert.equal(shown['binding:vif_details']['hypernet:user_data'], customRouteUserData(ip2, [HYPER]));
    const plain = await api.show<Port>('ports', 'port', p1.id);
    assert.equal(plain['binding:vif_details']['hypernet:user_data'], undefined);
  });

  test('migration: off to a plain host loses the /32 and check; back on re-creates them; same hyper IP', async () => {
    const ip2 = p2.fixed_ips[0]!.ip_address;
    await api.update('ports', 'port', p2.id, { 'binding:host_id': 'plain-1', 'binding:profile': {} });
    await until('/32 gone', async () => !(`${ip2}/32` in (await routes())));
    await until('check back on', async () => (await nic(eni.vm2)).SourceDestCheck === true);
    const vmSg = await groupId(VM_SG);
    await until('group off', async () => !(await nic(eni.vm2)).Groups!.some((g) => g.GroupId === vmSg));
    assert.equal((await routes())[HYPER], eni.hsA, 'p1 still needs the subnet route');
    const back = await api.update<Port>('ports', 'port', p2.id, {
      'binding:host_id': 'hs-a',
      'binding:profile': {
        [CUSTOM_ROUTE_PROFILE_KEY]: { mode: 'in-addition', interface: eni.vm2, vpc_ip: '10.20.2.11' },
      },
    });
    assert.equal(back.fixed_ips[0]!.ip_address, ip2);
    assert.equal(back.mac_address, p2.mac_address);
    await until('/32 back', async () => (await routes())[`${ip2}/32`] === eni.vm2);
    await until('check off again', async () => (await nic(eni.vm2)).SourceDestCheck === false);
  });

  test('deleting the ports deletes their routes (the subnet route with the last one)', async () => {
    const ip2 = p2.fixed_ips[0]!.ip_address;
    await api.delete('ports', p2.id);
    await until('/32 gone', async () => !(`${ip2}/32` in (await routes())));
    assert.equal((await routes())[HYPER], eni.hsA);
    await api.delete('ports', p1.id);
    await until('subnet route gone', async () => !(HYPER in (await routes())));
  });

  let p3: Port;
  test('failover: the bound hyperswitch stops heart-beating; its port moves to the standby', async () => {
    p3 = await crPort(eni.vm1, '10.20.2.10', 'instead', 'hs-a');
    await until('route to hs-a', async () => (await routes())[HYPER] === eni.hsA);
    const t0 = Date.now();
    beating.delete('hs-a');
    await until('route to hs-b', async () => (await routes())[HYPER] === eni.hsB, 15_000);
    const took = Date.now() - t0;
    const moved = await api.show<Port>('ports', 'port', p3.id);
    assert.equal(moved['binding:host_id'], 'hs-b');
    assert.equal(moved.fixed_ips[0]!.ip_address, p3.fixed_ips[0]!.ip_address);
    // agent_down_time is 3 s, heartbeats have 1 s resolution, the tick is 0.75 s.
    assert.ok(took < 9_000, `failover took ${took} ms`);
    const metrics = await (await fetch(`${srv.url}/metrics`)).text();
    assert.match(metrics, /hypernet_custom_route_failovers_total\{cloud="aws-lab"\} 1/);
    // A second server deciding the same failover finds it done: the rebind is a compare-and-set.
    const ctx = { caller: { isAdmin: true, projectId: '' }, config: defaultConfig(), nowMs: Date.now() };
    assert.deepEqual(await rebindPorts(srv.store, ctx, [{ port: p3.id, from: 'hs-a', to: 'hs-c' }]), []);
    assert.equal((await api.show<Port>('ports', 'port', p3.id))['binding:host_id'], 'hs-b');
    // hs-a comes back: the port stays where it is (no flapping back).
    beating.add('hs-a');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await api.show<Port>('ports', 'port', p3.id))['binding:host_id'], 'hs-b');
    assert.equal((await routes())[HYPER], eni.hsB);
  });

  test('a restarted server rebuilds from EC2: repairs what changed, repeats nothing', async () => {
    await srv.close();
    // Behind its back: the route is deleted.
    await ec2.send(new DeleteRouteCommand({ RouteTableId: table, DestinationCidrBlock: HYPER }));
    const calls = () => ({
      create: lab.endpoint.calls.get('CreateRoute') ?? 0,
      replace: lab.endpoint.calls.get('ReplaceRoute') ?? 0,
      groups: lab.endpoint.calls.get('CreateSecurityGroup') ?? 0,
      modify: lab.endpoint.calls.get('ModifyNetworkInterfaceAttribute') ?? 0,
    });
    const before = calls();
    await start();
    await until('route re-created', async () => (await routes())[HYPER] === eni.hsB);
    await until('a clean pass', async () => srv.customRoutes[0]!.passes >= 2);
    const after = calls();
    assert.deepEqual(after, { ...before, create: before.create + 1 }, 'only the missing route was made');
  });

  test('throttling: RequestLimitExceeded past the SDK retries is retried by the controller', async () => {
    const ip = '10.20.2.12';
    const vm3 = await newEni(lab.subnets.workload);
    const before = lab.endpoint.calls.get('CreateRoute') ?? 0;
    // More failures than the SDK's 3 attempts: the pass fails, and the controller tries again later.
    lab.endpoint.inject({ action: 'CreateRoute', code: 'RequestLimitExceeded', times: 4 });
    const p4 = await crPort(vm3, ip, 'in-addition', 'hs-b');
    const hyperIp = p4.fixed_ips[0]!.ip_address;
    await until('route despite throttling', async () => (await routes())[`${hyperIp}/32`] === vm3, 15_000);
    assert.ok((lab.endpoint.calls.get('CreateRoute') ?? 0) >= before + 5);
  });
});
