/**
 * The agent's reads of the datapath for its passes, with a memory of what it read and did. A full
 * pass (and any pass after a failed apply, one that created devices, or before the first read)
 * reads everything; other passes — a tap woke the loop, or the model changed — list only the links
 * in no bridge (new taps), the bridges and the VXLAN devices (kernel-parse.ts readLinksLight, one
 * process) and take the rest from memory: the enslaved taps, the FDB and the neighbour entries,
 * which on a node with 1,000 ports (or 1,000 remote ones) are most of a read. The memory follows the
 * agent's own successful changes (`applied`: kernel-predict.ts) and the taps the link monitor sees deleted
 * (`forgetLink`), and is forgotten when an apply fails. What changed behind the agent's back (an FDB
 * entry or an enslaved tap removed by hand) is seen by the next full pass: the resync interval.
 *
 * The full read of a full pass can be made ahead, alongside other passes (`prefetchFull`, the
 * reconcile loop's preparation): the agent's own changes made while (and after) it reads are
 * recorded and applied to it the way `applied` predicts them, so what the full pass gets is the
 * kernel as read plus what the agent did since — a change seen by the read or not, the result is
 * the same. One that cannot be predicted (or failed) spoils it: the full pass then reads inline.
 */
import type { Exec } from '../../common/exec.js';
import { isEntryOp, type Op } from './ops.js';
import type { ActualLink, ActualState } from './types.js';
import { withEntryOps } from './kernel-predict.js';
import { readKernel, readLinks, readLinksLight } from './kernel-parse.js';

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

/**
 * Pure: the state after `ops` all succeeded, or null when they include what cannot be predicted
 * from the operation alone (a device created, bridge-port flags set: read it back). A link MAC set
 * on a bridge flushes its neighbour entries: the diff re-adds them in the same batch, so they hold.
 */
export function predictAfter(before: ActualState, ops: readonly Op[]): ActualState | null {
  if (ops.some((o) => o.op === 'bridge-add' || o.op === 'vxlan-add' || o.op === 'bport-set')) return null;
  const entries = ops.filter(isEntryOp);
  const links = withLinkOps(
    before.links,
    ops.filter((o) => !isEntryOp(o)),
  );
  return withEntryOps({ ...before, links }, entries);
}

/** A full read made ahead, and the agent's own changes since it started (null: unpredictable). */
interface Prefetch {
  read: Promise<ActualState | null>;
  since: Op[] | null;
}

export class KernelReader {
  private state: ActualState | null = null;
  private prefetch: Prefetch | null = null;

  constructor(private readonly exec: Exec) {}

  /** The datapath state: read in full when `full` or when nothing is remembered, else the light read.
   * A full read is the prefetched one when there is one still good (see prefetchFull). */
  async read(full: boolean): Promise<ActualState> {
    const ahead = full ? await this.takePrefetch() : null;
    const s =
      ahead ??
      (full || !this.state
        ? await readKernel(this.exec)
        : { ...this.state, ...(await readLinksLight(this.exec, this.state.links)) });
    this.state = s;
    return s;
  }

  /** Reads the whole state now, for the next full read (alongside other reads and applies). Never throws. */
  async prefetchFull(): Promise<void> {
    if (this.prefetch) return;
    const p: Prefetch = { read: readKernel(this.exec).catch(() => null), since: [] };
    this.prefetch = p;
    await p.read;
  }

  /**
   * The prefetched read with the agent's changes since applied, or null (none, or spoilt); with the
   * short listing of the light read on top, so a tap that appeared since (a kernel wake-up this full
   * pass answers) is seen.
   */
  private async takePrefetch(): Promise<ActualState | null> {
    const p = this.prefetch;
    if (!p) return null;
    const read = await p.read;
    this.prefetch = null;
    if (!read || !p.since) return null;
    const s = predictAfter(read, p.since);
    const links = s && this.withLinksFromMemory(s.links, read.links, p.since);
    return links ? { ...s, ...(await readLinksLight(this.exec, links)) } : null;
  }

  /**
   * The links the agent changed that the prefetched read does not know (a tap that appeared, was
   * listed by a light read and wired while the read ran: on a node where ports come every few
   * hundred ms that is most full passes) cannot be predicted onto it: they are taken as remembered,
   * as a pass that is not full takes them. Null (read again) when one is not remembered at all.
   */
  private withLinksFromMemory(
    predicted: ReadonlyMap<string, ActualLink>,
    read: ReadonlyMap<string, ActualLink>,
    since: readonly Op[],
  ): ReadonlyMap<string, ActualLink> | null {
    const unknown = new Set(since.flatMap((o) => (o.op === 'link-set' && !read.has(o.name) ? [o.name] : [])));
    if (unknown.size === 0) return predicted;
    const memory = this.state?.links;
    const out = new Map(predicted);
    for (const name of unknown) {
      const l = memory?.get(name);
      // Not remembered: deleted since (forgetLink), or the memory is gone (a failure): read again.
      if (!l) return null;
      out.set(name, l);
    }
    return out;
  }

  /** Records changes the agent made while a prefetched read waits for its full pass. */
  private record(ops: readonly Op[] | null): void {
    const p = this.prefetch;
    if (!p) return;
    if (ops && p.since) p.since.push(...ops);
    else p.since = null;
  }

  /** What is remembered (null: nothing, or it was dropped after a failure; the next read is full). */
  get remembered(): ActualState | null {
    return this.state;
  }

  /** The links only (after an apply), as `read`. */
  async readLinks(full: boolean): Promise<ReadonlyMap<string, ActualLink>> {
    if (full || !this.state) {
      const links = await readLinks(this.exec);
      if (this.state) this.state = { ...this.state, links };
      return links;
    }
    const light = await readLinksLight(this.exec, this.state.links);
    this.state = { ...this.state, ...light };
    return light.links;
  }

  /** A link was deleted (the link monitor saw it): no longer remembered. */
  forgetLink(name: string): void {
    this.record([{ op: 'link-del', name }]);
    if (!this.state?.links.has(name)) return;
    const links = new Map(this.state.links);
    links.delete(name);
    this.state = { ...this.state, links };
  }

  /**
   * After an apply: `ops` all succeeded (the memory follows them), or one failed (forget it all).
   * Returns the state remembered (null: the next read is a full one).
   */
  applied(before: ActualState, ops: readonly Op[], ok: boolean): ActualState | null {
    this.record(ok ? ops : null);
    this.state = ok ? predictAfter(before, ops) : null;
    return this.state;
  }
}
