/**
 * The `user_data` of an agentless port: a `#cloud-config` document a stock Linux VM (Debian,
 * Ubuntu) boots with. It installs the stock `openvpn` package, writes the client config (certificates
 * inline) and the hook script (./client-hook.ts) into /etc/openvpn/client, and enables the
 * distribution's own `openvpn-client@hypernet` systemd unit, so the tunnel also comes back after a
 * reboot. The lab runs the very same files (src/lab/cloud-init.ts takes them back out). A WireGuard
 * port's document installs `wireguard-tools` instead and enables `wg-quick@hypernet` on its config.
 */
import { stringify } from 'yaml';
import { CLIENT_DIR, CLIENT_NAME, WG_CLIENT_DIR } from '../../model/agentless.js';
import { CLIENT_HOOK_NAME, compileClientHook } from './client-hook.js';
import { compileClientConfig, type VpnClientSpec } from './client-config.js';
import { compileWgClientConfig, type WgClientSpec } from './wg-client-config.js';

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
  return `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
}

/** The `user_data` of a WireGuard agentless port: the stock wg-quick with its config (mode 0600: the private key). */
export function buildWgUserData(spec: WgClientSpec): string {
  const doc = {
    packages: ['wireguard-tools'],
    write_files: [
      {
        path: `${WG_CLIENT_DIR}/${CLIENT_NAME}.conf`,
        owner: 'root:root',
        permissions: '0600',
        content: compileWgClientConfig(spec),
      },
    ],
    runcmd: [['systemctl', 'enable', '--now', `wg-quick@${CLIENT_NAME}`]],
  };
  return `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
}

/**
 * The `user_data` of a hyperswitch VM: a `#cloud-config` whose runcmd starts the hypernet agent in
 * agentless mode, pointed at the server and named as the hyperswitch (its agent host id), with the
 * agents' API token when the server runs token auth (the user_data goes to the provider only; the
 * API never shows it).
 */
export function buildHyperswitchUserData(a: { server: string; host: string; cloud: string; token?: string }): string {
  const argv = ['hypernet', 'agent', '--server', a.server, '--host', a.host, '--cloud', a.cloud, '--agentless'];
  if (a.token) argv.push('--token', a.token);
  return `#cloud-config\n${stringify({ runcmd: [argv] }, { lineWidth: 0 })}`;
}
