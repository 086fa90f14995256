/**
 * Adding and removing the VMs of a running lab: the nova plumbing of vms.ts (or the agentless boot of
 * agentless.ts) plus the VM's record in lab.json, so `lab status`, `lab exec` and `lab down` see it.
 */
import { tapName } from '../model/kernel-names.js';
import type { Port } from '../model/types.js';
import { addAgentlessVm, CLIENT_TAP } from './agentless.js';
import type { LabHandle } from './handle.js';
import { addNetns } from './netns.js';
import type { CloudPlan, VmPlan } from './plan.js';
import type { LabVmRecord } from './state.js';
import { createVmPort, dhcpVm, plugPort, stopDhclient, unplugPort, vmInterface, type VmSite } from './vms.js';

export interface LabVm {
  site: VmSite;
  port: Port;
  tap: string;
  ip: string;
}

export interface AddVmOptions {
  projectId?: string;
  fixedIp?: string;
  /** false: plug only, no DHCP client (the VM gets no address). */
  dhcp?: boolean;
  ifname?: string;
}

export function siteOf(vm: VmPlan): VmSite {
  return { name: vm.name, ns: vm.ns, hyperswitchNs: vm.hyperswitchNs, hostId: vm.hostId };
}

/** Records a VM in lab.json (replacing one of the same name, sorted by name) and saves it. */
function recordVm(lab: LabHandle, record: LabVmRecord): void {
  lab.state.vms = lab.state.vms.filter((v) => v.name !== record.name);
  lab.state.vms.push(record);
  lab.state.vms.sort((x, y) => x.name.localeCompare(y.name));
  lab.save();
}

/**
 * Plays nova for one VM: creates the port via the API (bound to the VM's hyperswitch), plugs the
 * veth pair, runs dhclient, and checks that the VM got the port's address. Records it in lab.json.
 */
export async function addVm(lab: LabHandle, site: VmSite, networkId: string, opts: AddVmOptions = {}): Promise<LabVm> {
  const port = await createVmPort(lab.api, site, { networkId, projectId: opts.projectId, fixedIp: opts.fixedIp });
  const tap = await plugPort(lab.exec, site, port, opts.ifname);
  const ip = port.fixed_ips[0]?.ip_address ?? '';
  const vm: LabVm = { site, port, tap, ip };
  if (opts.dhcp !== false) {
    await dhcpVm(lab.exec, lab.plan.paths, site, opts.ifname);
    const got = await vmInterface(lab.exec, site.ns, opts.ifname);
    if (got.ip !== ip) throw new Error(`${site.name}: DHCP gave ${got.ip}, the port has ${ip}`);
  }
  const cloud = lab.plan.clouds.find((c) => c.hostId === site.hostId)?.label ?? '';
  recordVm(lab, {
    name: site.name,
    cloud,
    ns: site.ns,
    hostId: site.hostId,
    portId: port.id,
    mac: port.mac_address,
    ip,
    tap: tapName(port.id),
  });
  return vm;
}

/** An agentless VM of the plan (src/lab/agentless.ts), recorded in lab.json with its hyperswitch as host. */
export async function addPlannedAgentlessVm(lab: LabHandle, vm: VmPlan, networkId: string): Promise<void> {
  const a = await addAgentlessVm(lab, siteOf(vm), networkId);
  const hostId = a.agentlessPort.hyperswitch_id;
  const hs = await lab.api.show<{ data_ip?: string }>('hyperswitches', 'hyperswitch', hostId);
  recordVm(lab, {
    name: vm.name,
    cloud: vm.cloud,
    ns: vm.ns,
    hostId,
    portId: a.port.id,
    mac: a.port.mac_address,
    ip: a.ip,
    tap: CLIENT_TAP,
    underlayIp: hs.data_ip,
  });
}

/** A new, empty VM namespace in a cloud (beyond the plan's VMs; swept with the prefix). */
export async function newVmSite(
  lab: Pick<LabHandle, 'plan' | 'exec'>,
  cloud: CloudPlan,
  name: string,
): Promise<VmSite> {
  const site = { name, ns: `${lab.plan.prefix}${name}`, hyperswitchNs: cloud.hyperswitchNs, hostId: cloud.hostId };
  await addNetns(lab.exec, site.ns);
  return site;
}

/** Unplugs a VM, deletes its port and drops its record. */
export async function removeVm(lab: LabHandle, vm: LabVm): Promise<void> {
  await stopDhclient(lab.plan.paths, vm.site.name, lab.clock);
  await unplugPort(lab.exec, vm.site, vm.port.id);
  await lab.api.delete('ports', vm.port.id);
  lab.state.vms = lab.state.vms.filter((v) => v.portId !== vm.port.id);
  lab.save();
}
