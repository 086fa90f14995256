/**
 * The watch stream over real HTTP (and the Unix socket): snapshot then live events in revision
 * order, resume from `since` without loss or duplicates, heartbeats, and 410 WatchRevisionCompacted
 * once history is compacted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ApiClient, type ApiError } from '../../src/client/api.js';
import type { Snapshot, WatchEvent, WatchMessage } from '../../src/model/watch.js';
import { startTestServer, type TestServer } from './helpers.js';
import { SharedLines } from '../../bench/scale-lines.js';

/** Collects messages until `done(messages)` is true, then aborts the stream. */
async function collect(
  c: ApiClient,
  since: number | undefined,
  done: (m: WatchMessage[]) => boolean,
  during?: () => Promise<void>,
): Promise<WatchMessage[]> {
  const msgs: WatchMessage[] = [];
  const ac = new AbortController();
  let resolveDone!: () => void;
  const finished = new Promise<void>((r) => (resolveDone = r));
  const stream = c.watch(
    since,
    (m) => {
      msgs.push(m);
      if (done(msgs)) {
        resolveDone();
        ac.abort();
      }
    },
    ac.signal,
  );
  if (during) await during();
  const timer = setTimeout(() => ac.abort(), 10_000);
  await Promise.race([finished, stream]);
  clearTimeout(timer);
  ac.abort();
  await stream.catch(() => undefined);
  return msgs;
}

describe('watch stream', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ config: { changeRetention: 20, watchHeartbeatMs: 200 }, unixSocket: true });
  });
  after(async () => s.stop());

  it('sends a snapshot, then live events in order, then heartbeats', async () => {
    const c = s.client();
    const net = await c.create<{ id: string }>('networks', 'network', { name: 'w1' });
    let snapRev = -1;
    const msgs = await collect(
      c,
      undefined,
      (m) => m.filter((x) => x.type === 'event').length >= 3 && m.some((x) => x.type === 'heartbeat'),
      async () => {
        await new Promise((r) => setTimeout(r, 50));
        await c.create('subnets', 'subnet', { network_id: net.id, cidr: '10.1.0.0/24' }); // subnet create + network update
        await c.update('networks', 'network', net.id, { name: 'w1b' });
      },
    );
    const snap = msgs[0] as Snapshot;
    assert.equal(snap.type, 'snapshot');
    snapRev = snap.revision;
    assert.ok(snap.networks.some((n) => n.id === net.id));
    const events = msgs.filter((m): m is WatchEvent => m.type === 'event');
    assert.deepEqual(
      events.map((e) => e.revision),
      [snapRev + 1, snapRev + 2, snapRev + 3],
    );
    assert.deepEqual(
      events.map((e) => `${e.kind}:${e.op}`),
      ['subnet:create', 'network:update', 'network:update'],
    );
    assert.equal((events[2].object as { name: string }).name, 'w1b');
  });

  it('resumes from since with exactly the missed events, also over the Unix socket', async () => {
    const c = s.client();
    const since = await s.store.read((tx) => tx.revision());
    const n = await c.create<{ id: string }>('networks', 'network', { name: 'w2' });
    await c.delete('networks', n.id);
    const unix = new ApiClient({ url: `unix:${join(s.dir, 'server.sock')}` });
    const msgs = await collect(unix, since, (m) => m.filter((x) => x.type === 'event').length >= 2);
    const events = msgs.filter((m): m is WatchEvent => m.type === 'event');
    assert.deepEqual(
      events.map((e) => [e.revision, e.op, e.id]),
      [
        [since + 1, 'create', n.id],
        [since + 2, 'delete', n.id],
      ],
    );
    assert.equal(
      msgs.some((m) => m.type === 'snapshot'),
      false,
    );
  });

  it('never loses or duplicates events committed while the snapshot is taken', async () => {
    const c = s.client();
    const net = await c.create<{ id: string }>('networks', 'network', { name: 'race' });
    await c.create('subnets', 'subnet', { network_id: net.id, cidr: '10.2.0.0/24' });
    const writes = Array.from({ length: 15 }, (_, i) =>
      c.create('ports', 'port', { network_id: net.id, name: `r${i}` }),
    );
    const msgs = await collect(c, undefined, (m) => {
      const snap = m[0] as Snapshot;
      const names = new Set([
        ...snap.ports.map((p) => p.name),
        ...m
          .filter((x): x is WatchEvent => x.type === 'event' && x.kind === 'port')
          .map((e) => (e.object as { name: string }).name),
      ]);
      return names.size >= 15 || m.some((x) => x.type === 'heartbeat');
    });
    await Promise.all(writes);
    const snap = msgs[0] as Snapshot;
    const events = msgs.filter((m): m is WatchEvent => m.type === 'event');
    const seen = [
      ...snap.ports.map((p) => p.name),
      ...events.filter((e) => e.kind === 'port').map((e) => (e.object as { name: string }).name),
    ];
    assert.equal(seen.length, 15, 'each port exactly once');
    assert.equal(new Set(seen).size, 15);
    for (const [i, e] of events.entries()) assert.equal(e.revision, snap.revision + i + 1);
  });

  it('decodes through decodeWatchLine: streams sharing one decoder share each event object', async () => {
    const lines = new SharedLines();
    const a = new ApiClient({ url: s.url, decodeWatchLine: lines.decode });
    const b = new ApiClient({ url: s.url, decodeWatchLine: lines.decode });
    const from = await s.store.read((tx) => tx.revision());
    const events = (m: WatchMessage[]) => m.filter((x): x is WatchEvent => x.type === 'event');
    const watching = [a, b].map((c) => collect(c, from, (m) => events(m).length >= 2));
    await new Promise((r) => setTimeout(r, 100));
    await a.create('networks', 'network', { name: 'shared-1' });
    await a.create('networks', 'network', { name: 'shared-2' });
    const [ma, mb] = await Promise.all(watching);
    assert.deepEqual(
      events(ma).map((e) => (e.object as { name: string }).name),
      ['shared-1', 'shared-2'],
    );
    // The same objects, not equal copies: each line was parsed once for both streams.
    for (const [i, e] of events(ma).entries()) assert.equal(e, events(mb)[i]);
    assert.ok(lines.bytes > 0);
  });

  it('answers 410 WatchRevisionCompacted when history is gone', async () => {
    const c = s.client();
    const n = await c.create<{ id: string }>('networks', 'network', { name: 'churn' });
    for (let i = 0; i < 30; i++) await c.update('networks', 'network', n.id, { description: `d${i}` });
    await assert.rejects(
      c.watch(1, () => undefined),
      (e: ApiError) => e.status === 410 && e.type === 'WatchRevisionCompacted',
    );
    const now = await s.store.read((tx) => tx.revision());
    await assert.rejects(
      c.watch(now + 100, () => undefined),
      (e: ApiError) => e.status === 410,
    );
  });
});
