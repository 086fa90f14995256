/**
 * Pure compile of the OpenVPN server of ONE agentless port on a hyperswitch vms NIC.
 *
 * Design: one `openvpn` process per agentless port, listening on its own UDP port of the vms IP,
 * with its own persistent TAP `vpn` + port id[0:11], joined through a veth pair (./port-links.ts) to
 * the port interface named like any other (`tap` + port id[0:11]). That is an ordinary bridge port
 * of the port's network bridge (`hnb-N`): the agent enslaves it, applies MTU and the nftables
 * anti-spoofing (port MAC/IP) exactly as for a VM's veth, and DHCP (dnsmasq per network) answers the
 * client like any local port. Per-port processes also make
 * admission trivial (one CN, one provider IP per process) and dropping a client means stopping
 * one process or `kill CN` on its management socket.
 *
 * Admission (fail closed, checked twice): OpenSSL checks the chain and the CRL (`crl-verify`),
 * `verify-x509-name` pins the CN to the port id, and the admission hook (tls-verify and
 * client-connect) accepts only CN = port id coming from `untrusted_ip` = the port's provider IP.
 */
import { createHash } from 'node:crypto';
import { tapName, vpnTapName } from '../../model/kernel-names.js';
import { DATA_CHANNEL_TUNING } from '../../model/agentless.js';
import { assertWord } from '../../model/grammar/words.js';

/** The port interface (named as every port interface is, docs/CONVENTIONS.md) and OpenVPN's TAP. */
export { tapName, vpnTapName };

export interface VpnServerSpec {
  /** The hyper (neutron) port id: the client certificate's CN. */
  portId: string;
  /** The provider IP of the agentless port's NIC: the only accepted source address. */
  providerIp: string;
  /** The hyper port's MAC (the client sets it on its TAP; the agent's firewall enforces it). */
  macAddress: string;
  /** The hyperswitch vms IP to bind to (vms_ip_N for the port's NIC index). */
  listenIp: string;
  listenPort: number;
  /** The hyper network MTU (TAP MTU on both ends). */
  mtu: number;
  /** MTU of the provider network the encrypted UDP crosses. */
  underlayMtu: number;
}

/** Absolute paths of the files a server config points at. */
export interface VpnServerFiles {
  ca: string;
  cert: string;
  key: string;
  crl: string;
  hook: string;
  management: string;
}

/**
 * server.conf for one agentless port. `certFingerprint` (of the server certificate) is written as a
 * comment so that a renewed certificate changes the text and the driver restarts the process.
 */
export function compileServerConfig(spec: VpnServerSpec, files: VpnServerFiles, certFingerprint = ''): string {
  for (const [k, v] of Object.entries(files)) assertWord(k, v);
  const id = assertWord('portId', spec.portId);
  const ip = assertWord('providerIp', spec.providerIp);
  const hook = `"${files.hook} ${id} ${ip}"`;
  return [
    `# hypernet agentless OpenVPN server for port ${id} (generated; do not edit)`,
    ...(certFingerprint ? [`# server-cert ${certFingerprint}`] : []),
    'mode server',
    'tls-server',
    'proto udp4',
    `local ${assertWord('listenIp', spec.listenIp)}`,
    `port ${spec.listenPort}`,
    `dev ${vpnTapName(id)}`,
    'dev-type tap',
    `tun-mtu ${spec.mtu}`,
    `mssfix ${spec.underlayMtu} mtu`,
    ...DATA_CHANNEL_TUNING,
    `ca ${files.ca}`,
    `cert ${files.cert}`,
    `key ${files.key}`,
    'dh none',
    'tls-version-min 1.2',
    `crl-verify ${files.crl}`,
    'remote-cert-tls client',
    `verify-x509-name ${id} name`,
    'script-security 2',
    `tls-verify ${hook}`,
    `client-connect ${hook}`,
    'keepalive 10 60',
    'explicit-exit-notify 1',
    'persist-key',
    'persist-tun',
    `management ${files.management} unix`,
    'verb 3',
    '',
  ].join('\n');
}

/** The admission hook (POSIX sh), shared by every port's server: args PORT_ID PROVIDER_IP. */
export const ADMISSION_HOOK = `#!/bin/sh
# hypernet agentless admission hook, run by OpenVPN as tls-verify and client-connect.
# Usage: admit.sh PORT_ID PROVIDER_IP [OpenVPN's own arguments]
# Accepts only the certificate whose CN is PORT_ID, presented from the real source IP PROVIDER_IP.
want_cn=$1
want_ip=$2
shift 2
case "$script_type" in
  tls-verify)
    # $1 is the depth: above 0 are CA certificates, already checked by OpenSSL.
    [ "$1" = 0 ] || exit 0
    cn=$X509_0_CN ;;
  client-connect)
    cn=$common_name ;;
  *)
    echo "hypernet-admit: unexpected script_type '$script_type'" >&2
    exit 1 ;;
esac
if [ -n "$want_cn" ] && [ "$cn" = "$want_cn" ] && [ -n "$want_ip" ] && [ "$untrusted_ip" = "$want_ip" ]; then
  exit 0
fi
echo "hypernet-admit: refused $script_type cn='$cn' from '$untrusted_ip' (want '$want_cn' from '$want_ip')" >&2
exit 1
`;

/** SHA-256 of a PEM, hex: used to tie a config text to the certificate it was compiled for. */
export function fingerprint(pem: string): string {
  return createHash('sha256').update(pem).digest('hex');
}
