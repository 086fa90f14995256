/**
 * The kernel links of one agentless port on its hyperswitch, made and removed by the OpenVPN driver:
 *
 *   openvpn ⇄ TAP `vpn<id>` ⇄ tc redirect ⇄ veth `vps<id>` ⇄ veth `tap<id>` (the port interface)
 *
 * The agent bridges `tap<id>` like any port interface (MTU, firewall, DHCP). Why not OpenVPN's TAP
 * itself: OpenVPN writes one frame per write(), and a TAP carries each frame through the whole overlay
 * inside that call (bridge, netfilter, VXLAN, the far node), one 1,450-byte frame at a time. The veth
 * end `tap<id>` instead receives with GRO in a threaded NAPI: the frames queue in the veth ring, a
 * kernel thread coalesces a TCP flow's frames into super-packets before the bridge, the overlay and
 * the security groups then handle one skb per several frames, the receiver acks less (fewer frames
 * back through OpenVPN), and the OpenVPN server's write returns at once. veth hands a frame to NAPI
 * only when its sender has no TSO, hence `tso off` on `vps<id>`.
 *
 * Level-triggered: `ensurePortLinks` checks the layout (the port's three links, from one `ip -d
 * -json link` read of the namespace per pass, and a tc read per direction) and repairs what differs, including a port
 * interface that is still OpenVPN's TAP
 * (the older layout). The GRO tuning is applied when the veth pair is made; where it fails (no
 * ethtool, a kernel without threaded NAPI) the port works untuned and a warning says why.
 */
import { netSysfsWrite } from '../net-sysfs.js';
import type { Exec } from '../../common/exec.js';
import type { Logger } from '../../common/log.js';
import { parseLinks } from '../datapath/kernel-parse.js';
import { tapName, vpnShimName, vpnTapName } from '../../model/kernel-names.js';
import type { ActualLink } from '../datapath/types.js';

export interface PortLinkNames {
  /** OpenVPN's TAP (`dev` in the server config). */
  vpnTap: string;
  /** The veth end joined to the TAP by tc redirects. */
  shim: string;
  /** The port interface (veth end) that the agent bridges. */
  port: string;
}

export const portLinkNames = (portId: string): PortLinkNames => ({
  vpnTap: vpnTapName(portId),
  shim: vpnShimName(portId),
  port: tapName(portId),
});

async function showLink(exec: Exec, name: string): Promise<ActualLink | undefined> {
  const r = await exec('ip', ['-d', '-json', 'link', 'show', 'dev', name], { allowFail: true });
  return r.code === 0 ? parseLinks(r.stdout).get(name) : undefined;
}

/** Every link of the namespace by name, in one read (for a pass over many ports). */
export async function listLinks(exec: Exec): Promise<Map<string, ActualLink>> {
  return parseLinks((await exec('ip', ['-d', '-json', 'link', 'show'])).stdout);
}

interface TcFilter {
  options?: { actions?: { kind?: string; mirred_action?: string; direction?: string; to_dev?: string }[] };
}

/** Whether `from`'s ingress redirects to `to`'s egress, and only there (pure, on `tc -json filter show`). */
export function redirectsTo(tcJson: string, to: string): boolean {
  const actions = (JSON.parse(tcJson || '[]') as TcFilter[]).flatMap((f) => f.options?.actions ?? []);
  return (
    actions.length === 1 &&
    actions[0]!.kind === 'mirred' &&
    actions[0]!.mirred_action === 'redirect' &&
    actions[0]!.direction === 'egress' &&
    actions[0]!.to_dev === to
  );
}

