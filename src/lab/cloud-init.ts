/**
 * The lab plays cloud-init: it reads the `user_data` documents the server hands out and runs what
 * they say inside a namespace. An agentless VM's client files and the openvpn command line of the
 * distribution's openvpn-client@ unit; a hyperswitch's agent command line.
 */
import { parse } from 'yaml';
import { CLIENT_DIR } from '../model/agentless.js';

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
  return [
    'openvpn',
    '--nobind',
    '--cd',
    dir,
    '--config',
    boot.configName,
    '--daemon',
    `hypernet-client`,
    '--writepid',
    pidFile,
    '--log',
    logFile,
  ];
}

/** The agent command line (after `hypernet`) a hyperswitch user_data runs; throws when it has none. */
export function agentArgvFromUserData(userData: string): string[] {
  const doc = parse(userData) as { runcmd?: unknown[] } | null;
  const cmd = (doc?.runcmd ?? []).find(
    (c): c is string[] => Array.isArray(c) && c[0] === 'hypernet' && c[1] === 'agent',
  );
  if (!cmd) throw new Error('hyperswitch user_data starts no hypernet agent');
  return cmd.slice(1).map(String);
}

/** The runcmd entries of a user_data document as argv lists (a string entry runs through `sh -c`). */
export function runcmdFromUserData(userData: string): string[][] {
  const doc = parse(userData) as { runcmd?: unknown[] } | null;
  return (doc?.runcmd ?? []).map((c) => (Array.isArray(c) ? c.map(String) : ['sh', '-c', String(c)]));
}
