/**
 * The `user_data` of an agentless port: a `#cloud-config` document a stock Linux VM (Debian,
 * Ubuntu) boots with. It installs the stock `openvpn` package, writes the client config (certificates
 * inline) and the hook script (./client-hook.ts) into /etc/openvpn/client, and enables the
 * distribution's own `openvpn-client@hypernet` systemd unit, so the tunnel also comes back after a
 * reboot. The lab runs the very same files: `labBootFromUserData` takes them back out of the
 * document, and `labClientArgv` mirrors the unit's ExecStart for a network namespace.
 */
import { parse, stringify } from 'yaml';
import { CLIENT_HOOK_NAME, compileClientHook } from './client-hook.js';
import { compileClientConfig, type VpnClientSpec } from './openvpn/client-config.js';

/** Name of the client (config `hypernet.conf`, unit `openvpn-client@hypernet`). */
export const CLIENT_NAME = 'hypernet';
/** Where Debian's openvpn-client@ unit looks for configs (its WorkingDirectory). */
export const CLIENT_DIR = '/etc/openvpn/client';

export type UserDataSpec = Omit<VpnClientSpec, 'hookName'>;

export function buildUserData(spec: UserDataSpec): string {
  const config = compileClientConfig({ ...spec, hookName: CLIENT_HOOK_NAME });
  const doc = {
    packages: ['openvpn'],
    write_files: [
      { path: `${CLIENT_DIR}/${CLIENT_NAME}.conf`, owner: 'root:root', permissions: '0600', content: config },
      {
        path: `${CLIENT_DIR}/${CLIENT_HOOK_NAME}`,
        owner: 'root:root',
        permissions: '0755',
        content: compileClientHook(spec.remoteIp),
      },
    ],
    runcmd: [['systemctl', 'enable', '--now', `openvpn-client@${CLIENT_NAME}`]],
  };
  return '#cloud-config\n' + stringify(doc, { lineWidth: 0 });
}

export interface LabBootFile {
  /** File name inside the client directory. */
  name: string;
  content: string;
  mode: number;
}

/** What a lab VM needs to run an agentless port's client without cloud-init. */
export interface LabBoot {
  files: LabBootFile[];
  /** The config file name among `files`. */
  configName: string;
}

/**
 * Takes the client back out of a user_data document: the files it writes into the OpenVPN client
 * directory and the config its runcmd starts. Throws when the document is not one of ours.
 */
export function labBootFromUserData(userData: string): LabBoot {
  if (!userData.startsWith('#cloud-config\n')) throw new Error('user_data is not a #cloud-config document');
  const doc = parse(userData) as {
    write_files?: { path: string; content: string; permissions?: string }[];
    runcmd?: unknown[];
  };
  const files = (doc.write_files ?? [])
    .filter((f) => f.path.startsWith(`${CLIENT_DIR}/`))
    .map((f) => ({
      name: f.path.slice(CLIENT_DIR.length + 1),
      content: f.content,
      mode: parseInt(f.permissions ?? '0644', 8),
    }));
  const unit = (doc.runcmd ?? [])
    .map((c) => (Array.isArray(c) ? c.join(' ') : String(c)))
    .map((c) => /systemctl enable --now openvpn-client@(\S+)/.exec(c)?.[1])
    .find(Boolean);
  if (!unit) throw new Error('user_data starts no openvpn-client@ unit');
  const configName = `${unit}.conf`;
  if (!files.some((f) => f.name === configName)) throw new Error(`user_data lacks ${CLIENT_DIR}/${configName}`);
  return { files, configName };
}

/**
 * The openvpn command line of the distribution's openvpn-client@ unit, for a client directory
 * `dir` (the unit's WorkingDirectory), daemonized with a pid file and a log for the lab. Unlike the
 * unit (journald stamps its lines) the lab's log file keeps OpenVPN's own timestamps, to line the
 * client up with the server's and dnsmasq's logs.
 */
export function labClientArgv(dir: string, boot: LabBoot, pidFile: string, logFile: string): string[] {
  return ['openvpn', '--nobind', '--cd', dir, '--config', boot.configName,
    '--daemon', `hypernet-client`, '--writepid', pidFile, '--log', logFile];
}

/**
 * The `user_data` of a hyperswitch VM: a `#cloud-config` whose runcmd starts the hypernet agent in
 * agentless mode, pointed at the server and named as the hyperswitch (its agent host id).
 */
export function buildHyperswitchUserData(a: { server: string; host: string; cloud: string }): string {
  const argv = ['hypernet', 'agent', '--server', a.server, '--host', a.host, '--cloud', a.cloud, '--agentless'];
  return '#cloud-config\n' + stringify({ runcmd: [argv] }, { lineWidth: 0 });
}

/** The agent command line (after `hypernet`) a hyperswitch user_data runs; throws when it has none. */
export function agentArgvFromUserData(userData: string): string[] {
  const doc = parse(userData) as { runcmd?: unknown[] } | null;
  const cmd = (doc?.runcmd ?? []).find((c): c is string[] => Array.isArray(c) && c[0] === 'hypernet' && c[1] === 'agent');
  if (!cmd) throw new Error('hyperswitch user_data starts no hypernet agent');
  return cmd.slice(1).map(String);
}
