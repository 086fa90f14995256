/**
 * The lab's `vpc` cloud (`lab up --custom-route-vms N`, docs/custom-route.md): the EC2 endpoint daemon
 * (vpc-endpoint.ts), two custom-route hyperswitches launched with RunInstances whose ENIs are plugged
 * into their namespaces, and VMs that have nothing but an ENI made with CreateNetworkInterface. Each
 * VM's hyper port carries `hypernet:custom_route` and is bound to the active hyperswitch; the server's
 * custom-route controller (the `agentless:` cloud `vpc`, provider aws) then makes the VPC's routes,
 * source/dest checks and security groups. An `in-addition` VM runs its user_data's runcmd, as
 * cloud-init would.
 */
import { join } from 'node:path';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { CUSTOM_ROUTE_PROFILE_KEY, CUSTOM_ROUTE_USER_DATA_KEY } from '../model/custom-route.js';
import type { Port } from '../model/types.js';
import { startAgents } from './agent-processes.js';
import { runcmdFromUserData } from './cloud-init.js';
import type { LabHandle } from './handle.js';
import { tailLog } from './logs.js';
import type { VpcPlan } from './plan.js';
import { HYPERNET_BIN, isOurs, startDaemon, waitFor } from './processes.js';
import type { LabVpcHyperswitchRecord, LabVpcVmRecord } from './state.js';
import { requestPlug } from './vpc-control.js';
import { describeVpc, type Ec2Sdk, vpcEc2 } from './vpc-ec2.js';
import { controlSocket, readVpcEndpoint, type VpcEndpointInfo } from './vpc-endpoint.js';

/** The pid-file and log name of the endpoint daemon. */
export const VPC_ENDPOINT_NAME = 'vpc-endpoint';

function vpcOf(lab: Pick<LabHandle, 'plan'>): VpcPlan {
  const vpc = lab.plan.vpc;
  if (!vpc) throw new Error('the lab has no vpc cloud');
  return vpc;
}

/** Starts the endpoint daemon and waits until it has written its address file. */
export async function startVpcEndpoint(lab: Pick<LabHandle, 'plan' | 'clock'>): Promise<VpcEndpointInfo> {
  const vpc = vpcOf(lab);
  const p = lab.plan.paths;
  const logFile = join(p.logDir, `${VPC_ENDPOINT_NAME}.log`);
  const pid = startDaemon({
    name: VPC_ENDPOINT_NAME,
    cmd: process.execPath,
    // The state file's path names the state directory: `lab down` knows the daemon by it.
    args: [HYPERNET_BIN, 'lab', 'vpc-endpoint', '--lab', p.stateFile],
    logFile,
    pidDir: p.pidDir,
  });
  // A daemon that exited ends the wait at once (a throw inside the probe would only be retried).
  const r = await waitFor(
    'the vpc EC2 endpoint',
    async () => (isOurs(pid, p.marker) ? readVpcEndpoint(vpc) : 'exited'),
    lab.clock,
    20_000,
    50,
  );
  if (r === 'exited') throw new Error(`the vpc endpoint exited; its log:\n${tailLog(logFile)}`);
  return r;
}

/** The server's `agentless:` options of the cloud `vpc` (provider aws on the lab's endpoint). */
export function vpcServerCloud(vpc: VpcPlan): Record<string, unknown> {
  const info = readVpcEndpoint(vpc);
  if (!info) throw new Error('the vpc EC2 endpoint has not written its address file');
  return {
    provider: 'aws',
    cloud: vpc.label,
    aws_vpc: info.vpcId,
    aws_endpoint_url: info.url,
    aws_access_key_id: info.accessKeyId,
    aws_secret_access_key: info.secretAccessKey,
    aws_region_name: info.region,
    aws_hs_image_id: info.imageId,
    vms_cidr: [vpc.subnetCidr],
  };
}

/**
 * The groups the lab makes its ENIs with, by role, as a user's own groups. The VPC's default group,
 * which an ENI made without a group joins, would let any two ENIs talk directly. These allow nothing
 * in, except one thing: another VM reaches an `in-addition` VM's hyper IP directly, by the /32 route
 * to its ENI and from its VPC address (docs/custom-route.md), so the in-addition VMs admit the VMs.
 */
