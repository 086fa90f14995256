/**
 * `lab up --hypervms N`: each cloud's agent also runs HyperVMs (`--hypervm`), pulling through the
 * repository relay in the internet namespace (repository-relay.ts); the busybox image is built here
 * and pushed to the catalog, then N HyperVMs are created on the tenant network, round-robin over the
 * clouds, and waited for until ACTIVE. `lab down` stops their containers (stopHyperVmContainers).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Exec } from '../common/exec.js';
import type { HyperVm, Port } from '../model/types.js';
import type { LabHandle } from './handle.js';
import { buildHyperVmImage, pushLayout } from './hypervm-image.js';
import { daemonInNetns, listNetnsWithPrefix } from './netns.js';
import type { CloudPlan, LabPlan } from './plan.js';
import { HYPERNET_BIN, startDaemon, waitFor } from './processes.js';
import { RELAY_PORT } from './repository-relay.js';
import type { LabHyperVmRecord } from './state.js';

/** The agent flags of a cloud's node when the lab runs HyperVMs: pull through the relay on its gateway. */
export function hyperVmAgentArgs(plan: LabPlan, c: CloudPlan): string[] {
  if (!plan.hypervms) return [];
  return ['--hypervm', '--repository', `http://${c.gatewayIp}:${RELAY_PORT}/repository`];
}

/** Where a cloud's agent keeps its containers (the agent's `<state-dir>/hypervm`). */
export function lxcDir(c: CloudPlan): string {
  return join(c.agentStateDir, 'hypervm');
}

/** Starts the repository relay in the internet namespace (before the agents pull). */
export function startRelayDaemon(plan: LabPlan): number {
  return startDaemon({
    name: 'repository-relay',
    ...daemonInNetns(plan.internetNs, [
      process.execPath,
      HYPERNET_BIN,
      'lab',
      'repository-relay',
      '--socket',
      plan.paths.socket,
    ]),
    logFile: join(plan.paths.logDir, 'repository-relay.log'),
    pidDir: plan.paths.pidDir,
  });
}

/** Builds and pushes the busybox image, creates the plan's HyperVMs and waits until each is ACTIVE. */
export async function launchLabHyperVms(
  lab: Pick<LabHandle, 'plan' | 'api' | 'clock'>,
  networkId: string,
): Promise<LabHyperVmRecord[]> {
  const { plan, api } = lab;
  const image = await pushLayout(
    plan.paths.socket,
    buildHyperVmImage(join(plan.paths.stateDir, 'hypervm-image')),
    'lab-busybox',
  );
  const records: LabHyperVmRecord[] = [];
  for (let i = 0; i < (plan.hypervms ?? 0); i++) {
    const c = plan.clouds[i % plan.clouds.length];
    const name = `hv-${c.hostId.slice(-1)}${Math.floor(i / plan.clouds.length) + 1}`;
    const hv = await api.create<HyperVm>('hypervms', 'hypervm', {
      name,
      image_id: image,
      network_id: networkId,
      cloud: c.label,
    });
    const port = await api.show<Port>('ports', 'port', hv.port_id);
    records.push({
      name,
      id: hv.id,
      cloud: c.label,
      hostId: hv.host,
      ns: c.hyperswitchNs,
      lxcDir: lxcDir(c),
      portId: hv.port_id,
      ip: port.fixed_ips[0].ip_address,
    });
  }
  for (const r of records) {
    // ERROR ends the wait at once (waitFor would retry a throw until its deadline).
    const end = await waitFor(
      `HyperVM ${r.name} to become ACTIVE`,
      async () => {
        const now = await api.show<HyperVm>('hypervms', 'hypervm', r.id);
        return now.status === 'ACTIVE' || now.status === 'ERROR' ? now : undefined;
      },
      lab.clock,
      120_000,
      500,
    );
    if (end.status === 'ERROR') throw new Error(`HyperVM ${r.name} failed: ${end.status_reason}`);
  }
  return records;
}

/** The command prefix that runs a command inside a HyperVM's container, as its root. */
export function inContainer(r: Pick<LabHyperVmRecord, 'id' | 'lxcDir'>): string[] {
  return ['lxc-attach', '-n', `hv-${r.id}`, '-P', r.lxcDir, '--'];
}

/**
 * Stops (kills) every container the lab's agents made; an agent leaves them running when it stops.
 * LXC's command socket lives in the node's namespace, so this runs before the namespaces go, trying
 * each of the lab's namespaces (works from the state directory and prefix alone, as `down` must).
 */
export async function stopHyperVmContainers(exec: Exec, stateDir: string, prefix: string): Promise<number> {
  // The clouds' agents, and the agents of HyperVMs the lab provider launched (its `a/<id>/`).
  const roots = [join(stateDir, 'agents'), join(stateDir, 'server', 'lab-provider', 'a')].filter((r) => existsSync(r));
  if (!roots.length) return 0;
  const namespaces = await listNetnsWithPrefix(exec, prefix);
  let stopped = 0;
  for (const dir of roots.flatMap((r) => readdirSync(r).map((host) => join(r, host, 'hypervm')))) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).filter((n) => n.startsWith('hv-'))) {
      for (const ns of namespaces) {
        const args = ['netns', 'exec', ns, 'lxc-stop', '-n', name, '-P', dir, '-k'];
        if ((await exec('ip', args, { allowFail: true, timeoutMs: 15_000 })).code === 0) {
          stopped++;
          break;
        }
      }
    }
  }
  return stopped;
}
