/**
 * Namespace scaffolding for the DHCP driver test: a per-run prefix, a sweep of namespaces left by
 * crashed earlier runs (only those whose run PID is dead), and a real dhclient run in a workload
 * namespace with our own script that records the options it got.
 */
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { realExec } from '../../../src/common/exec.js';
import { alive, listNetns } from '../../../testkit/runs.js';

export { listNetns };

export const RUN_TAG = 'hntd';
export const runPrefix = (pid: number): string => `${RUN_TAG}${pid}-`;

async function cmdline(pid: number): Promise<string> {
  return readFile(`/proc/${pid}/cmdline`, 'utf8').then(
    (s) => s.replace(/\0/g, ' '),
    () => '',
  );
}

/** Kills dnsmasq/dhclient processes inside `ns` (our test's daemons only) and deletes it. */
export async function destroyNetns(ns: string): Promise<void> {
  const r = await realExec('ip', ['netns', 'pids', ns], { allowFail: true });
  for (const pid of r.stdout.split(/\s+/).filter(Boolean).map(Number)) {
    if (/^\S*(dnsmasq|dhclient) /.test(await cmdline(pid))) process.kill(pid, 'SIGKILL');
  }
  await realExec('ip', ['netns', 'del', ns], { allowFail: true });
}

/** Removes namespaces and state dirs of earlier runs of this test whose process is gone. */
export async function sweepStale(): Promise<void> {
  const re = new RegExp(`^${RUN_TAG}(\\d+)-`);
  for (const ns of await listNetns()) {
    const m = re.exec(ns);
    if (m && !alive(Number(m[1]))) await destroyNetns(ns);
  }
  const { readdir } = await import('node:fs/promises');
  for (const d of await readdir('/tmp')) {
    const m = re.exec(d);
    if (m && !alive(Number(m[1]))) await rm(join('/tmp', d), { recursive: true, force: true });
  }
}

export interface LeaseResult {
  code: number;
  /** Environment dhclient gave the script on BOUND, or null if no lease. */
  env: Record<string, string> | null;
  /** PID of the backgrounded dhclient after a lease (caller kills it). */
  pid: number | null;
}

/** Runs `dhclient -1` once on eth0 in `ns`, giving up after `timeoutSec`. */
export async function runDhclient(dir: string, ns: string, name: string, timeoutSec: number): Promise<LeaseResult> {
  const conf = join(dir, `${name}.conf`);
  const script = join(dir, `${name}.sh`);
  const out = join(dir, `${name}.env`);
  const pidFile = join(dir, `${name}.pid`);
  await rm(out, { force: true });
  await writeFile(
    conf,
    [
      `timeout ${timeoutSec};`,
      'retry 1;',
      'option rfc3442-classless-static-routes code 121 = array of unsigned integer 8;',
      'request subnet-mask, routers, domain-name-servers, interface-mtu, rfc3442-classless-static-routes;',
      '',
    ].join('\n'),
  );
  await writeFile(
    script,
    [
      '#!/bin/sh',
      'case "$reason" in',
      '  PREINIT) ip link set dev "$interface" up ;;',
      '  BOUND|RENEW|REBIND|REBOOT)',
      `    env > "${out}.tmp" && mv "${out}.tmp" "${out}"`,
      '    ip addr replace "$new_ip_address/$new_subnet_mask" dev "$interface"',
      '    [ -n "$new_interface_mtu" ] && ip link set dev "$interface" mtu "$new_interface_mtu"',
      '    ;;',
      'esac',
      'exit 0',
      '',
    ].join('\n'),
  );
  await chmod(script, 0o755);
  const r = await realExec(
    'ip',
    [
      'netns',
      'exec',
      ns,
      'dhclient',
      '-1',
      '-v',
      '-cf',
      conf,
      '-sf',
      script,
      '-lf',
      join(dir, `${name}.lease`),
      '-pf',
      pidFile,
      'eth0',
    ],
    { allowFail: true, timeoutMs: (timeoutSec + 15) * 1000 },
  );
  const text = await readFile(out, 'utf8').catch(() => null);
  const env = text
    ? Object.fromEntries(
        text
          .split('\n')
          .filter((l) => l.includes('='))
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      )
    : null;
  const pidText = await readFile(pidFile, 'utf8').catch(() => '');
  const pid = Number(pidText.trim()) || null;
  return { code: r.code, env, pid: pid && (await cmdline(pid)).includes('dhclient') ? pid : null };
}

/** Kills a dhclient we started, if it is still that dhclient. */
export async function killDhclient(pid: number | null): Promise<void> {
  if (pid && (await cmdline(pid)).includes('dhclient')) process.kill(pid, 'SIGKILL');
}
