/**
 * The lab's servers as processes: started detached (TCP on loopback in the root namespace plus a Unix
 * socket each, SQLite in the state directory or the plan's PostgreSQL) and waited for until each API
 * answers; stopped by recorded PID, or killed one by one (SIGKILL) to play a lost control host.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { DEFAULT_ENCRYPTION } from '../model/encryption.js';
import { agentlessServerSection } from './agentless.js';
import { vpcServerCloud } from './vpc-cloud.js';
import { keystoneServerArgs } from './keystone-lab.js';
import { labMetadataSecret } from './metadata-secret.js';
import { type LabPlan, serverSockets } from './plan.js';
import { ApiClient } from '../client/api.js';
import { labToken } from './keystone-lab.js';
import type { LabHandle } from './handle.js';
import { tailLog } from './logs.js';
import { HYPERNET_BIN, isOurs, pidFile, readPidFile, startDaemon, stopPid, waitFor } from './processes.js';

/** The pid-file and log name of server `index` (the first keeps the single server's name). */
const serverName = (index: number): string => (index === 0 ? 'server' : `server-${index}`);

/** Starts every server of the plan and waits until each API answers; returns their PIDs. */
export async function startServers(lab: Pick<LabHandle, 'plan' | 'clock'>): Promise<number[]> {
  return Promise.all(serverSockets(lab.plan).map((_, i) => startServer(lab, i)));
}

/** Starts server `index` (default the first) and waits until its own API answers; returns its PID. */
export async function startServer(lab: Pick<LabHandle, 'plan' | 'clock'>, index = 0): Promise<number> {
  const { plan } = lab;
  const p = plan.paths;
  const socket = serverSockets(plan)[index];
  rmSync(socket, { force: true });
  const logFile = join(p.logDir, `${serverName(index)}.log`);
  const config = serverConfig(plan);
  // Asked on its own socket: with several servers, another one answering proves nothing about this one.
  const api = new ApiClient({ url: `unix:${socket}`, token: labToken(plan, true), timeoutMs: 5_000 });
  const pid = startDaemon({
    name: serverName(index),
    cmd: process.execPath,
    args: [
      HYPERNET_BIN,
      'server',
      '--host',
      plan.api.host,
      '--port',
      String(plan.api.port),
      '--unix-socket',
      socket,
      ...(plan.database ? ['--database', plan.database] : ['--data-dir', p.serverDataDir]),
      ...config.args,
    ],
    logFile,
    pidDir: p.pidDir,
  });
  await waitFor(
    'the server',
    async () => {
      if (!isOurs(pid, p.marker)) throw new Error(`server exited; its log:\n${tailLog(logFile)}`);
      await api.list('networks');
      return true;
    },
    lab.clock,
    20_000,
    50,
  ).catch((e) => {
    if (!isOurs(pid, p.marker)) throw new Error(`server exited; its log (${logFile}):\n${tailLog(logFile)}`);
    throw e;
  });
  return pid;
}

/** The server config file (metadata secret; agentless, keystone sections when the lab has them), auth flags. */
function serverConfig(plan: LabPlan): { args: string[] } {
  const keystone = keystoneServerArgs(plan);
  const sections = {
    metadata_proxy_shared_secret: labMetadataSecret(plan.paths),
    ...(plan.agentless || plan.vpc ? { agentless: agentlessSection(plan) } : {}),
    ...(keystone.section ? { keystone_authtoken: keystone.section } : {}),
    ...(plan.encryption && plan.encryption !== DEFAULT_ENCRYPTION ? { encryption: plan.encryption } : {}),
  };
  const file = join(plan.paths.serverDataDir, 'config.yaml');
  mkdirSync(plan.paths.serverDataDir, { recursive: true });
  writeFileSync(file, stringify(sections), { mode: 0o600 });
  return { args: ['--config', file, ...keystone.args] };
}

/**
 * The `agentless:` section: the lab provider's clouds for agentless VMs, and the vpc cloud (provider aws
 * on the lab's EC2 endpoint), which is the home cloud when the lab has no agentless VMs.
 */
function agentlessSection(plan: LabPlan): Record<string, unknown> {
  const home = plan.agentless ? agentlessServerSection(plan) : undefined;
  if (!plan.vpc) return home!;
  // Not a HyperVM provider even when the home cloud is one (a clouds entry inherits its options).
  const vpc = { ...vpcServerCloud(plan.vpc), hypervm_provider: false };
  return home ? { ...home, clouds: { ...(home.clouds as Record<string, unknown>), [plan.vpc.label]: vpc } } : vpc;
}

/** Stops every server of the lab (SIGTERM, by recorded PID). */
export async function stopServer(lab: Pick<LabHandle, 'plan' | 'clock'>): Promise<void> {
  await Promise.all(serverSockets(lab.plan).map((_, i) => stopServerAt(lab, i)));
}

/** Stops server `index`; with `SIGKILL` it gets no shutdown of any kind (a crashed control host). */
export async function stopServerAt(
  lab: Pick<LabHandle, 'plan' | 'clock'>,
  index: number,
  signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM',
): Promise<void> {
  const pid = readPidFile(pidFile(lab.plan.paths.pidDir, serverName(index)));
  if (!pid) return;
  if (signal === 'SIGKILL' && isOurs(pid, lab.plan.paths.marker)) process.kill(pid, 'SIGKILL');
  await stopPid(pid, lab.plan.paths.marker, lab.clock);
}
