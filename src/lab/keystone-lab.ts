/**
 * `hypernet lab up --keystone`: a private Keystone under `<state dir>/keystone` (keystone.ts), the
 * server behind it with `--auth keystone`, hypernet in the catalog as `network`, and a clouds.yaml
 * (`<state dir>/clouds.yaml`, cloud `hypernet-lab`, the Keystone admin) for the stock CLI.
 * The lab's own parts (its API client, the agents) do not log in to Keystone: they use one static
 * admin token from a tokens file the server reads beside Keystone, as a deployment's agents would.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../common/clock.js';
import type { Exec } from '../common/exec.js';
import {
  cloudsYaml,
  readKeystoneInfo,
  handle,
  registerNetworkEndpoint,
  serviceUser,
  startKeystone,
  type KeystoneAuthtokenSection,
} from './keystone.js';
import type { LabPaths, LabPlan } from './plan.js';

/** The cloud name in the lab's clouds.yaml. */
export const LAB_CLOUD = 'hypernet-lab';

const keystoneDir = (p: LabPaths) => join(p.stateDir, 'keystone');
const tokenFile = (p: LabPaths) => join(p.serverDataDir, 'lab-token');
const tokensFile = (p: LabPaths) => join(p.serverDataDir, 'tokens.json');
const authtokenFile = (p: LabPaths) => join(p.serverDataDir, 'keystone-authtoken.json');
export const cloudsFile = (p: LabPaths): string => join(p.stateDir, 'clouds.yaml');

/** The lab's static admin token in keystone mode (made on first use), else undefined (noauth). */
export function labToken(plan: LabPlan, create = false): string | undefined {
  if (!plan.keystone) return undefined;
  const file = tokenFile(plan.paths);
  if (!existsSync(file) && create) {
    mkdirSync(plan.paths.serverDataDir, { recursive: true });
    writeFileSync(file, randomBytes(24).toString('hex'), { mode: 0o600 });
  }
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

/**
 * Starts Keystone and prepares what the server reads: its `keystone_authtoken:` section and the
 * tokens file with the lab's static token (acting in Keystone's `admin` project).
 */
export async function startLabKeystone(plan: LabPlan, deps: { exec: Exec; clock: Clock }): Promise<void> {
  const ks = await startKeystone({ dir: keystoneDir(plan.paths), pidDir: plan.paths.pidDir, ...deps });
  const section = await serviceUser(ks);
  const adminProject = await (await ks.admin()).ensureProject('admin');
  mkdirSync(plan.paths.serverDataDir, { recursive: true });
  writeFileSync(authtokenFile(plan.paths), JSON.stringify(section), { mode: 0o600 });
  const token = labToken(plan, true) as string;
  writeFileSync(tokensFile(plan.paths), JSON.stringify({ [token]: { project_id: adminProject, roles: ['admin'] } }), {
    mode: 0o600,
  });
  writeFileSync(cloudsFile(plan.paths), cloudsYaml({ [LAB_CLOUD]: ks.adminCredentials }), { mode: 0o600 });
}

/** The server's keystone flags and config section, when the lab runs Keystone. */
export function keystoneServerArgs(plan: LabPlan): { args: string[]; section?: KeystoneAuthtokenSection } {
  if (!plan.keystone) return { args: [] };
  const section = JSON.parse(readFileSync(authtokenFile(plan.paths), 'utf8')) as KeystoneAuthtokenSection;
  return { args: ['--auth', 'keystone', '--tokens-file', tokensFile(plan.paths)], section };
}

/** Puts the lab's API into the catalog (after the server answers). */
export async function registerLabEndpoint(plan: LabPlan, clock: Clock): Promise<void> {
  const info = readKeystoneInfo(keystoneDir(plan.paths));
  if (!info) throw new Error('the lab has no Keystone');
  await registerNetworkEndpoint(handle(info, clock), `http://${plan.api.host}:${plan.api.port}`);
}

/** How to use the stock CLI on this lab. */
export function keystoneHint(plan: LabPlan): string {
  return `OS_CLIENT_CONFIG_FILE=${cloudsFile(plan.paths)} openstack --os-cloud ${LAB_CLOUD} network list`;
}
