/**
 * Applies WireGuard operations through the injected Exec: `ip` for the interface, its MTU and its
 * address, `wireguard-go IF` (which daemonizes and lives as long as its interface) or the kernel's
 * `wireguard` link type, `wg set` for key, port and peers, `nft -f -` for the VXLAN guard table,
 * `hn-wgbuf` for wireguard-go's UDP socket buffers (read back with `ss`).
 * The interface is ours by its name; deleting it also ends its wireguard-go daemon.
 * Independent operations fail independently (the loop retries them).
 */
import type { Exec } from '../../common/exec.js';
import type { ActualPeer, ActualWg, WgImpl, WgOp } from './types.js';
import { WG_NFT_TABLE } from './compile.js';
import { WGBUF_PATH } from '../native/wgbuf.js';
import { netSysfsWrite } from '../net-sysfs.js';

/** How to choose the implementation: detect, or force one (a forced one that is absent fails closed). */
export type WgMode = 'auto' | WgImpl;

export class WgUnavailableError extends Error {
  override name = 'WgUnavailableError';
}

const PROBE = 'hnwgprobe0';

/**
 * The kernel module if `ip link add type wireguard` works here (a throwaway link, deleted at once),
 * else wireguard-go. Forcing `kernel` where there is none is an error, never a silent fallback.
 */
export async function chooseImpl(exec: Exec, mode: WgMode): Promise<WgImpl> {
  if (mode === 'userspace') return 'userspace';
  const r = await exec('ip', ['link', 'add', 'dev', PROBE, 'type', 'wireguard'], { allowFail: true });
  if (r.code === 0) await exec('ip', ['link', 'del', 'dev', PROBE], { allowFail: true });
  if (r.code === 0) return 'kernel';
  if (mode === 'kernel')
    throw new WgUnavailableError(
      `kernel WireGuard forced, but this kernel has none (ip link add type wireguard: ${r.stderr.trim()})`,
    );
  return 'userspace';
}

/** Parses `wg show IF dump`: the interface line, then one line per peer (tab-separated). */
export function parseDump(text: string): { publicKey: string; listenPort: number; peers: ActualPeer[] } | null {
  const lines = text.split('\n').filter((l) => l.trim());
  if (lines.length === 0) return null;
  const [, publicKey, port] = lines[0].split('\t');
  const peers = lines.slice(1).map((l) => {
    const [key, , endpoint, allowed, hs, rx, tx] = l.split('\t');
    return {
      publicKey: key,
      endpoint: endpoint === '(none)' ? null : endpoint,
      allowedIps: allowed === '(none)' ? [] : allowed.split(','),
      latestHandshake: Number(hs) || 0,
      rxBytes: Number(rx) || 0,
      txBytes: Number(tx) || 0,
    };
  });
  return { publicKey, listenPort: Number(port), peers };
}

