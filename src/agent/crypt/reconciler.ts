/**
 * The encrypted overlay's sub-reconciler: reads the node's key file (a rotation shows up here),
 * picks the WireGuard implementation once, compiles, reads the interface back, diffs and applies.
 * It runs before the datapath, so a peer exists before VXLAN is pointed at its inner address. Its
 * last read is kept as the node's encryption status (peers and last handshakes) for the heartbeat.
 *
 * The guard table is applied by `guard`, a step of its own beside the FDB entries (main.ts): it only
 * filters what comes in, and a port moving to another host should not wait behind an `nft` run.
 */
import type { Exec } from '../../common/exec.js';
import type { Logger } from '../../common/log.js';
import type { ModelView } from '../../model/model-cache.js';
import type { EncryptionStatus } from '../../model/encryption.js';
import type { PassContext, SubReconciler } from '../loop/reconciler.js';
import { PrefetchedRead } from '../loop/prefetched-read.js';
import { compileWg, type CryptNode } from './compile.js';
import { diffWg } from './diff.js';
import { applyWg, chooseImpl, readWg, type WgMode } from './driver.js';
import { loadKeys, type NodeKeys } from './keys.js';
import type { ActualWg, WgImpl, WgOp } from './types.js';

const TUNING_OPS: ReadonlySet<WgOp['op']> = new Set(['sockbuf', 'rps']);

export interface CryptReconcilerOptions {
  exec: Exec;
  node: CryptNode;
  stateDir: string;
  mode: WgMode;
  log: Logger;
  /** The public key the server has accepted from this node (registration), if any yet. */
  sentKey?: () => string | undefined;
}

export class CryptReconciler implements SubReconciler {
  readonly name = 'crypt';
  /** The node's current keys: the public key is what the registration sends. */
  keys: NodeKeys;
  private impl: WgImpl | null = null;
  private appliedNft: string | null = null;
  /** The guard table the last compile asked for (null: none compiled yet). */
  private wantNft: string | null = null;
  /** The desired state (JSON) the kernel last matched: a pass that is not full and compiles it again reads nothing. */
  private converged: string | null = null;
  /** What the heartbeat reports (and `hypernet status` shows). */
  status: EncryptionStatus = { state: 'error', impl: null, error: 'not applied yet', peers: [] };

  /** The full pass's read of the interface (programs), made ahead so a port's pass does not wait for it. */
  private readonly fullRead: PrefetchedRead<ActualWg>;

  constructor(private readonly o: CryptReconcilerOptions) {
    this.keys = loadKeys(o.stateDir);
    this.fullRead = new PrefetchedRead(() => readWg(o.exec, o.node.iface));
  }

  /** Applies the guard table of the last compile when it is not the one applied. */
  readonly guard: SubReconciler = {
    name: 'crypt-guard',
    reconcile: async () => {
      const text = this.wantNft;
      if (text === null || text === this.appliedNft) return;
      const r = await applyWg(this.o.exec, [{ op: 'nft', text }]);
      if (r.failed.length) throw new Error(r.failed.map((f) => f.error).join('; '));
      this.appliedNft = text;
      this.o.log.info({ ops: ['nft'] }, 'wireguard guard applied');
    },
  };

  prepareFull(): Promise<void> {
    return this.fullRead.prefetch('');
  }

  async reconcile(model: ModelView, pass?: PassContext): Promise<void> {
    const { exec, node, log } = this.o;
    try {
      const keys = loadKeys(this.o.stateDir);
      this.keys = keys;
      this.impl ??= await chooseImpl(exec, this.o.mode);
      // After a rotation the old key stays in use until the server has accepted the new one: the node
      // switches first, and its peers follow on the event of the new key (docs/encryption.md).
      const sent = this.o.sentKey?.();
      const inUse = keys.previous && sent === keys.previous.publicKey ? keys.previous : keys;
      const desired = compileWg(node, model, inUse);
      this.wantNft = desired.nft;
      // The guard's part left out: a pair turning plaintext or encrypted (a port moving) changes only
      // the guard, and reading the interface back (two programs) held the FDB repoint 300–500 ms.
      const { nft: _guard, plainPeers: _plain, ...wg } = desired;
      const json = JSON.stringify(wg);
      // Two programs per read: a pass for another port's tap need not pay for them (full passes check).
      if (pass && !pass.full && json === this.converged) return;
      this.converged = null;
      const actual = pass && !pass.full ? await readWg(exec, node.iface) : await this.fullRead.take('');
      const ops = diffWg(desired, actual, this.impl, this.appliedNft).filter((o) => o.op !== 'nft');
      if (ops.length === 0) {
        this.converged = json;
        return this.report(desired.peers, actual);
      }
      const r = await applyWg(exec, ops).finally(() => this.fullRead.spoil());
      log.info({ ops: ops.map((o) => o.op), failed: r.failed.length }, 'wireguard applied');
      this.report(desired.peers, await readWg(exec, node.iface));
      // The tuning of wireguard-go (socket buffers, RPS) only costs speed when it fails: a warning, not an error.
      const tuning = r.failed.filter((f) => TUNING_OPS.has(f.op.op));
      if (tuning.length) log.warn({ failed: tuning.map((f) => `${f.op.op}: ${f.error}`) }, 'wireguard-go left untuned');
      const failed = r.failed.filter((f) => !TUNING_OPS.has(f.op.op));
      if (failed.length) throw new Error(failed.map((f) => `${f.op.op}: ${f.error}`).join('; '));
      this.converged = json;
    } catch (e) {
      this.status = {
        state: 'error',
        impl: this.impl,
        error: (e as Error).message.slice(0, 500),
        peers: this.status.peers,
      };
      throw e;
    }
  }

  private report(peers: readonly { host: string; publicKey: string }[], actual: ActualWg): void {
    const byKey = new Map(actual.peers.map((p) => [p.publicKey, p]));
    this.status = {
      state: actual.exists ? 'up' : 'error',
      impl: this.impl,
      ...(actual.exists ? {} : { error: 'no WireGuard interface' }),
      peers: peers.map((p) => ({ host: p.host, latest_handshake: byKey.get(p.publicKey)?.latestHandshake ?? 0 })),
    };
  }
}
