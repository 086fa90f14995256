/**
 * The VMs' real DHCP client: ISC dhclient with a lab-provided configuration (asks for the MTU,
 * option 26, and classless routes, retries fast) and a minimal `-sf` script that sets the address,
 * MTU and routes and never touches /etc/resolv.conf. One dhclient per VM, pid and lease files in the
 * lab's state directory.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Exec } from '../common/exec.js';
import type { LabPaths } from './plan.js';

export const DHCLIENT_CONF = `# hypernet lab: dhclient configuration for lab VMs
option rfc3442-classless-static-routes code 121 = array of unsigned integer 8;
request subnet-mask, broadcast-address, routers, interface-mtu, rfc3442-classless-static-routes;
timeout 40;
retry 5;
initial-interval 1;
backoff-cutoff 2;
`;

/** Runs under dhclient with its environment ($reason, $interface, $new_*). POSIX sh. */
export const DHCLIENT_SCRIPT = `#!/bin/sh
# hypernet lab: minimal dhclient script. Sets address, MTU and routes; never touches resolv.conf.
set -u
ip=/usr/sbin/ip
[ -x "$ip" ] || ip=ip
case "$reason" in
  MEDIUM|ARPCHECK|ARPSEND) exit 0 ;;
  PREINIT)
    $ip link set dev "$interface" up
    exit 0 ;;
  BOUND|RENEW|REBIND|REBOOT)
    if [ -n "\${old_ip_address:-}" ] && [ "\${old_ip_address:-}" != "\${new_ip_address:-}" ]; then
      $ip -4 addr flush dev "$interface"
    fi
    if [ -n "\${new_interface_mtu:-}" ] && [ "\${new_interface_mtu}" -ge 576 ]; then
      $ip link set dev "$interface" mtu "$new_interface_mtu"
    fi
    $ip -4 addr replace "$new_ip_address/$new_subnet_mask" \${new_broadcast_address:+broadcast "$new_broadcast_address"} dev "$interface"
    if [ -n "\${new_rfc3442_classless_static_routes:-}" ]; then
      set -- $new_rfc3442_classless_static_routes
      while [ $# -ge 5 ]; do
        len=$1; shift
        a=0; b=0; c=0; d=0
        [ "$len" -gt 0 ] && { a=$1; shift; }
        [ "$len" -gt 8 ] && { b=$1; shift; }
        [ "$len" -gt 16 ] && { c=$1; shift; }
        [ "$len" -gt 24 ] && { d=$1; shift; }
        gw="$1.$2.$3.$4"; shift 4
        if [ "$gw" = "0.0.0.0" ]; then
          $ip -4 route replace "$a.$b.$c.$d/$len" dev "$interface"
        else
          $ip -4 route replace "$a.$b.$c.$d/$len" via "$gw" dev "$interface" onlink
        fi
      done
    elif [ -n "\${new_routers:-}" ]; then
      for r in $new_routers; do
        $ip -4 route replace default via "$r" dev "$interface" onlink
        break
      done
    fi
    exit 0 ;;
  EXPIRE|FAIL|RELEASE|STOP)
    [ -n "\${old_ip_address:-}" ] && $ip -4 addr flush dev "$interface"
    exit 0 ;;
  TIMEOUT)
    exit 1 ;;
esac
exit 0
`;

/** Writes the configuration and the script into the state directory (idempotent). */
export function writeDhclientFiles(paths: LabPaths): void {
  mkdirSync(paths.dhcpDir, { recursive: true });
  writeFileSync(paths.dhclientConf, DHCLIENT_CONF);
  writeFileSync(paths.dhclientScript, DHCLIENT_SCRIPT);
  chmodSync(paths.dhclientScript, 0o755);
}

export function dhclientPidFile(paths: LabPaths, vmName: string): string {
  return join(paths.pidDir, `dhclient-${vmName}.pid`);
}

/**
 * Runs dhclient in the VM namespace on `ifname` and waits until it has a lease (it then goes to the
 * background and keeps renewing). Throws when no lease comes within dhclient's timeout.
 */
export async function runDhclient(
  exec: Exec,
  paths: LabPaths,
  vmName: string,
  ns: string,
  ifname = 'eth0',
  timeoutMs = 45_000,
): Promise<void> {
  mkdirSync(paths.pidDir, { recursive: true });
  await exec(
    'ip',
    [
      'netns',
      'exec',
      ns,
      'dhclient',
      '-4',
      '-1',
      '-cf',
      paths.dhclientConf,
      '-sf',
      paths.dhclientScript,
      '-pf',
      dhclientPidFile(paths, vmName),
      '-lf',
      join(paths.dhcpDir, `${vmName}.leases`),
      ifname,
    ],
    { timeoutMs },
  );
}
