/**
 * The cloud-init `user_data` of a HyperVM launched by a cloud's ProviderDriver (one provider VM per
 * HyperVM): a `#cloud-config` that writes the launch file (the port, the repository's address and the
 * single-use token) readable by root only, and runs the agent in HyperVM mode pointed at it. The
 * server builds it; the lab's provider (playing cloud-init) and the agent read it back.
 */
import { parse, stringify } from 'yaml';
import { z } from 'zod';

/** Where the user_data writes the launch file on the HyperVM. */
export const HYPERVM_LAUNCH_FILE = '/etc/hypernet/hypervm-launch.json';

/** What one launch needs beyond the watch stream: the token travels only here. */
export const hyperVmLaunchSchema = z.strictObject({
  hypervm_id: z.string().min(1).max(64),
  image_id: z.string().min(1).max(64),
  /** The repository's base URL as the HyperVM reaches it (its provider network). */
  repository_url: z.string().min(1).max(512),
  /** The single-use pull token, bound to the HyperVM's provider address. */
  token: z.string().min(1).max(256),
  port: z.strictObject({
    id: z.string().min(1).max(64),
    hyper_ip: z.string().max(64),
    mac_address: z.string().max(32),
    mtu: z.number().int().min(576).max(65535),
  }),
});

export type HyperVmLaunch = z.infer<typeof hyperVmLaunchSchema>;

export interface HyperVmUserDataSpec {
  server: string;
  /** The agent's host id: the HyperVM's node name, bound on its port. */
  host: string;
  cloud: string;
  /** The agents' API token (token auth), as a hyperswitch's user_data carries it. */
  token?: string;
  launch: HyperVmLaunch;
}

export function buildHyperVmUserData(s: HyperVmUserDataSpec): string {
  const argv = ['hypernet', 'agent', '--server', s.server, '--host', s.host, '--cloud', s.cloud, '--hypervm'];
  argv.push('--hypervm-launch', HYPERVM_LAUNCH_FILE);
  if (s.token) argv.push('--token', s.token);
  const doc = {
    write_files: [
      { path: HYPERVM_LAUNCH_FILE, owner: 'root:root', permissions: '0600', content: JSON.stringify(s.launch) },
    ],
    runcmd: [argv],
  };
  return `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
}

/** The agent command line (after `hypernet`) and the launch, read back; throws when it is not ours. */
export function parseHyperVmUserData(userData: string): { argv: string[]; launch: HyperVmLaunch } {
  if (!userData.startsWith('#cloud-config\n')) throw new Error('user_data is not a #cloud-config document');
  const doc = parse(userData) as { write_files?: { path: string; content: string }[]; runcmd?: unknown[] } | null;
  const file = (doc?.write_files ?? []).find((f) => f.path === HYPERVM_LAUNCH_FILE);
  if (!file) throw new Error(`HyperVM user_data writes no ${HYPERVM_LAUNCH_FILE}`);
  const cmd = (doc?.runcmd ?? []).find(
    (c): c is string[] => Array.isArray(c) && c[0] === 'hypernet' && c[1] === 'agent',
  );
  if (!cmd) throw new Error('HyperVM user_data starts no hypernet agent');
  return { argv: cmd.slice(1).map(String), launch: hyperVmLaunchSchema.parse(JSON.parse(file.content)) };
}
