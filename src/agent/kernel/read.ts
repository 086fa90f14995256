/**
 * Reads the kernel's datapath state: parses `ip -json -d link show`, `bridge -json -d link show`,
 * `bridge -json fdb show` and `ip -json neigh show` into the ActualState the diff compares with.
 * The parsers are pure (tested on captured samples); `readKernel` runs the four commands.
 */
import type { Exec } from '../../common/exec.js';
import type { ActualBridgePort, ActualFdb, ActualLink, ActualNeigh, ActualState } from '../state.js';

type Json = Record<string, unknown>;

const arr = (text: string): Json[] => {
  const t = text.trim();
  if (!t) return [];
  const v = JSON.parse(t) as unknown;
  return Array.isArray(v) ? (v as Json[]) : [];
};
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const flags = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);

/** `ip -json -d link show` */
export function parseLinks(text: string): Map<string, ActualLink> {
  const out = new Map<string, ActualLink>();
  for (const l of arr(text)) {
    const name = str(l.ifname);
    if (!name) continue;
    const info = (l.linkinfo ?? {}) as Json;
    const kind = str(info.info_kind);
    const data = (info.info_data ?? {}) as Json;
    out.set(name, {
      name,
      kind,
      mtu: Number(l.mtu ?? 0),
      up: flags(l.flags).includes('UP'),
      master: str(l.master),
      vxlan:
        kind === 'vxlan'
          ? { vni: Number(data.id), local: str(data.local), port: Number(data.port ?? 0), learning: data.learning === true }
          : null,
    });
  }
  return out;
}

/** `bridge -json -d link show` */
export function parseBridgePorts(text: string): Map<string, ActualBridgePort> {
  const out = new Map<string, ActualBridgePort>();
  for (const p of arr(text)) {
    const name = str(p.ifname);
    const master = str(p.master);
    if (!name || !master) continue;
    out.set(name, { name, master, learning: p.learning !== false, neighSuppress: p.neigh_suppress === true });
  }
  return out;
}

/** `bridge -json fdb show` */
export function parseFdb(text: string): ActualFdb[] {
  return arr(text).flatMap((e) => {
    const mac = str(e.mac);
    const dev = str(e.ifname);
    if (!mac || !dev) return [];
    const f = flags(e.flags);
    return [{ mac: mac.toLowerCase(), dev, dst: str(e.dst), master: !f.includes('self') && str(e.master) !== null, state: str(e.state) ?? '' }];
  });
}

/** `ip -json neigh show` */
export function parseNeigh(text: string): ActualNeigh[] {
  return arr(text).flatMap((n) => {
    const ip = str(n.dst);
    const dev = str(n.dev);
    if (!ip || !dev) return [];
    const lladdr = str(n.lladdr);
    return [{ ip, dev, mac: lladdr ? lladdr.toLowerCase() : null, permanent: flags(n.state).includes('PERMANENT') }];
  });
}

/** Runs the four reads (through `exec`, so it works inside a namespace too). */
export async function readKernel(exec: Exec): Promise<ActualState> {
  const [links, bports, fdb, neigh] = await Promise.all([
    exec('ip', ['-json', '-d', 'link', 'show']),
    exec('bridge', ['-json', '-d', 'link', 'show']),
    exec('bridge', ['-json', 'fdb', 'show']),
    exec('ip', ['-json', 'neigh', 'show']),
  ]);
  return {
    links: parseLinks(links.stdout),
    bridgePorts: parseBridgePorts(bports.stdout),
    fdb: parseFdb(fdb.stdout),
    neigh: parseNeigh(neigh.stdout),
  };
}

/** Only the links (after an apply: what port status and announcements look at). */
export async function readLinks(exec: Exec): Promise<Map<string, ActualLink>> {
  return parseLinks((await exec('ip', ['-json', '-d', 'link', 'show'])).stdout);
}
