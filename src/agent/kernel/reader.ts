/**
 * The agent's reads of the datapath for its passes, with a memory of the links. A full pass (and any
 * pass after a failed apply, or before the first read) lists every link; other passes — a tap woke
 * the loop, or the model changed — take the links that were in a bridge from memory and list only
 * the rest (kernel/read.ts, readLinksKnown), so a node with 1,000 taps does not list them all for
 * each new one. The memory follows the agent's own successful link changes (`applied`) and the
 * taps the link monitor sees deleted (`forgetLink`), and is forgotten when an apply fails; what else
 * changed behind the agent's back in an enslaved tap is seen by the next full pass (the resync interval).
 */
import type { Exec } from '../../common/exec.js';
import type { Op } from '../ops.js';
import type { ActualLink, ActualState } from '../state.js';
import { readKernel, readLinks } from './read.js';

/** Pure: `links` after link operations that all succeeded (`set` fields applied, deleted links gone). */
export function withLinkOps(links: ReadonlyMap<string, ActualLink>, ops: readonly Op[]): Map<string, ActualLink> {
  const out = new Map(links);
  for (const o of ops) {
    if (o.op === 'link-del') out.delete(o.name);
    if (o.op !== 'link-set') continue;
    const l = out.get(o.name);
    if (!l) continue;
    out.set(o.name, {
      ...l,
      ...(o.master !== undefined ? { master: o.master } : {}),
      ...(o.mtu !== undefined ? { mtu: o.mtu } : {}),
      ...(o.up !== undefined ? { up: o.up } : {}),
      ...(o.mac !== undefined ? { mac: o.mac } : {}),
    });
  }
  return out;
}

export class KernelReader {
  private links: ReadonlyMap<string, ActualLink> | null = null;

  constructor(private readonly exec: Exec) {}

  /** The whole datapath state; links in full when `full` or when nothing is remembered. */
  async read(full: boolean): Promise<ActualState> {
    const s = await readKernel(this.exec, full ? undefined : (this.links ?? undefined));
    this.links = s.links;
    return s;
  }

  /** The links only (after an apply), as `read`. */
  async readLinks(full: boolean): Promise<Map<string, ActualLink>> {
    const links = await readLinks(this.exec, full ? undefined : (this.links ?? undefined));
    this.links = links;
    return links;
  }

  /** A link was deleted (the link monitor saw it): no longer remembered. */
  forgetLink(name: string): void {
    if (!this.links?.has(name)) return;
    const links = new Map(this.links);
    links.delete(name);
    this.links = links;
  }

  /** After an apply: `ops` all succeeded (the memory follows them), or one failed (forget it all). */
  applied(before: ActualState, ops: readonly Op[], ok: boolean): void {
    this.links = ok ? withLinkOps(before.links, ops) : null;
  }
}
