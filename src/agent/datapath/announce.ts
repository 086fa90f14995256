/**
 * Announcing a port that became active on this node (the end of a live migration, or a fresh port):
 * the node sends a gratuitous ARP (request and reply forms) on the network's bridge with the port's
 * MAC as source and its IPv4 addresses as sender, so every peer on the segment — local taps and,
 * through head-end replication, every remote VTEP — refreshes at once. `announceTargets` is pure;
 * the `Announcer` remembers which ports it announced (forgetting those no longer active here, so a
 * port that leaves and comes back is announced again) and never blocks the reconcile loop: the
 * announcements go through a queue, one arping at a time and after the pass that wired the port
 * (starting a program blocks the agent's event loop for milliseconds; 2,000 at once when 1,000 ports
 * come up held it for seconds). The newest ports go first: one arping takes
 * ~70 ms however idle the node, so 1,000 ports wired at once take minutes to announce, and a port
 * wired meanwhile (a VM just moved here, peers still pointing at its old node) must not wait behind
 * them.
 * Prepared ports (INACTIVE binding) are never announced. The frames (`garpFrames`, byte for byte
 * what arping sends) go out through the agent's one long-lived raw frame sender
 * (native/frame-sender.ts), so an announcement costs no program start; without the sender (not
 * built, or an injected Exec in tests) each form is one `arping` (Debian package arping).
 */
import type { Exec } from '../../common/exec.js';
import type { Logger } from '../../common/log.js';
import type { ModelView } from '../../model/model-cache.js';
import type { FrameSender } from '../native/frame-sender.js';
import { isWired } from '../status-reporter.js';
import type { ActualState, DesiredState } from './types.js';

export interface Announcement {
  portId: string;
  bridge: string;
  mac: string;
  ips: string[];
}

/** Ports active on this node whose tap is wired, with their IPv4 addresses; `skip` leaves ports out
 * before anything is looked up (the Announcer's ports already announced). */
export function announceTargets(
  desired: DesiredState,
  actual: ActualState,
  model: ModelView,
  skip?: (portId: string) => boolean,
): Announcement[] {
  const out: Announcement[] = [];
  for (const p of desired.ports) {
    if (skip?.(p.portId)) continue;
    const port = model.ports.get(p.portId);
    if (!port || p.prepared || !isWired(p, actual)) continue;
    const ips = port.fixed_ips.map((f) => f.ip_address).filter((ip) => !ip.includes(':'));
    out.push({ portId: p.portId, bridge: p.bridge, mac: p.mac, ips });
  }
  return out;
}

/** The arping command lines (Thomas Habets' arping: `-s` source MAC, `-S` sender IP) for one announcement. */
export function garpCommands(a: Announcement): string[][] {
  return a.ips.flatMap((ip) => [
    ['-q', '-U', '-c', '1', '-w', '0', '-i', a.bridge, '-S', ip, '-s', a.mac, ip],
    ['-q', '-U', '-P', '-c', '1', '-w', '0', '-i', a.bridge, '-S', ip, '-s', a.mac, ip],
  ]);
}

const BROADCAST = 'ffffffffffff';
const hexMac = (mac: string): string => mac.toLowerCase().replaceAll(':', '');
const hexIp = (ip: string): string =>
  ip
    .split('.')
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .join('');

/**
 * Pure: the frames of one announcement as hex, the forms `garpCommands` sends with arping and in the
 * same order: per IPv4 address an unsolicited ARP request and reply (sender = target = the address,
 * target MAC broadcast), from the port's MAC to the broadcast address, padded as arping pads them.
 */
export function garpFrames(a: Announcement): string[] {
  const mac = hexMac(a.mac);
  // Ethernet (broadcast ← port MAC, ARP), then ARP: Ethernet/IPv4, op, sender, target; 16 bytes of padding.
  return a.ips.flatMap((ip) =>
    ['0001', '0002'].map(
      (op) => `${BROADCAST}${mac}0806000108000604${op}${mac}${hexIp(ip)}${BROADCAST}${hexIp(ip)}${'00'.repeat(16)}`,
    ),
  );
}

export class Announcer {
  /** Ports announced, with the last `announce` call that found them still active and wired here. */
  private readonly announced = new Map<string, number>();
  private round = 0;
  private missingTool = false;
  private readonly queue: Announcement[] = [];
  private draining = false;

  constructor(
    private readonly exec: Exec,
    private readonly log: Logger,
    /** The raw frame sender; none: arping per form. */
    private readonly sender: FrameSender | null = null,
  ) {}

  /**
   * Announces the ports active and wired here that are not announced yet (in the background); forgets
   * ports no longer active and wired here. Targets, with their addresses, are built only for ports not
   * announced yet (at 1,000 ports, building all of them on every pass was a visible part of a pass).
   */
  announce(desired: DesiredState, actual: ActualState, model: ModelView): void {
    const round = ++this.round;
    for (const p of desired.ports) {
      if (this.announced.has(p.portId) && !p.prepared && model.ports.has(p.portId) && isWired(p, actual))
        this.announced.set(p.portId, round);
    }
    for (const [id, seen] of this.announced) if (seen !== round) this.announced.delete(id);
    const fresh = announceTargets(desired, actual, model, (id) => this.announced.has(id));
    for (const t of fresh) this.announced.set(t.portId, round);
    if (fresh.length) this.queue.unshift(...fresh);
    if (this.queue.length && !this.draining) {
      this.draining = true;
      setImmediate(() => void this.drain());
    }
  }

  private async drain(): Promise<void> {
    try {
      for (let a = this.queue.shift(); a; a = this.queue.shift()) {
        // A port that left again before its turn is not announced.
        if (this.announced.has(a.portId)) await this.send(a);
      }
    } finally {
      this.draining = false;
    }
  }

  private async send(a: Announcement): Promise<void> {
    if (this.sender) {
      try {
        for (const frame of garpFrames(a)) await this.sender.send(a.bridge, frame);
        this.log.info({ port: a.portId, ips: a.ips }, 'port announced (gratuitous ARP)');
      } catch (e) {
        this.log.warn({ port: a.portId, err: (e as Error).message }, 'announcement failed');
      }
      return;
    }
    if (this.missingTool) return;
    try {
      // arping exits 1 when nothing answers: expected for a gratuitous ARP.
      for (const args of garpCommands(a)) await this.exec('arping', args, { allowFail: true, timeoutMs: 2_000 });
      this.log.info({ port: a.portId, ips: a.ips }, 'port announced (gratuitous ARP)');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        this.missingTool = true;
        this.log.warn('arping not installed: ports are not announced (install the Debian package arping)');
      } else this.log.warn({ port: a.portId, err: (e as Error).message }, 'announcement failed');
    }
  }
}
