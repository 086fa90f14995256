/**
 * Agentless VMs in the lab. The server gets an `agentless:` config section with the `lab` provider
 * (hyperswitch namespaces under the lab prefix, data NICs into the lab's internet, vms subnets from
 * the plan). An agentless VM is created the way the jacket's nova driver would: its Neutron port,
 * then `POST /v2.0/agentlessports` (which launches the tenant's hyperswitch if needed and gives the
 * VM namespace its provider NIC), then the VM "boots" from the returned user_data: the files are
 * taken out of the cloud-init document and the stock `openvpn` client runs them (labBootFromUserData,
 * labClientArgv). No agent runs for it; its hyper IP comes by DHCP over the tunnel.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ApiClient } from '../client/api.js';
import type { Clock } from '../common/clock.js';
import type { Exec } from '../common/exec.js';
import type { Port } from '../model/types.js';
import { labBootFromUserData, labClientArgv } from './cloud-init.js';
import type { AgentlessPortWire } from '../model/agentless.js';
import type { LabPlan } from './plan.js';
import { RELAY_PORT } from './repository-relay.js';
import { readPidFile, stopPid, waitFor } from './processes.js';
import { createVmPort, vmInterface, type VmSite } from './vms.js';

/** The TAP the stock client creates in the VM (first `dev tap`). */
export const CLIENT_TAP = 'tap0';

/** The server config's `agentless:` section for a lab with agentless VMs. */
export function agentlessServerSection(plan: LabPlan): Record<string, unknown> {
  const a = plan.agentless;
  if (!a) throw new Error('the plan has no agentless VMs');
  return {
    provider: 'lab',
    level: 'tenant',
    vms_cidr: a.vmsCidr,
    underlay_mtu: plan.underlayMtu,
    agent_server_url: `unix:${plan.paths.socket}`,
    cloud: a.cloud,
    lab_netns_prefix: plan.prefix,
    lab_vm_netns_prefix: plan.prefix,
    lab_internet_ns: plan.internetNs,
    lab_data_cidr: a.dataCidr,
    // HyperVMs of the home cloud launched by the provider pull through the relay on its gateway.
    ...(plan.hypervmProvider
      ? {
          hypervm_provider: true,
          hypervm_repository_url: `http://${plan.clouds.find((c) => c.label === a.cloud)!.gatewayIp}:${RELAY_PORT}/repository`,
        }
      : {}),
    // The other cloud(s) a VM can move to: own addresses, own NIC names in the VM namespace.
    clouds: Object.fromEntries(
      a.others.map((o) => [
        o.cloud,
        { cloud: o.cloud, vms_cidr: o.vmsCidr, lab_data_cidr: o.dataCidr, lab_vm_nic_prefix: o.nicPrefix },
      ]),
    ),
  };
}

export interface AgentlessVm {
  port: Port;
  agentlessPort: AgentlessPortWire;
  /** The client's directory (config, hook, pid file, log). */
  dir: string;
  ip: string;
}

export const clientDir = (plan: LabPlan, vmName: string): string => join(plan.paths.stateDir, 'agentless-vms', vmName);

/** Starts the stock OpenVPN client of a VM from a user_data document (files written to `dir`). */
export async function bootFromUserData(exec: Exec, ns: string, dir: string, userData: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const boot = labBootFromUserData(userData);
  for (const f of boot.files) writeFileSync(join(dir, f.name), f.content, { mode: f.mode });
  const [bin, ...args] = labClientArgv(dir, boot, join(dir, 'client.pid'), join(dir, 'client.log'));
  await exec('ip', ['netns', 'exec', ns, bin!, ...args], { timeoutMs: 10_000 });
}

/** Stops a VM's client (by its pid file, verified against the directory on its command line). */
export async function stopClient(dir: string, clock: Clock): Promise<void> {
  const pid = readPidFile(join(dir, 'client.pid'));
  if (pid) await stopPid(pid, dir, clock, 3000);
}

/** Creates the port and the agentless port of a VM, boots its client and waits for the DHCP address. */
export async function addAgentlessVm(
  deps: { api: ApiClient; exec: Exec; clock: Clock; plan: LabPlan },
  site: VmSite,
  networkId: string,
  opts: { projectId?: string; deviceLevel?: boolean; timeoutMs?: number } = {},
): Promise<AgentlessVm> {
  const port = await createVmPort(deps.api, { ...site, hostId: '' }, { networkId, projectId: opts.projectId });
  const agentlessPort = await deps.api.create<AgentlessPortWire>('agentlessports', 'agentlessport', {
    port_id: port.id,
    ...(opts.deviceLevel ? { device_id: site.name } : {}),
  });
  const dir = clientDir(deps.plan, site.name);
  await bootFromUserData(deps.exec, site.ns, dir, agentlessPort.user_data);
  const ip = port.fixed_ips[0]?.ip_address ?? '';
  await waitForLease(deps, site, dir, ip, opts.timeoutMs ?? 45_000);
  return { port, agentlessPort, dir, ip };
}

/** Waits until the client's TAP holds `ip` (DHCP over the tunnel); the error carries the client log's tail. */
export async function waitForLease(
  deps: { exec: Exec; clock: Clock },
  site: { name: string; ns: string },
  dir: string,
  ip: string,
  timeoutMs: number,
  pollMs = 100,
): Promise<void> {
  await waitFor(
    `${site.name} to get ${ip} by DHCP over OpenVPN`,
    async () => (await vmInterface(deps.exec, site.ns, CLIENT_TAP)).ip === ip,
    deps.clock,
    timeoutMs,
    pollMs,
  ).catch((e: Error) => {
    const log = (() => {
      try {
        return readFileSync(join(dir, 'client.log'), 'utf8').split('\n').slice(-15).join('\n');
      } catch {
        return '(no client log)';
      }
    })();
    throw new Error(`${e.message}\nclient log:\n${log}`);
  });
}