export const LAB_VPC_GROUPS = {
  hyperswitches: 'lab-vpc-hyperswitches',
  vms: 'lab-vpc-vms',
  inAddition: 'lab-vpc-in-addition',
} as const;

/** Endpoint info and the SDK, or an error naming what is missing. */
async function ec2(vpc: VpcPlan): Promise<{ info: VpcEndpointInfo; sdk: Ec2Sdk; client: EC2Client }> {
  const info = readVpcEndpoint(vpc);
  if (!info) throw new Error('the vpc EC2 endpoint is not running');
  return { info, ...(await vpcEc2(info)) };
}

/**
 * Makes the lab's groups (LAB_VPC_GROUPS), launches the hyperswitches as instances (RunInstances, one
 * NIC in the subnet), plugs each instance's ENI into its namespace, records them and starts their
 * agents with `--custom-route-interface`.
 */
export async function launchVpcHyperswitches(lab: LabHandle): Promise<void> {
  const vpc = vpcOf(lab);
  const { info, sdk, client } = await ec2(vpc);
  const socket = controlSocket(vpc);
  try {
    const group = async (name: string) =>
      (
        await client.send(
          new sdk.CreateSecurityGroupCommand({
            GroupName: name,
            Description: `hypernet lab ${name}`,
            VpcId: info.vpcId,
          }),
        )
      ).GroupId!;
    const groups = {
      hyperswitches: await group(LAB_VPC_GROUPS.hyperswitches),
      vms: await group(LAB_VPC_GROUPS.vms),
      inAddition: await group(LAB_VPC_GROUPS.inAddition),
    };
    await client.send(
      new sdk.AuthorizeSecurityGroupIngressCommand({
        GroupId: groups.inAddition,
        IpPermissions: [
          { IpProtocol: '-1', UserIdGroupPairs: [{ GroupId: groups.vms }, { GroupId: groups.inAddition }] },
        ],
      }),
    );
    const records: LabVpcHyperswitchRecord[] = [];
    for (const h of vpc.hyperswitches) {
      const r = await client.send(
        new sdk.RunInstancesCommand({
          ImageId: info.imageId,
          InstanceType: 't2.micro',
          MinCount: 1,
          MaxCount: 1,
          NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: info.subnetId, Groups: [groups.hyperswitches] }],
          TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: h.hostId }] }],
        }),
      );
      const inst = r.Instances?.[0];
      const nic = inst?.NetworkInterfaces?.[0];
      if (!inst?.InstanceId || !nic?.NetworkInterfaceId || !nic.PrivateIpAddress)
        throw new Error(`RunInstances for ${h.hostId} answered no instance with an interface`);
      await requestPlug(socket, { eni: nic.NetworkInterfaceId, netns: h.hyperswitchNs });
      records.push({
        hostId: h.hostId,
        instanceId: inst.InstanceId,
        eni: nic.NetworkInterfaceId,
        vpcIp: nic.PrivateIpAddress,
      });
    }
    lab.state.vpc = {
      url: info.url,
      vpcId: info.vpcId,
      subnetId: info.subnetId,
      routeTableId: info.routeTableId,
      groups,
      hyperswitches: records,
      vms: [],
    };
    lab.save();
  } finally {
    client.destroy();
  }
  await startAgents(lab, vpc.hyperswitches);
}

/**
 * Makes each VM: its ENI (CreateNetworkInterface) plugged into its namespace, its custom-route port
 * bound to the active hyperswitch and, for `in-addition`, its user_data's runcmd run in the VM.
 */
