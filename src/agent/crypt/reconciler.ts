/**
 * The encrypted overlay's sub-reconciler: reads the node's key file (a rotation shows up here),
 * picks the WireGuard implementation once, compiles, reads the interface back, diffs and applies.
 * It runs before the datapath, so a peer exists before VXLAN is pointed at its inner address. Its
 * last read is kept as the node's encryption status (peers and handshake ages) for the heartbeat.
 */
import type { Exec } from '../../common/exec.js';
import type { Logger } from '../../common/log.js';
import type { ModelView } from '../../model/model-cache.js';
import type { SubReconciler } from '../loop/reconciler.js';
import { compileWg, type CryptNode } from './compile.js';
import { diffWg } from './diff.js';
import { applyWg, chooseImpl, readWg, type WgMode } from './driver.js';
import { loadKeys, type NodeKeys } from './keys.js';
import type { ActualWg, WgImpl } from './types.js';

/** What `hypernet status` shows of a node's encryption. */
export interface CryptStatus {
  state: 'up' | 'error';
  impl: WgImpl | null;
  error?: string;
  peers: { host: string; handshake_age_s: number | null }[];
}

export interface CryptReconcilerOptions {
  exec: Exec;
  node: CryptNode;
  stateDir: string;
  mode: WgMode;
  log: Logger;
  clock: { now(): number };
}

export class CryptReconciler implements SubReconciler {
  readonly name = 'crypt';
  keys: NodeKeys;
  private impl: WgImpl | null = null;
  private appliedNft: string | null = null;
  status: CryptStatus = { state: 'error', impl: null, error: 'not applied yet', peers: [] };

  constructor(private readonly o: CryptReconcilerOptions) {
    this.keys = loadKeys(o.stateDir);
  }

  async reconcile(model: ModelView): Promise<void> {
    const { exec, node, log } = this.o;
    try {
      this.keys = loadKeys(this.o.stateDir);
      this.impl ??= await chooseImpl(exec, this.o.mode);
      const desired = compileWg(node, model, this.keys);
      const actual = await readWg(exec, node.iface);
      const ops = diffWg(desired, actual, this.impl, this.appliedNft);
      if (ops.length === 0) return this.report(desired.peers, actual);
      const r = await applyWg(exec, ops);
      if (ops.some((o) => o.op === 'nft') && !r.failed.some((f) => f.op.op === 'nft')) this.appliedNft = desired.nft;
      log.info({ ops: ops.map((o) => o.op), failed: r.failed.length }, 'wireguard applied');
      this.report(desired.peers, await readWg(exec, node.iface));
      if (r.failed.length) throw new Error(r.failed.map((f) => `${f.op.op}: ${f.error}`).join('; '));
    } catch (e) {
      this.status = { state: 'error', impl: this.impl, error: (e as Error).message, peers: this.status.peers };
      throw e;
    }
  }

  private report(peers: readonly { host: string; publicKey: string }[], actual: ActualWg): void {
    const now = Math.floor(this.o.clock.now() / 1000);
    const byKey = new Map(actual.peers.map((p) => [p.publicKey, p]));
    this.status = {
      state: actual.exists ? 'up' : 'error',
      impl: this.impl,
      peers: peers.map((p) => {
        const hs = byKey.get(p.publicKey)?.latestHandshake ?? 0;
        return { host: p.host, handshake_age_s: hs ? Math.max(0, now - hs) : null };
      }),
    };
  }
}
