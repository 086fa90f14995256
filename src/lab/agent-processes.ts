/**
 * The lab's agents as processes, one per cloud inside its hyperswitch namespace: start, stop (also
 * by SIGKILL, to play a crash), is-it-running, and waiting until the API sees them alive.
 */
import { join } from 'node:path';
import type { Agent } from '../model/types.js';
import type { LabHandle } from './handle.js';
import { tailLog } from './logs.js';
import { daemonInNetns } from './netns.js';
import { type CloudPlan, type LabPlan, labServerUrl } from './plan.js';
import { HYPERNET_BIN, isOurs, pidFile, readPidFile, startDaemon, stopPid, waitFor } from './processes.js';
import { hyperVmAgentArgs } from './hypervms.js';
import { firewallAgentArgs } from './firewall.js';
import { labToken } from './keystone-lab.js';
import { labMetadataSecret, metadataSecretFile } from './metadata-secret.js';
import { defaultWgIface } from '../model/encryption.js';
import type { LabState } from './state.js';

export const AGENT_PID_PREFIX = 'agent-';
/** Where each agent serves /metrics and its probes: loopback of its own hyperswitch namespace. */
export const LAB_AGENT_METRICS = '127.0.0.1:9464';

/**
 * The WireGuard interface of a lab hyperswitch's agent: wireguard-go's control socket is named for
 * the interface and shared by every namespace of the machine, so the name is the lab's own.
 */
export const labWgIface = (c: Pick<CloudPlan, 'agentNetnsPrefix' | 'hostId'>): string =>
  defaultWgIface(`${c.agentNetnsPrefix}${c.hostId}`);

/** `state`: where a vpc hyperswitch's ENI is recorded (customRouteArgs); absent, no vpc hyperswitch starts. */
type AgentLab = Pick<LabHandle, 'plan' | 'api' | 'clock'> & { readonly state?: LabState };

function agentLog(plan: LabPlan, c: CloudPlan): string {
  return join(plan.paths.logDir, `agent-${c.hostId}.log`);
}

function agentPid(plan: LabPlan, c: CloudPlan): number | null {
  return readPidFile(pidFile(plan.paths.pidDir, `${AGENT_PID_PREFIX}${c.hostId}`));
}

/** The lab's static token for an agent, when the server runs behind Keystone. */
function tokenArgs(plan: LabPlan): string[] {
  const token = labToken(plan);
  return token ? ['--token', token] : [];
}

/** A vpc hyperswitch's custom-route flags: its own ENI, recorded when `lab up` launched it. */
function customRouteArgs(plan: LabPlan, state: LabState | undefined, c: CloudPlan): string[] {
  if (!plan.vpc?.hyperswitches.some((h) => h.hostId === c.hostId)) return [];
  const eni = state?.vpc?.hyperswitches.find((h) => h.hostId === c.hostId)?.eni;
  if (!eni) throw new Error(`${c.hostId}: no ENI recorded for this vpc hyperswitch`);
  return ['--custom-route', '--custom-route-interface', eni];
}

/** Starts the real agent of one cloud inside its hyperswitch namespace. */
function startAgent(plan: LabPlan, c: CloudPlan, state?: LabState): number {
  labMetadataSecret(plan.paths); // made with the server's config; here too for an agent started alone
  return startDaemon({
    name: `${AGENT_PID_PREFIX}${c.hostId}`,
    ...daemonInNetns(c.hyperswitchNs, [
      process.execPath,
      HYPERNET_BIN,
      'agent',
      '--server',
      labServerUrl(plan),
      '--host',
      c.hostId,
      '--underlay-ip',
      c.underlayIp,
      '--cloud',
      c.label,
      '--underlay-mtu',
      String(plan.underlayMtu),
      '--netns-prefix',
      c.agentNetnsPrefix,
      '--state-dir',
      c.agentStateDir,
      '--metadata-secret-file',
      metadataSecretFile(plan.paths),
      // A name of this lab's own keeps two labs (or a lab and a test) apart (labWgIface).
      '--wg-interface',
      labWgIface(c),
      '--metrics-listen',
      LAB_AGENT_METRICS,
      ...tokenArgs(plan),
      ...hyperVmAgentArgs(plan, c),
      ...firewallAgentArgs(plan, c),
      ...customRouteArgs(plan, state, c),
    ]),
    logFile: agentLog(plan, c),
    pidDir: plan.paths.pidDir,
  });
}

export async function stopAgent(
  lab: Pick<LabHandle, 'plan' | 'clock'>,
  c: CloudPlan,
  signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM',
): Promise<void> {
  const pid = agentPid(lab.plan, c);
  if (!pid) return;
  if (signal === 'SIGKILL' && isOurs(pid, lab.plan.paths.marker)) process.kill(pid, 'SIGKILL');
  await stopPid(pid, lab.plan.paths.marker, lab.clock);
}

/** Starts the agents and waits until each has registered (a heartbeat since its start). */
export async function startAgents(lab: AgentLab, clouds: readonly CloudPlan[] = lab.plan.clouds): Promise<void> {
  const since = lab.clock.now();
  const pids = clouds.map((c) => startAgent(lab.plan, c, lab.state));
  await waitAgentsAlive(lab, { clouds, pids, timeoutMs: 20_000, sinceMs: since });
}

/** True when the cloud's agent process (recorded PID) runs. */
export function agentRunning(plan: LabPlan, c: CloudPlan): boolean {
  const pid = agentPid(plan, c);
  return !!pid && isOurs(pid, plan.paths.marker);
}

export interface WaitAgentsOptions {
  /** Default: every cloud of the plan. */
  clouds?: readonly CloudPlan[];
  /** The agents' PIDs (same order as `clouds`): fail fast, with the log, when one exits. */
  pids?: number[];
  timeoutMs?: number;
  /** Only a heartbeat at or after this counts (a restarted agent is not mistaken for its predecessor). */
  sinceMs?: number;
}

/** Waits until every cloud's agent is registered and alive in the API. */
export async function waitAgentsAlive(lab: AgentLab, opts: WaitAgentsOptions = {}): Promise<Agent[]> {
  const { clouds = lab.plan.clouds, pids, timeoutMs = 20_000, sinceMs } = opts;
  const since = sinceMs === undefined ? 0 : Math.floor(sinceMs / 1000) * 1000;
  return waitFor(
    'agents to register',
    async () => {
      pids?.forEach((pid, i) => {
        if (!isOurs(pid, lab.plan.paths.marker))
          throw new Error(`agent ${clouds[i].hostId} exited; its log:\n${tailLog(agentLog(lab.plan, clouds[i]))}`);
      });
      const agents = await lab.api.list<Agent>('agents');
      const found = clouds.map((c) =>
        agents.find((a) => a.host === c.hostId && a.alive && Date.parse(a.heartbeat_timestamp) >= since),
      );
      return found.every(Boolean) ? (found as Agent[]) : undefined;
    },
    lab.clock,
    timeoutMs,
    100,
  );
}