export async function readWg(exec: Exec, iface: string): Promise<ActualWg> {
  const link = await exec('ip', ['-j', 'addr', 'show', 'dev', iface], { allowFail: true });
  if (link.code !== 0)
    return {
      exists: false,
      mtu: 0,
      up: false,
      txQueueLen: 0,
      addresses: [],
      publicKey: null,
      listenPort: null,
      peers: [],
      socketBuffer: null,
    };
  const [l] = JSON.parse(link.stdout) as {
    mtu: number;
    flags: string[];
    txqlen?: number;
    addr_info?: { family: string; local: string; prefixlen: number }[];
  }[];
  const dump = await exec('wg', ['show', iface, 'dump'], { allowFail: true });
  const wg = dump.code === 0 ? parseDump(dump.stdout) : null;
  const port = wg?.listenPort;
  const ss = port ? await exec('ss', ['-Hulnm', 'sport', '=', `:${port}`], { allowFail: true }) : null;
  return {
    exists: true,
    mtu: l.mtu,
    up: l.flags.includes('UP'),
    txQueueLen: l.txqlen ?? 0,
    addresses: (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
    publicKey: wg?.publicKey ?? null,
    listenPort: wg?.listenPort ?? null,
    peers: wg?.peers ?? [],
    socketBuffer: ss?.code === 0 ? parseSocketBuffer(ss.stdout) : null,
  };
}

/** The smallest receive buffer (`rb`) in `ss -m` output: every socket on the port must have room. */
export function parseSocketBuffer(text: string): number | null {
  const rbs = [...text.matchAll(/\brb(\d+)/g)].map((m) => Number(m[1]));
  return rbs.length ? Math.min(...rbs) : null;
}

/** The program and arguments of one operation. */
export function renderWgOp(o: WgOp): { cmd: string; args: string[]; input?: string }[] {
  switch (o.op) {
    case 'create':
      return o.impl === 'kernel'
        ? [{ cmd: 'ip', args: ['link', 'add', 'dev', o.iface, 'type', 'wireguard'] }]
        : [{ cmd: 'wireguard-go', args: [o.iface] }];
    case 'set-key':
      return [
        {
          cmd: 'wg',
          args: ['set', o.iface, 'listen-port', String(o.listenPort), 'private-key', o.privateKeyFile],
        },
      ];
    case 'link':
      return [
        {
          cmd: 'ip',
          args: [
            ...['link', 'set', 'dev', o.iface, 'mtu', String(o.mtu)],
            ...(o.txQueueLen ? ['txqueuelen', String(o.txQueueLen)] : []),
            'up',
          ],
        },
        // VXLAN from a peer arrives here with the peer's underlay address as source, whose route is
        // on the underlay: strict reverse-path filtering would drop it (2 = loose; the max with
        // `all` applies, so this is never stricter than loose).
        { cmd: 'sysctl', args: ['-qw', `net.ipv4.conf.${o.iface}.rp_filter=2`] },
      ];
    case 'sockbuf':
      return [{ cmd: WGBUF_PATH, args: [o.iface, String(o.bytes)] }];
    case 'rps':
      return [netSysfsWrite(o.iface, 'queues/rx-0/rps_cpus', o.cpus)];
    case 'addr-add':
      return [{ cmd: 'ip', args: ['addr', 'replace', o.cidr, 'dev', o.iface] }];
    case 'addr-del':
      return [{ cmd: 'ip', args: ['addr', 'del', o.cidr, 'dev', o.iface] }];
    case 'peer-set':
      return [
        {
          cmd: 'wg',
          args: [
            'set',
            o.iface,
            'peer',
            o.peer.publicKey,
            ...(o.peer.endpoint === null ? [] : ['endpoint', o.peer.endpoint]),
            'allowed-ips',
            o.peer.allowedIps.join(','),
          ],
        },
      ];
    case 'peer-del':
      return [{ cmd: 'wg', args: ['set', o.iface, 'peer', o.publicKey, 'remove'] }];
    case 'handshake': {
      // Turning a peer's persistent keepalive on sends one keepalive at once (kernel and wireguard-go),
      // which starts a handshake when the peer has no session; turned off again, nothing stays.
      const keepalive = (v: string): string[] => o.publicKeys.flatMap((k) => ['peer', k, 'persistent-keepalive', v]);
      return [
        { cmd: 'wg', args: ['set', o.iface, ...keepalive('1')] },
        { cmd: 'wg', args: ['set', o.iface, ...keepalive('off')] },
      ];
    }
    case 'nft':
      // Declared, flushed and filled in one transaction: never a moment without the guard.
      return [
        {
          cmd: 'nft',
          args: ['-f', '-'],
          input: `table inet ${WG_NFT_TABLE}\ndelete table inet ${WG_NFT_TABLE}\n${o.text}`,
        },
      ];
  }
}

export interface WgApplyResult {
  applied: number;
  failed: { op: WgOp; error: string }[];
}

/** Applies in order; a failed create stops what needs the interface, other failures stand alone. */
export async function applyWg(exec: Exec, ops: readonly WgOp[]): Promise<WgApplyResult> {
  const out: WgApplyResult = { applied: 0, failed: [] };
  let noIface = false;
  for (const o of ops) {
    if (noIface && o.op !== 'nft') {
      out.failed.push({ op: o, error: 'no interface' });
      continue;
    }
    let error: string | null = null;
    for (const c of renderWgOp(o)) {
      const r = await exec(c.cmd, c.args, { allowFail: true, input: c.input, timeoutMs: 10_000 });
      if (r.code !== 0) {
        error = `${c.cmd} ${c.args.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`;
        break;
      }
    }
    if (error) {
      out.failed.push({ op: o, error });
      if (o.op === 'create') noIface = true;
    } else out.applied++;
  }
  return out;
}
