/**
 * Reads the kernel's datapath state: parses `ip -json [-d] link show`, `bridge -json -d link show`,
 * `bridge -json fdb show` and `ip -json neigh show` into the ActualState the diff compares with.
 * The parsers are pure (tested on captured samples); `readKernel` reads only what the diff needs
 * (no details of the taps, the FDB of our VXLAN devices only): on a node with 1,000 taps the full
 * detailed listing is most of a pass. kernel-reader.ts decides when a pass reads less (readLinksLight).
 */
import type { Exec } from '../../common/exec.js';
import { isOurVxlan } from '../../model/kernel-names.js';
import type { ActualBridgePort, ActualFdb, ActualLink, ActualNeigh, ActualState } from './types.js';

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
      mac: str(l.address)?.toLowerCase() ?? null,
      up: flags(l.flags).includes('UP'),
      master: str(l.master),
      vxlan:
        kind === 'vxlan'
          ? {
              vni: Number(data.id),
              local: str(data.local),
              port: Number(data.port ?? 0),
              learning: data.learning === true,
            }
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
    return [
      {
        mac: mac.toLowerCase(),
        dev,
        dst: str(e.dst),
        master: !f.includes('self') && str(e.master) !== null,
        state: str(e.state) ?? '',
      },
    ];
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

/**
 * The bridge-port flags of links listed with `-d` (`info_slave_data` of a bridge port): what
 * `bridge -json -d link show` gives, for the listed links only.
 */
export function parseSlaveBridgePorts(text: string): Map<string, ActualBridgePort> {
  const out = new Map<string, ActualBridgePort>();
  for (const l of arr(text)) {
    const name = str(l.ifname);
    const master = str(l.master);
    const info = (l.linkinfo ?? {}) as Json;
    if (!name || !master || str(info.info_slave_kind) !== 'bridge') continue;
    const d = (info.info_slave_data ?? {}) as Json;
    out.set(name, { name, master, learning: d.learning !== false, neighSuppress: d.neigh_suppress === true });
  }
  return out;
}

/** `bridge -json fdb show dev <dev>` (entries carry no ifname: they are all `dev`'s). */
export function parseDevFdb(text: string, dev: string): ActualFdb[] {
  return parseFdb(JSON.stringify(arr(text).map((e) => ({ ...e, ifname: dev }))));
}

/**
 * Links without the 1,000 taps' details: a plain listing (name, mtu, flags, master) of every link,
 * with the details (kind, VXLAN attributes, bridge-port flags) of the bridges and VXLAN devices only
 * (`-d` of every tap is most of the bytes on a busy node). A tap's kind stays null: the diff and the
 * port status look only at its name, master, MTU and flags.
 */
async function readLinksDetailed(exec: Exec): Promise<{ links: Map<string, ActualLink>; vxlanText: string }> {
  const [plain, vxlans, bridges] = await Promise.all([
    exec('ip', ['-json', 'link', 'show']),
    exec('ip', ['-json', '-d', 'link', 'show', 'type', 'vxlan']),
    exec('ip', ['-json', '-d', 'link', 'show', 'type', 'bridge']),
  ]);
  const links = parseLinks(plain.stdout);
  for (const [n, l] of parseLinks(bridges.stdout)) links.set(n, l);
  for (const [n, l] of parseLinks(vxlans.stdout)) links.set(n, l);
  return { links, vxlanText: vxlans.stdout };
}

/**
 * Several `ip -json -d` listings in one process (`-batch`: one JSON document per line, in order):
 * on a busy node a process start costs more than a short listing.
 */
async function ipListings(exec: Exec, cmds: readonly string[]): Promise<string[]> {
  const r = await exec('ip', ['-json', '-d', '-batch', '-'], { input: `${cmds.join('\n')}\n` });
  const docs = r.stdout.split('\n').filter((l) => l.trim());
  if (docs.length !== cmds.length)
    throw new Error(`ip -batch: ${docs.length} listings for ${cmds.length} commands: ${r.stderr.trim()}`);
  return docs;
}

/**
 * Links from memory and a short listing: the links that were in a bridge at the last read (`known`,
 * bridges and VXLAN devices aside) are taken as they were, and only the links in no bridge (a new or
 * released tap), the bridges and the VXLAN devices are listed (with the VXLAN devices' bridge-port
 * flags), in one `ip` process — at 1,000 enslaved taps `ip link show nomaster` takes ~2 ms where
 * the full listing takes ~15 ms. What this cannot see (an enslaved tap deleted or changed by hand)
 * a full read sees.
 */
export async function readLinksLight(
  exec: Exec,
  known: ReadonlyMap<string, ActualLink>,
): Promise<Pick<ActualState, 'links' | 'bridgePorts'>> {
  const [loose, bridges, vxlans] = await ipListings(exec, [
    'link show nomaster',
    'link show type bridge',
    'link show type vxlan',
  ]);
  const links = new Map<string, ActualLink>();
  for (const [n, l] of known) if (l.master !== null && l.kind !== 'vxlan' && l.kind !== 'bridge') links.set(n, l);
  for (const [n, l] of parseLinks(loose!)) links.set(n, l);
  for (const [n, l] of parseLinks(bridges!)) links.set(n, l);
  for (const [n, l] of parseLinks(vxlans!)) links.set(n, l);
  return { links, bridgePorts: parseSlaveBridgePorts(vxlans!) };
}

/** The FDB of each of `devs` (`bridge fdb show dev`), in one `bridge -batch` process when it can. */
async function readFdb(exec: Exec, devs: readonly string[]): Promise<ActualFdb[]> {
  if (devs.length === 0) return [];
  const r = await exec('bridge', ['-json', '-force', '-batch', '-'], {
    input: `${devs.map((d) => `fdb show dev ${d}`).join('\n')}\n`,
    allowFail: true,
  });
  const docs = r.stdout.split('\n').filter((l) => l.trim());
  // A device gone meanwhile prints nothing: then which listing is whose is unknown; ask one by one.
  if (docs.length === devs.length) return docs.flatMap((d, i) => parseDevFdb(d, devs[i]!));
  const each = await Promise.all(
    devs.map(async (dev) =>
      parseDevFdb((await exec('bridge', ['-json', 'fdb', 'show', 'dev', dev], { allowFail: true })).stdout, dev),
    ),
  );
  return each.flat();
}

/**
 * Reads the datapath state (through `exec`, so it works inside a namespace too): links as above,
 * neighbours, the bridge-port flags of the VXLAN devices and the FDB of each of our VXLAN devices
 * (`bridge fdb show dev`, not the whole table with every tap's entries).
 */
export async function readKernel(exec: Exec): Promise<ActualState> {
  const [{ links, vxlanText }, neigh] = await Promise.all([
    readLinksDetailed(exec),
    exec('ip', ['-json', 'neigh', 'show']),
  ]);
  const ours = [...links.values()].filter((l) => l.kind === 'vxlan' && isOurVxlan(l.name)).map((l) => l.name);
  return {
    links,
    bridgePorts: parseSlaveBridgePorts(vxlanText),
    fdb: await readFdb(exec, ours),
    neigh: parseNeigh(neigh.stdout),
  };
}

/** Only the links, all of them (after an apply: what port status and announcements look at). */
export async function readLinks(exec: Exec): Promise<Map<string, ActualLink>> {
  return (await readLinksDetailed(exec)).links;
}
