/**
 * One decode per watch-stream line for all the simulated agents of a worker thread: every agent holds
 * its own stream, but the servers send each agent the same lines, so the first agent to receive a line
 * parses it and the others get the same (never mutated: the model cache only stores the objects)
 * message. Also counts the bytes the streams carried, as sent, without serializing anything again.
 */
import type { WatchMessage } from '../src/model/watch.js';

export class SharedLines {
  /** Bytes of every line every stream received (with its newline). */
  bytes = 0;
  private readonly events = new Map<string, WatchMessage>();
  private readonly snapshots = new Map<string, WatchMessage>();

  /**
   * `limit`: event lines kept, enough for the agents of a worker to lag each other by that many
   * events; snapshots (the whole model each) are few and large, so only the last few are kept.
   */
  constructor(private readonly limit = 4_096) {}

  decode = (line: string): WatchMessage => {
    this.bytes += line.length + 1;
    const known = this.events.get(line) ?? this.snapshots.get(line);
    if (known) return known;
    const m = JSON.parse(line) as WatchMessage;
    // Heartbeat lines are short and differ per stream: not worth keeping.
    if (m.type === 'event') remember(this.events, line, m, this.limit);
    else if (m.type === 'snapshot') remember(this.snapshots, line, m, 4);
    return m;
  };
}

/** Adds to a bounded map, dropping the oldest entry (maps iterate in insertion order). */
function remember(map: Map<string, WatchMessage>, line: string, m: WatchMessage, limit: number): void {
  map.set(line, m);
  if (map.size > limit) map.delete(map.keys().next().value!);
}
