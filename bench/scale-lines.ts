/**
 * One decode per watch-stream line for all the simulated agents of a worker thread: every agent holds
 * its own stream, but the servers send each agent the same lines, so the first agent to receive a line
 * parses it and the others get the same (never mutated: the model cache only stores the objects)
 * message. Snapshots differ by revision (each agent starts at its own), but most of their objects are
 * the same: each object is interned by its JSON text, so the agents of a worker hold one copy of an
 * unchanged object, as a real agent holds one. Also counts the bytes the streams carried, as sent,
 * without serializing anything again.
 */
import type { AnyObject, Snapshot, WatchMessage } from '../src/model/watch.js';

export class SharedLines {
  /** Bytes of every line every stream received (with its newline). */
  bytes = 0;
  private readonly events = new Map<string, WatchMessage>();
  private readonly snapshots = new Map<string, WatchMessage>();
  private readonly objects = new Map<string, AnyObject>();

  /**
   * `limit`: event lines kept, enough for the agents of a worker to lag each other by that many
   * events; snapshots (the whole model each) are few and large, so only the last few are kept;
   * `objectLimit`: interned objects kept (the oldest go first).
   */
  constructor(
    private readonly limit = 4_096,
    private readonly objectLimit = 200_000,
  ) {}

  decode = (line: string): WatchMessage => {
    this.bytes += line.length + 1;
    const known = this.events.get(line) ?? this.snapshots.get(line);
    if (known) return known;
    const m = JSON.parse(line) as WatchMessage;
    // Heartbeat lines are short and differ per stream: not worth keeping.
    if (m.type === 'event') {
      if (m.op !== 'delete') m.object = this.intern(m.object);
      remember(this.events, line, m, this.limit);
    } else if (m.type === 'snapshot') {
      for (const [k, v] of Object.entries(m))
        if (Array.isArray(v))
          (m as unknown as Record<string, AnyObject[]>)[k] = v.map((o: AnyObject) => this.intern(o));
      remember(this.snapshots, line, m as Snapshot, 4);
    }
    return m;
  };

  /** The object already held with the same JSON text, else `o` (kept from now on). */
  private intern(o: AnyObject): AnyObject {
    const text = JSON.stringify(o);
    const held = this.objects.get(text);
    if (held) return held;
    remember(this.objects, text, o, this.objectLimit);
    return o;
  }
}

/** Adds to a bounded map, dropping the oldest entry (maps iterate in insertion order). */
function remember<T>(map: Map<string, T>, key: string, value: T, limit: number): void {
  map.set(key, value);
  if (map.size > limit) map.delete(map.keys().next().value!);
}
