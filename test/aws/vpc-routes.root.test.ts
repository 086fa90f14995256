/**
 * The AWS driver changes real routes (needs root): the lab EC2 endpoint backed by a VPC router
 * namespace (NetnsVpcDataplane). A VM and a hyperswitch are namespaces plugged into it; the driver's
 * CreateRoute puts the hyper subnet behind the hyperswitch in the router's table, and the hyperswitch
 * is reached through it only once its source/destination check is off. Namespaces are `hnH-<pid>-…`,
 * stale ones of dead runs swept first, all removed in after(). Traffic: single pings with a deadline.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateNetworkInterfaceCommand } from '@aws-sdk/client-ec2';
import { realClock } from '../../src/common/clock.js';
import { realExec } from '../../src/common/exec.js';
import { listNetns } from '../../src/common/netns.js';
import { CustomRoutes } from '../../src/aws/custom-route.js';
import { NetnsVpcDataplane } from '../../src/lab/ec2/netns-dataplane.js';
import { addNetns } from '../../src/lab/netns.js';
import { sweepNamespaces } from '../../src/lab/topology.js';
import { isRoot, needsRoot } from '../../testkit/preconditions.js';
import { startEc2Lab, type Ec2Lab } from '../../testkit/ec2-endpoint.js';

const PREFIX = `hnH-${process.pid}-`;
const HYPER = '10.99.0.0/16';
const PEER = '10.99.0.7';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** True when one ping from `ns` to `ip` is answered within a second. */
const pings = async (ns: string, ip: string): Promise<boolean> =>
  (await realExec('ip', ['netns', 'exec', ns, 'ping', '-c', '1', '-W', '1', ip], { allowFail: true })).code === 0;

describe('AWS driver → EC2 endpoint → VPC router namespace', { skip: needsRoot(), timeout: 60_000 }, () => {
  let lab: Ec2Lab;
  let vpc: NetnsVpcDataplane;
  let routes: CustomRoutes;
  let table: string;
  let hsEni: string;
  const vm = `${PREFIX}vm`;
  const hs = `${PREFIX}hs`;

  before(async () => {
    if (!isRoot()) return;
    for (const ns of await listNetns(realExec)) {
      const m = /^hnH-(\d+)-/.exec(ns);
      if (m && !alive(Number(m[1]))) await sweepNamespaces(realExec, realClock, m[0]);
    }
    vpc = new NetnsVpcDataplane(realExec, `${PREFIX}router`);
    await vpc.create();
    lab = await startEc2Lab({ dataplane: vpc });
    const ec2 = lab.client();
    routes = new CustomRoutes(ec2, lab.vpcId);
    table = await routes.routeTableOf(lab.subnets.workload);
    const eni = async () =>
      (await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: lab.subnets.workload }))).NetworkInterface!
        .NetworkInterfaceId!;
    const vmEni = await eni();
    hsEni = await eni();
    for (const [ns, id] of [
      [vm, vmEni],
      [hs, hsEni],
    ] as const) {
      await addNetns(realExec, ns);
      await vpc.plug(lab.state.interfaces.get(id)!, '10.20.2.0/24', ns);
    }
    // The hyperswitch answers for a hyper IP: a stand-in for the peers behind it.
    await realExec('ip', ['-n', hs, 'addr', 'add', `${PEER}/32`, 'dev', 'lo']);
  });
  after(async () => {
    await lab?.close();
    await sweepNamespaces(realExec, realClock, PREFIX);
  });

  test('CreateRoute edits the router; the source/dest check decides; DeleteRoute removes it', async () => {
    const hsIp = lab.state.interfaces.get(hsEni)!.privateIpAddress;
    assert.equal(await pings(vm, hsIp), true, 'the VM reaches the hyperswitch at its own address');
    assert.equal(await pings(vm, PEER), false, 'no route to the hyper subnet yet');

    assert.equal(await routes.setRoute(table, HYPER, hsEni), 'created');
    const shown = await realExec('ip', ['-n', vpc.ns, 'route', 'show', HYPER]);
    assert.match(
      shown.stdout,
      new RegExp(`^10\\.99\\.0\\.0/16 via ${hsIp.replaceAll('.', '\\.')} dev r[0-9a-f]{10} onlink`),
    );
    assert.equal(await pings(vm, PEER), false, "EC2's check drops packets not addressed to the hyperswitch");

    await routes.setSourceDestCheck(hsEni, false);
    assert.equal(await pings(vm, PEER), true, 'with the check off the hyperswitch gets the hyper subnet');
    await routes.setSourceDestCheck(hsEni, true);
    assert.equal(await pings(vm, PEER), false);
    await routes.setSourceDestCheck(hsEni, false);

    await routes.deleteRoute(table, HYPER);
    assert.equal((await realExec('ip', ['-n', vpc.ns, 'route', 'show', HYPER])).stdout.trim(), '');
    assert.equal(await pings(vm, PEER), false);
  });
});
