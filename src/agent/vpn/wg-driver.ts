/**
 * Applies the agentless WireGuard state through the injected Exec: the interface and its peers with
 * the encrypted overlay's WireGuard driver (../crypt/driver.ts: wireguard-go or the kernel module),
 * the hyperswitch's private key written to a 0600 file first, then `ip route`/`ip neigh … proxy`,
 * `sysctl` for forwarding, and `nft -f -` for the two tables (declared, deleted and refilled in one
 * transaction: never a moment without the security groups).
 */
import { dirname } from 'node:path';
import { mkdir } from 'node:fs/promises';
import type { Exec } from '../../common/exec.js';
import { writeFileAtomic, readTextOrNull } from '../../common/files.js';
import { WGA_ROUTE_PROTO, WGA_TABLE, type WgaDesired, type WgaRoute } from './wg-compile.js';
import type { WgaActual, WgaOp } from './wg-diff.js';

const withPrefix = (dst: string): string => (dst.includes('/') ? dst : `${dst}/${dst.includes(':') ? 128 : 32}`);

/** Our routes, the proxy entries, and which of `devs` forward. */
export async function readWga(exec: Exec, devs: readonly string[]): Promise<WgaActual> {
  const r = await exec('ip', ['-j', 'route', 'show', 'proto', String(WGA_ROUTE_PROTO)], { allowFail: true });
  const routes = r.code === 0 ? (JSON.parse(r.stdout || '[]') as { dst: string; dev: string }[]) : [];
  const n = await exec('ip', ['-j', 'neigh', 'show', 'proxy'], { allowFail: true });
  const proxies = n.code === 0 ? (JSON.parse(n.stdout || '[]') as { dst: string; dev: string }[]) : [];
  const forwarding: string[] = [];
  for (const dev of devs) {
    const s = await exec('sysctl', ['-n', `net.ipv4.conf.${dev}.forwarding`], { allowFail: true });
    if (s.code === 0 && s.stdout.trim() === '1') forwarding.push(dev);
  }
  return {
    routes: routes.map((x) => ({ dst: withPrefix(x.dst), dev: x.dev })),
    proxies: proxies.map((x) => ({ ip: x.dst, dev: x.dev })),
    forwarding,
  };
}

export function renderWgaOp(o: WgaOp): { cmd: string; args: string[] } {
  const route = (verb: string, r: WgaRoute) => ['route', verb, r.dst, 'dev', r.dev, 'proto', String(WGA_ROUTE_PROTO)];
  switch (o.op) {
    case 'forward':
      return { cmd: 'sysctl', args: ['-qw', `net.ipv4.conf.${o.dev}.forwarding=1`] };
    case 'route-add':
      return { cmd: 'ip', args: route('replace', o.route) };
    case 'route-del':
      return { cmd: 'ip', args: route('del', o.route) };
    case 'proxy-add':
      return { cmd: 'ip', args: ['neigh', 'replace', 'proxy', o.ip, 'dev', o.dev] };
    case 'proxy-del':
      return { cmd: 'ip', args: ['neigh', 'del', 'proxy', o.ip, 'dev', o.dev] };
  }
}

/** Applies in order; each failure stands alone (the loop retries). Returns the failures. */
export async function applyWga(exec: Exec, ops: readonly WgaOp[]): Promise<string[]> {
  const failed: string[] = [];
  for (const o of ops) {
    const c = renderWgaOp(o);
    const r = await exec(c.cmd, c.args, { allowFail: true, timeoutMs: 10_000 });
    if (r.code !== 0) failed.push(`${c.cmd} ${c.args.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
  }
  return failed;
}

/** Writes the private key where `wg set … private-key` reads it, when it differs. */
export async function writeKey(file: string, key: string): Promise<void> {
  if ((await readTextOrNull(file))?.trim() === key) return;
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, `${key}\n`, 0o600);
}

/** Replaces both tables in one transaction; `text` null removes them. */
export async function applyWgaNft(exec: Exec, text: string | null): Promise<void> {
  const head = [
    `table inet ${WGA_TABLE}`,
    `delete table inet ${WGA_TABLE}`,
    `table bridge ${WGA_TABLE}`,
    `delete table bridge ${WGA_TABLE}`,
  ].join('\n');
  await exec('nft', ['-f', '-'], { input: `${head}\n${text ?? ''}`, timeoutMs: 10_000 });
}
