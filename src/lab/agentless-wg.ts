/**
 * WireGuard agentless VMs in the lab: a port created with `vpn_type: wireguard`, then the VM "boots"
 * from its user_data with the stock `wg-quick` (wireguard-go where the kernel has no module). The
 * config is written under a name of the VM's own: wg-quick names the interface after the file, and
 * wireguard-go's control socket (/var/run/wireguard/NAME.sock) is shared by every namespace of the
 * machine, so two lab VMs must not both use the user_data's `hypernet`.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { ApiClient } from '../client/api.js';
import type { Exec } from '../common/exec.js';
import { CLIENT_NAME, WG_CLIENT_DIR, type AgentlessPortWire } from '../model/agentless.js';
import type { Port } from '../model/types.js';
import type { LabPlan } from './plan.js';
import { clientDir } from './agentless.js';
import { createVmPort, type VmSite } from './vms.js';

/** The wg-quick config a WireGuard port's user_data writes; throws when the document has none. */
export function wgConfigFromUserData(userData: string): string {
  const doc = parse(userData) as { write_files?: { path: string; content: string }[]; runcmd?: unknown[] } | null;
  const file = (doc?.write_files ?? []).find((f) => f.path === `${WG_CLIENT_DIR}/${CLIENT_NAME}.conf`);
  const unit = (doc?.runcmd ?? []).some((c) => Array.isArray(c) && c.join(' ').includes(`wg-quick@${CLIENT_NAME}`));
  if (!file || !unit) throw new Error('user_data starts no wg-quick client');
  return file.content;
}

/** The lab's interface name for a VM's WireGuard client: `hnwc` + 8 hex digits of its namespace. */
export const wgClientIface = (ns: string): string => `hnwc${createHash('sha256').update(ns).digest('hex').slice(0, 8)}`;

/** Runs `wg-quick up` in the VM's namespace on the user_data's config (written to `dir`). */
export async function bootWgFromUserData(exec: Exec, ns: string, dir: string, userData: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${wgClientIface(ns)}.conf`);
  writeFileSync(file, wgConfigFromUserData(userData), { mode: 0o600 });
  await exec('ip', ['netns', 'exec', ns, 'wg-quick', 'up', file], { timeoutMs: 20_000 });
  return file;
}

/** `wg-quick down`: the interface goes, and its wireguard-go with it. */
export async function stopWgClient(exec: Exec, ns: string, file: string): Promise<void> {
  await exec('ip', ['netns', 'exec', ns, 'wg-quick', 'down', file], { allowFail: true, timeoutMs: 20_000 });
}

export interface WgAgentlessVm {
  port: Port;
  agentlessPort: AgentlessPortWire;
  /** The wg-quick config file in the lab's state. */
  config: string;
  ip: string;
}

/** Creates the port and its WireGuard agentless port, and boots the VM's wg-quick. */
export async function addWgAgentlessVm(
  deps: { api: ApiClient; exec: Exec; plan: LabPlan },
  site: VmSite,
  networkId: string,
): Promise<WgAgentlessVm> {
  const port = await createVmPort(deps.api, { ...site, hostId: '' }, { networkId });
  const agentlessPort = await deps.api.create<AgentlessPortWire>('agentlessports', 'agentlessport', {
    port_id: port.id,
    vpn_type: 'wireguard',
  });
  const config = await bootWgFromUserData(deps.exec, site.ns, clientDir(deps.plan, site.name), agentlessPort.user_data);
  return { port, agentlessPort, config, ip: port.fixed_ips[0]?.ip_address ?? '' };
}
