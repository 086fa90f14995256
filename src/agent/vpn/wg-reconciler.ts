/**
 * The WireGuard half of a hyperswitch's agentless feature, called by the agentless reconciler with
 * each VPN configuration it polls: compiles (./wg-compile.ts), reads the interface and our routes,
 * proxies and forwarding back, diffs (../crypt/diff.ts for the interface and peers, ./wg-diff.ts for
 * the rest) and applies; the nft tables when their text changed. A deleted port's peer goes in the
 * same pass (its client is cut at once); with no WireGuard port left the interface, routes, proxies
 * and tables go too.
 */
import type { Exec } from '../../common/exec.js';
import type { Logger } from '../../common/log.js';
import type { VpnAgentConfig } from '../../model/agentless.js';
import type { ModelView } from '../../model/model-cache.js';
import { groupsWithRules } from '../firewall/reconciler.js';
import { diffWg } from '../crypt/diff.js';
import { applyWg, chooseImpl, readWg, type WgMode } from '../crypt/driver.js';
import type { WgImpl } from '../crypt/types.js';
import { compileWga, type WgaNode } from './wg-compile.js';
import { diffWga } from './wg-diff.js';
import { applyWga, applyWgaNft, readWga, writeKey } from './wg-driver.js';

export interface AgentlessWgOptions {
  exec: Exec;
  node: WgaNode;
  log: Logger;
  mode?: WgMode;
}

export class AgentlessWg {
  private impl: WgImpl | null = null;
  /** The nft text last applied ('' = tables absent or never made by us; null = unknown, e.g. at start). */
  private appliedNft: string | null = null;

  constructor(private readonly o: AgentlessWgOptions) {}

  /** Makes the kernel match `cfg`; returns the ports whose peer is in place (served). */
  async sync(cfg: VpnAgentConfig | null, model: ModelView): Promise<string[]> {
    const { exec, node, log } = this.o;
    const desired = compileWga(node, cfg, model, groupsWithRules(model));
    const wg = await readWg(exec, node.iface);
    const failed: string[] = [];
    if (!desired) {
      if (wg.exists) await exec('ip', ['link', 'del', 'dev', node.iface], { allowFail: true });
      failed.push(...(await applyWga(exec, diffWga(null, await readWga(exec, [])))));
      if (this.appliedNft !== '') {
        await applyWgaNft(exec, null);
        this.appliedNft = '';
      }
      if (failed.length) throw new Error(failed.join('; '));
      return [];
    }
    this.impl ??= await chooseImpl(exec, this.o.mode ?? 'auto');
    await writeKey(node.keyFile, desired.privateKey);
    const wgOps = diffWg(desired.wg, wg, this.impl, '');
    const r = wgOps.length ? await applyWg(exec, wgOps) : { applied: 0, failed: [] };
    failed.push(...r.failed.map((f) => `${f.op.op}: ${f.error}`));
    const ops = diffWga(desired, await readWga(exec, desired.forwarding));
    failed.push(...(await applyWga(exec, ops)));
    if (this.appliedNft !== desired.nft) {
      await applyWgaNft(exec, desired.nft);
      this.appliedNft = desired.nft;
    }
    if (wgOps.length || ops.length)
      log.info({ wg: wgOps.map((o) => o.op), ops: ops.map((o) => o.op), failed: failed.length }, 'wireguard agentless');
    if (failed.length) throw new Error(failed.join('; '));
    return desired.portIds;
  }
}
