/**
 * The lab's server as a process: started detached (TCP on loopback in the root namespace plus the Unix
 * socket, SQLite in the state directory) and waited for until its API answers; stopped by recorded PID.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { DEFAULT_ENCRYPTION } from '../model/encryption.js';
import { agentlessServerSection } from './agentless.js';
import { keystoneServerArgs } from './keystone-lab.js';
import { labMetadataSecret } from './metadata-secret.js';
import type { LabPlan } from './plan.js';
import type { LabHandle } from './handle.js';
import { tailLog } from './logs.js';
import { HYPERNET_BIN, isOurs, pidFile, readPidFile, startDaemon, stopPid, waitFor } from './processes.js';

/** Starts the server and waits until its API answers; returns its PID. */
export async function startServer(lab: Pick<LabHandle, 'plan' | 'api' | 'clock'>): Promise<number> {
  const { plan } = lab;
  const p = plan.paths;
  rmSync(p.socket, { force: true });
  const logFile = join(p.logDir, 'server.log');
  const config = serverConfig(plan);
  const pid = startDaemon({
    name: 'server',
    cmd: process.execPath,
    args: [
      HYPERNET_BIN,
      'server',
      '--host',
      plan.api.host,
      '--port',
      String(plan.api.port),
      '--unix-socket',
      p.socket,
      '--data-dir',
      p.serverDataDir,
      ...config.args,
    ],
    logFile,
    pidDir: p.pidDir,
  });
  await waitFor(
    'the server',
    async () => {
      if (!isOurs(pid, p.marker)) throw new Error(`server exited; its log:\n${tailLog(logFile)}`);
      await lab.api.list('networks');
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
    ...(plan.agentless ? { agentless: agentlessServerSection(plan) } : {}),
    ...(keystone.section ? { keystone_authtoken: keystone.section } : {}),
    ...(plan.encryption && plan.encryption !== DEFAULT_ENCRYPTION ? { encryption: plan.encryption } : {}),
  };
  const file = join(plan.paths.serverDataDir, 'config.yaml');
  mkdirSync(plan.paths.serverDataDir, { recursive: true });
  writeFileSync(file, stringify(sections), { mode: 0o600 });
  return { args: ['--config', file, ...keystone.args] };
}

export async function stopServer(lab: Pick<LabHandle, 'plan' | 'clock'>): Promise<void> {
  const pid = readPidFile(pidFile(lab.plan.paths.pidDir, 'server'));
  if (pid) await stopPid(pid, lab.plan.paths.marker, lab.clock);
}