/** Makes `from`'s ingress redirect everything to `to`'s egress (clsact, one u32 match-all), unless it does. */
async function ensureRedirect(exec: Exec, from: string, to: string): Promise<void> {
  const have = await exec('tc', ['-json', 'filter', 'show', 'dev', from, 'ingress'], { allowFail: true });
  if (have.code === 0 && redirectsTo(have.stdout, to)) return;
  await exec('tc', ['qdisc', 'replace', 'dev', from, 'clsact']);
  await exec('tc', ['filter', 'del', 'dev', from, 'ingress'], { allowFail: true });
  await exec('tc', [
    'filter',
    'add',
    'dev',
    from,
    'ingress',
    'pref',
    '1',
    'protocol',
    'all',
    'u32',
    'match',
    'u32',
    '0',
    '0',
    'action',
    'mirred',
    'egress',
    'redirect',
    'dev',
    to,
  ]);
}

/** GRO with a threaded NAPI on the port end, no TSO on the shim end (see the module comment). */
async function tuneVeth(exec: Exec, n: PortLinkNames): Promise<void> {
  await exec('ethtool', ['-K', n.shim, 'tso', 'off']);
  await exec('ethtool', ['-K', n.port, 'gro', 'on']);
  // Only sysfs sets a device's NAPI threaded.
  const w = netSysfsWrite(n.port, 'threaded', '1');
  await exec(w.cmd, w.args);
}

/**
 * Makes the links of one port exactly the layout above, with `mtu` on all three, all up, and the
 * port interface in `bridge` when one is given (otherwise the agent enslaves it and, once the pair
 * is made, keeps its MTU and state). `links`: the namespace's links read once for many ports
 * (`listLinks`); each link is read on its own otherwise.
 */
export async function ensurePortLinks(
  exec: Exec,
  log: Logger,
  portId: string,
  mtu: number,
  bridge?: string,
  links?: Map<string, ActualLink>,
): Promise<void> {
  const n = portLinkNames(portId);
  const read = (name: string) => (links ? links.get(name) : showLink(exec, name));
  let tap = await read(n.vpnTap);
  let port = await read(n.port);
  if (tap && tap.kind !== 'tun') {
    await exec('ip', ['link', 'del', 'dev', n.vpnTap]);
    tap = undefined;
  }
  if (port && port.kind !== 'veth') {
    await exec('ip', ['link', 'del', 'dev', n.port]);
    port = undefined;
  }
  if (!tap) await exec('ip', ['tuntap', 'add', 'dev', n.vpnTap, 'mode', 'tap']);
  const fresh = !port;
  if (fresh) {
    await exec('ip', ['link', 'del', 'dev', n.shim], { allowFail: true });
    await exec('ip', [
      'link',
      'add',
      n.port,
      'mtu',
      String(mtu),
      'type',
      'veth',
      'peer',
      'name',
      n.shim,
      'mtu',
      String(mtu),
    ]);
  }
  const up = (l: ActualLink | undefined, master?: string) =>
    !!l && l.mtu === mtu && l.up && (!master || l.master === master);
  if (!up(tap)) await exec('ip', ['link', 'set', 'dev', n.vpnTap, 'mtu', String(mtu), 'up']);
  if (fresh || !up(await read(n.shim))) await exec('ip', ['link', 'set', 'dev', n.shim, 'mtu', String(mtu), 'up']);
  // After it is made, the port interface's MTU and state are the agent's (admin_state_up may take it
  // down), unless the bridge is ours to set.
  if (fresh || (bridge && !up(port, bridge))) {
    await exec('ip', ['link', 'set', 'dev', n.port, 'mtu', String(mtu), ...(bridge ? ['master', bridge] : []), 'up']);
  }
  if (fresh) {
    await tuneVeth(exec, n).catch((e: Error) =>
      log.warn({ portId, err: e.message }, 'agentless port without GRO (works, slower): tuning its veth failed'),
    );
  }
  await ensureRedirect(exec, n.vpnTap, n.shim);
  await ensureRedirect(exec, n.shim, n.vpnTap);
}

/** Deletes the port's TAP and veth pair (absent ones are fine). */
export async function removePortLinks(exec: Exec, portId: string): Promise<void> {
  const n = portLinkNames(portId);
  for (const name of [n.vpnTap, n.port, n.shim]) await exec('ip', ['link', 'del', 'dev', name], { allowFail: true });
}
