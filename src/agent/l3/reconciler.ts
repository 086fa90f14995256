/**
 * The L3 sub-reconciler: glue between the model and src/agent/l3/ (compileL3 → diffL3 → L3Driver),
 * run after the datapath (the routers' interfaces join its bridges). Full passes read what is ours and
 * apply the difference (with the read made ahead by prepareFull); other passes whose desired state is
 * not the one last applied diff against what that state left in the kernel (applied.ts), without
 * reading it. A floating IP that starts being served here is announced with a gratuitous ARP on the
 * node's underlay interface (the cloud's external L2), so the upstream router forgets the node that
 * served it before.
 */
import type { Exec } from '../../common/exec.js';
import type { Logger } from '../../common/log.js';
import type { ModelView } from '../../model/model-cache.js';
import type { PassContext, SubReconciler } from '../loop/reconciler.js';
import { PrefetchedRead } from '../loop/prefetched-read.js';
import { garpCommands, garpFrames, type Announcement } from '../datapath/announce.js';
import type { FrameSender } from '../native/frame-sender.js';
import { appliedActual } from './applied.js';
import { compileL3, type L3Node } from './compile.js';
import { diffL3 } from './diff.js';
import { L3Driver } from './driver.js';
import type { ActualL3 } from './types.js';

export interface L3ReconcilerOptions {
  exec: Exec;
  log: Logger;
  node: L3Node;
  /** The raw frame sender for announcements; none: arping. */
  frames?: FrameSender | null;
}

export class L3Reconciler implements SubReconciler {
  readonly name = 'l3';
  readonly driver: L3Driver;
  /** Floating IPs announced from here (`id ip`), kept while they are served here. */
  private readonly announced = new Set<string>();
  /** The desired state last applied without error (JSON), or null. */
  private appliedKey: string | null = null;
  /** The full pass's kernel read (several programs), made ahead so a port's pass does not wait for it. */
  private readonly fullRead: PrefetchedRead<ActualL3>;
  /** What that state left in the kernel (as the driver would read it), or null. */
  private applied: ActualL3 | null = null;

  constructor(private readonly o: L3ReconcilerOptions) {
    this.driver = new L3Driver(o.exec, o.node.netnsPrefix, o.node.underlayIp);
    this.fullRead = new PrefetchedRead(() => this.driver.read());
  }

  prepareFull(): Promise<void> {
    return this.fullRead.prefetch('');
  }

  async reconcile(model: ModelView, pass?: PassContext): Promise<void> {
    const desired = compileL3(this.o.node, model);
    // A pass that is not full and finds the state last applied skips the kernel read (several
    // programs): most passes are for ports and taps, not routers. Full passes check everything.
    const key = JSON.stringify(desired);
    if (pass && !pass.full && key === this.appliedKey) return;
    this.appliedKey = null;
    const known = pass && !pass.full ? this.applied : null;
    this.applied = null;
    const actual = known ?? (pass && !pass.full ? await this.driver.read() : await this.fullRead.take(''));
    const ops = diffL3(desired, actual);
    let failed: string[] = [];
    if (ops.length) {
      try {
        failed = await this.driver.apply(ops, actual.uplink?.name ?? null);
      } finally {
        this.fullRead.spoil();
      }
    }
    if (ops.length) this.o.log.info({ ops: ops.length, failed: failed.length }, 'l3 applied');
    const served = new Set(desired.fips.map((f) => `${f.fipId} ${f.ip}`));
    for (const k of this.announced) if (!served.has(k)) this.announced.delete(k);
    if (actual.uplink && !failed.length) {
      for (const f of desired.fips) {
        const k = `${f.fipId} ${f.ip}`;
        if (this.announced.has(k)) continue;
        await this.announce({ portId: f.fipId, bridge: actual.uplink.name, mac: actual.uplink.mac, ips: [f.ip] });
        this.announced.add(k);
      }
    }
    if (failed.length) throw new Error(`l3: ${failed.join('; ')}`);
    this.appliedKey = key;
    this.applied = appliedActual(desired, actual.uplink);
  }

  private async announce(a: Announcement): Promise<void> {
    try {
      if (this.o.frames) for (const frame of garpFrames(a)) await this.o.frames.send(a.bridge, frame);
      else for (const args of garpCommands(a)) await this.o.exec('arping', args, { allowFail: true, timeoutMs: 2_000 });
      this.o.log.info({ floatingip: a.portId, ips: a.ips }, 'floating IP announced (gratuitous ARP)');
    } catch (e) {
      this.o.log.warn({ floatingip: a.portId, err: (e as Error).message }, 'announcement failed');
    }
  }
}
