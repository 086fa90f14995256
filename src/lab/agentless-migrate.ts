/**
 * Moving an agentless lab VM to another cloud: `PUT /v2.0/agentlessports/{id} {"cloud": …}` gives the
 * VM namespace a provider NIC of the target cloud (and removes the old one), prepares and activates the
 * hyper port on the target cloud's hyperswitch and answers the new user_data; the VM then switches its
 * stock OpenVPN client to it: stop the old client (its down hook restores the provider routes), write
 * the new files in its place and start it; the hyper IP comes back by DHCP over the new tunnel, the MAC
 * is the port's, in the client config. `hypernet lab migrate` dispatches here for agentless VMs.
 */
import type { AgentlessPortWire } from '../model/agentless.js';
import { bootFromUserData, CLIENT_TAP, clientDir, stopClient, waitForLease } from './agentless.js';
import type { CloudPlan } from './plan.js';
import type { LabVmRecord } from './state.js';
import type { World } from './world.js';

/** An agentless VM is recorded with the stock client's TAP as its interface. */
export const isAgentlessVm = (vm: LabVmRecord): boolean => vm.tap === CLIENT_TAP;

/** Moves agentless VM `vm` to cloud `to`; prepareMs = the API call, switchMs = client restart until DHCP. */
export async function migrateAgentlessVm(
  world: World,
  vm: LabVmRecord,
  to: CloudPlan,
): Promise<{ prepareMs: number; switchMs: number; moved: AgentlessPortWire }> {
  const { api, exec, clock } = world;
  if (vm.cloud === to.label) throw new Error(`${vm.name} is already in ${to.label}`);
  const [al] = await api.list<AgentlessPortWire>('agentlessports', { port_id: vm.portId });
  if (!al) throw new Error(`${vm.name} has no agentless port`);
  const t0 = clock.now();
  const moved = await api.update<AgentlessPortWire>('agentlessports', 'agentlessport', al.id, { cloud: to.label });
  const t1 = clock.now();
  const dir = clientDir(world.plan, vm.name);
  await stopClient(dir, clock);
  await bootFromUserData(exec, vm.ns, dir, moved.user_data);
  await waitForLease({ exec, clock }, vm, dir, vm.ip, 30_000, 10);
  const t2 = clock.now();
  vm.hostId = moved.hyperswitch_id;
  vm.cloud = to.label;
  world.save();
  return { prepareMs: t1 - t0, switchMs: t2 - t1, moved };
}