export async function addVpcVms(lab: LabHandle, networkId: string): Promise<LabVpcVmRecord[]> {
  const vpc = vpcOf(lab);
  const record = lab.state.vpc;
  if (!record) throw new Error('the vpc hyperswitches are not launched');
  const active = record.hyperswitches[0]!;
  const { info, sdk, client } = await ec2(vpc);
  try {
    const vms = await Promise.all(
      vpc.vms.map(async (vm): Promise<LabVpcVmRecord> => {
        const r = await client.send(
          new sdk.CreateNetworkInterfaceCommand({
            SubnetId: info.subnetId,
            Description: `lab ${vm.name}`,
            Groups: [vm.mode === 'in-addition' ? record.groups.inAddition : record.groups.vms],
          }),
        );
        const eni = r.NetworkInterface?.NetworkInterfaceId;
        const vpcIp = r.NetworkInterface?.PrivateIpAddress;
        if (!eni || !vpcIp) throw new Error(`CreateNetworkInterface for ${vm.name} answered no interface`);
        await requestPlug(controlSocket(vpc), { eni, netns: vm.ns });
        const port = await lab.api.create<Port>('ports', 'port', {
          network_id: networkId,
          name: vm.name,
          device_owner: 'compute:lab',
          device_id: vm.name,
          'binding:host_id': active.hostId,
          'binding:profile': { [CUSTOM_ROUTE_PROFILE_KEY]: { mode: vm.mode, interface: eni, vpc_ip: vpcIp } },
        });
        const ip = port.fixed_ips[0]?.ip_address ?? '';
        if (vm.mode === 'in-addition') await runUserData(lab, vm.name, vm.ns, port.id);
        return {
          name: vm.name,
          ns: vm.ns,
          mode: vm.mode,
          eni,
          vpcIp,
          portId: port.id,
          mac: port.mac_address,
          ip,
          hostId: active.hostId,
        };
      }),
    );
    record.vms = vms;
    lab.save();
    return vms;
  } finally {
    client.destroy();
  }
}

/** Plays cloud-init for an in-addition VM: the runcmd of the user_data its port's binding carries. */
async function runUserData(lab: LabHandle, name: string, ns: string, portId: string): Promise<void> {
  const userData = await waitFor(
    `${name}'s user_data in binding:vif_details`,
    async () => {
      const p = await lab.api.show<Port>('ports', 'port', portId);
      const u = p['binding:vif_details']?.[CUSTOM_ROUTE_USER_DATA_KEY];
      return typeof u === 'string' && u ? u : undefined;
    },
    lab.clock,
    15_000,
    200,
  );
  for (const argv of runcmdFromUserData(userData)) {
    const r = await lab.exec('ip', ['netns', 'exec', ns, ...argv], { allowFail: true, timeoutMs: 10_000 });
    if (r.code !== 0) throw new Error(`${name}: runcmd ${argv.join(' ')} failed: ${r.stderr.trim()}`);
  }
}

/**
 * Waits until the server's custom-route controller has made the VPC match the ports: the hyper subnet
 * routed to the active hyperswitch's ENI (state active), that ENI's check off, each in-addition VM's
 * /32 to its ENI with the check off, every ENI in a group of the controller's besides the lab's, and
 * the VMs' ports ACTIVE on the hyperswitch.
 */
export async function waitVpcReady(lab: LabHandle, hyperCidr: string, timeoutMs = 30_000): Promise<void> {
  const vpc = vpcOf(lab);
  const record = lab.state.vpc;
  const info = readVpcEndpoint(vpc);
  if (!record || !info) throw new Error('the vpc cloud is not up');
  const hs = record.hyperswitches[0]!.eni;
  const checkOff = new Set([hs, ...record.vms.filter((v) => v.mode === 'in-addition').map((v) => v.eni)]);
  const wanted = [
    { destination: hyperCidr, target: hs },
    ...record.vms.filter((v) => v.mode === 'in-addition').map((v) => ({ destination: `${v.ip}/32`, target: v.eni })),
  ];
  await waitFor(
    `the server's custom-route controller to route ${hyperCidr} to ${hs}, with checks and groups, and the ports ACTIVE`,
    async () => {
      const { routes, enis } = await describeVpc(info, [hs, ...record.vms.map((v) => v.eni)]);
      const routed = wanted.every((w) => routes.some((r) => r.destination === w.destination && r.target === w.target));
      const active = routes.some((r) => r.destination === hyperCidr && r.target === hs && r.state === 'active');
      const enisDone = enis.every(
        (e) =>
          (!checkOff.has(e.id) || !e.sourceDestCheck) && e.groupNames.length > 0 && !e.groupNames.includes('default'),
      );
      if (!routed || !active || !enisDone) return false;
      const ports = await Promise.all(record.vms.map((v) => lab.api.show<Port>('ports', 'port', v.portId)));
      return ports.every((p) => p.status === 'ACTIVE');
    },
    lab.clock,
    timeoutMs,
    250,
  );
}
