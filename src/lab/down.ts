/**
 * Tearing a lab down: its processes, its namespaces and its files. Works from the prefix and the state
 * directory alone, so it also cleans up after a crash that left no lab.json.
 */
import { existsSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../common/clock.js';
import type { Exec } from '../common/exec.js';
import { labMarker } from './plan.js';
import { pidsMentioning, stopAllRecorded, stopPid } from './processes.js';
import { sweepNamespaces } from './topology.js';
import { stopHyperVmContainers } from './hypervms.js';
import { removeLabBpfPins } from './firewall.js';

export interface DownReport {
  processes: Map<string, string>;
  namespaces: string[];
}

/** Files and directories a lab makes in its state directory; `down` removes exactly these. */
const LAB_FILES = [
  'lab.json',
  'lab.json.tmp',
  'server.sock',
  // The other servers' sockets when the lab runs several (plan.ts serverSockets).
  ...[1, 2, 3, 4].map((i) => `server-${i}.sock`),
  'server',
  'logs',
  'pids',
  'dhcp',
  'agents',
  'agentless-vms',
  'keystone',
  'clouds.yaml',
  'metadata-secret',
  'hypervm-image',
  // The vpc cloud's endpoint daemon: its address file and control socket.
  'vpc',
];

/**
 * Removes everything a lab made: its processes (by recorded PID, verified), every namespace with its
 * prefix (also those its agents made, and the processes in them), and its files. Idempotent, works
 * after a crash (no lab.json needed when `prefix` is given).
 */
export async function downLab(
  stateDir: string,
  prefix: string,
  deps: { exec: Exec; clock: Clock },
  keepStateDir = false,
): Promise<DownReport> {
  const marker = labMarker(stateDir);
  // Containers first: LXC's command socket is in their node's namespace, and an agent leaves them running.
  const containers = await stopHyperVmContainers(deps.exec, stateDir, prefix);
  const processes = await stopAllRecorded(join(stateDir, 'pids'), marker, deps.clock);
  // Processes the agents started (dnsmasq) name files in the state directory.
  const strays = pidsMentioning(marker);
  await Promise.all(strays.map((pid) => stopPid(pid, marker, deps.clock, 1500)));
  // Once more: an agent that was still running may have started one (dnsmasq) while it was stopped.
  const late = pidsMentioning(marker);
  await Promise.all(late.map((pid) => stopPid(pid, marker, deps.clock, 1500)));
  strays.push(...late);
  if (containers) processes.set(`HyperVM containers (${containers})`, 'stopped');
  if (strays.length) processes.set(`others (${strays.length})`, 'stopped');
  const namespaces = await sweepNamespaces(deps.exec, deps.clock, prefix);
  // tc-BPF agents' pinned programs and maps: unused once the taps went with the namespaces.
  const pins = removeLabBpfPins(prefix);
  if (pins.length) processes.set(`tc-BPF pins (${pins.length})`, 'removed');
  for (const f of LAB_FILES) rmSync(join(stateDir, f), { recursive: true, force: true });
  if (!keepStateDir && existsSync(stateDir)) {
    try {
      rmdirSync(stateDir);
    } catch {
      /* not empty: holds files that are not the lab's */
    }
  }
  return { processes, namespaces };
}
