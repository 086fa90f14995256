/**
 * The lab plays "nova": for a VM it creates the port through the API (bound to its cloud's
 * hyperswitch), plugs a veth pair (`tap`+port_id[0:11] in the hyperswitch namespace, `eth0` with the
 * port's MAC in the VM namespace) and runs the VM's real DHCP client. Also the reverse (unplug) and
 * reading back what the VM got.
 */
import type { ApiClient } from '../client/api.js';
import type { Exec } from '../common/exec.js';
import type { Clock } from '../common/clock.js';
import type { Port } from '../model/types.js';
import { dhclientPidFile, runDhclient } from './dhclient.js';
import { tapName } from '../model/kernel-names.js';
import type { LabPaths } from './plan.js';
import { readPidFile, stopPid } from './processes.js';

/** Where a VM lives: its namespace and its hyperswitch (namespace and agent host id). */
export interface VmSite {
  name: string;
  ns: string;
  hyperswitchNs: string;
  hostId: string;
}

export interface PortRequest {
  networkId: string;
  projectId?: string;
  name?: string;
  fixedIp?: string;
}

/** Creates the VM's port through the API, bound to the VM's hyperswitch. */
export async function createVmPort(api: ApiClient, vm: VmSite, req: PortRequest): Promise<Port> {
  const body: Record<string, unknown> = {
    network_id: req.networkId,
    name: req.name ?? vm.name,
    device_owner: 'compute:lab',
    device_id: vm.name,
    'binding:host_id': vm.hostId,
  };
  if (req.projectId) body.project_id = req.projectId;
  if (req.fixedIp) body.fixed_ips = [{ ip_address: req.fixedIp }];
  return api.create<Port>('ports', 'port', body);
}

/** Creates the veth pair for a port: tap in the hyperswitch, `ifname` with the port's MAC in the VM. */
export async function plugPort(exec: Exec, vm: VmSite, port: Port, ifname = 'eth0'): Promise<string> {
  const tap = tapName(port.id);
  await exec('ip', [
    '-n',
    vm.hyperswitchNs,
    'link',
    'add',
    tap,
    'type',
    'veth',
    'peer',
    'name',
    ifname,
    'address',
    port.mac_address,
    'netns',
    vm.ns,
  ]);
  await exec('ip', ['-n', vm.ns, 'link', 'set', ifname, 'up']);
  return tap;
}

/** Removes the tap (its veth peer in the VM goes with it). */
export async function unplugPort(exec: Exec, vm: VmSite, portId: string): Promise<void> {
  await exec('ip', ['-n', vm.hyperswitchNs, 'link', 'del', tapName(portId)], { allowFail: true });
}

/** Starts the VM's DHCP client and waits for its lease. */
export async function dhcpVm(exec: Exec, paths: LabPaths, vm: VmSite, ifname = 'eth0'): Promise<void> {
  await runDhclient(exec, paths, vm.name, vm.ns, ifname);
}

/** Stops the VM's DHCP client (by its pid file, verified). */
export async function stopDhclient(paths: LabPaths, vmName: string, clock: Clock): Promise<void> {
  const pid = readPidFile(dhclientPidFile(paths, vmName));
  if (pid) await stopPid(pid, paths.marker, clock, 1000);
}

export interface IfaceInfo {
  ip: string | null;
  prefixLen: number | null;
  mac: string | null;
  mtu: number | null;
}

/** What the VM's interface has now (first IPv4 address, MAC, MTU), or nulls when it is gone. */
export async function vmInterface(exec: Exec, ns: string, ifname = 'eth0'): Promise<IfaceInfo> {
  const r = await exec('ip', ['-n', ns, '-json', 'addr', 'show', 'dev', ifname], { allowFail: true });
  if (r.code !== 0 || !r.stdout.trim()) return { ip: null, prefixLen: null, mac: null, mtu: null };
  const [link] = JSON.parse(r.stdout) as {
    address?: string;
    mtu?: number;
    addr_info?: { family: string; local: string; prefixlen: number }[];
  }[];
  const a = link?.addr_info?.find((x) => x.family === 'inet');
  return { ip: a?.local ?? null, prefixLen: a?.prefixlen ?? null, mac: link?.address ?? null, mtu: link?.mtu ?? null };
}
