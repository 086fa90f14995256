/**
 * The agentless feature's diff (pure): the config text each port's OpenVPN server should run with
 * against what is there (the config on disk, whether our process runs) → one action per port. A
 * server that does not run is started; one whose config changed (a new spec, a renewed server
 * certificate: its fingerprint is in the text) is restarted; the rest is kept; a port with a
 * directory here but no spec any more is removed (its server stopped, its links and files deleted).
 */

/** What runs for one port now. */
export interface VpnActual {
  /** The config on disk ('' when none). */
  readonly conf: string;
  /** Our openvpn runs for it. */
  readonly running: boolean;
}

export type VpnAction = 'start' | 'restart' | 'keep' | 'remove';

export interface VpnOp {
  readonly portId: string;
  readonly action: VpnAction;
}

/** Ops for the wanted ports first (in their order), then removals (sorted). */
export function diffVpn(want: ReadonlyMap<string, string>, have: ReadonlyMap<string, VpnActual>): VpnOp[] {
  const ops: VpnOp[] = [];
  for (const [portId, conf] of want) {
    const h = have.get(portId);
    const action: VpnAction = !h?.running ? 'start' : h.conf !== conf ? 'restart' : 'keep';
    ops.push({ portId, action });
  }
  for (const portId of [...have.keys()].sort()) if (!want.has(portId)) ops.push({ portId, action: 'remove' });
  return ops;
}
