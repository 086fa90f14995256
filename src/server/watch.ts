/**
 * `GET /v2.0/watch[?since=R]`: the NDJSON stream agents follow (protocol in model/watch.ts, notes in
 * docs/watch.md). It subscribes to commits BEFORE reading the snapshot, and then always reads events
 * from the store's change log strictly after the last revision it sent, so a change committed between
 * the snapshot and the subscription can be neither lost nor sent twice. A commit wakes the loop; a
 * timer sends heartbeats and also re-reads the log (so a store written by another server is seen).
 * The streams of one server share their reads of the log (change-feed.ts), and the event lines made
 * from them: a thousand agents watching must not cost a thousand serializations of every change.
 */
import type { FastifyInstance } from 'fastify';
import { isWatchedKind, type Kind } from '../model/types.js';
import type { Snapshot, WatchEvent, WatchMessage } from '../model/watch.js';
import type { Change } from './store/store.js';
import type { Logger } from '../common/log.js';
import { faults } from './errors.js';
import type { ResourceDef } from './resource.js';
import { contextOf, queryOf, type RouteDeps } from './routes.js';
import { ChangeFeed } from './change-feed.js';

const BATCH = 500;

export function registerWatch(
  app: FastifyInstance,
  deps: RouteDeps,
  defs: readonly ResourceDef<Kind>[],
  log: Logger,
  /** Counts open streams (the `hypernet_watch_clients` gauge). */
  clients?: { inc(): void; dec(): void },
): void {
  const byKind = new Map(defs.map((d) => [d.kind, d]));
  // The streams share their reads of the change log (change-feed.ts).
  const feed = new ChangeFeed(deps.store, deps.clock);
  app.addHook('onClose', async () => feed.close());
  // Each change's line, kept as long as the feed's shared answer holds the change. Not for agents:
  // their `alive` is computed when the line is written (docs/watch.md).
  const lines = new WeakMap<Change, string>();
  const eventLine = (c: Change, present: (kind: Kind, o: unknown) => unknown): string => {
    const known = lines.get(c);
    if (known) return known;
    const e = {
      type: 'event',
      revision: c.revision,
      kind: c.kind,
      op: c.op,
      id: c.id,
      object: present(c.kind, c.object),
    };
    const line = `${JSON.stringify(e as WatchEvent)}\n`;
    if (c.kind !== 'agent') lines.set(c, line);
    return line;
  };
  app.get('/v2.0/watch', async (req, reply) => {
    const ctx = contextOf(deps, req);
    if (!ctx.caller.isAdmin) throw faults.forbidden('(rule:watch) is disallowed by policy: admin only');
    const rawSince = queryOf(req).since?.[0];
    let since: number | undefined;
    if (rawSince !== undefined) {
      since = Number(rawSince);
      if (!/^\d+$/.test(rawSince))
        throw faults.badRequest(`since must be a revision number, not '${rawSince}'`, 'HTTPBadRequest');
    }
    const present = (kind: Kind, o: unknown) => {
      const def = byKind.get(kind);
      return def?.present ? def.present({ ...ctx, nowMs: deps.clock.now() }, o as never) : o;
    };

    let wake: (() => void) | undefined;
    let pending = false;
    const unsubscribe = deps.store.onCommit(() => {
      pending = true;
      wake?.();
    });
    let cursor: number;
    let first: WatchMessage[] = [];
    try {
      if (since === undefined) {
        const snap = await deps.store.read(async (tx) => {
          const s: Snapshot = {
            type: 'snapshot',
            revision: await tx.revision(),
            networks: await tx.list('network'),
            subnets: await tx.list('subnet'),
            ports: await tx.list('port'),
            security_groups: await tx.list('security_group'),
            security_group_rules: await tx.list('security_group_rule'),
            agents: await tx.list('agent'),
            routers: await tx.list('router'),
            floatingips: await tx.list('floatingip'),
            subnetpools: await tx.list('subnetpool'),
            hypervms: await tx.list('hypervm'),
          };
          return s;
        });
        snap.agents = snap.agents.map((a) => present('agent', a) as typeof a);
        snap.networks = snap.networks.map((n) => present('network', n) as typeof n);
        cursor = snap.revision;
        first = [snap];
      } else {
        const r = await feed.changesSince(since, 0);
        if (r.compacted)
          throw faults.gone(
            'WatchRevisionCompacted',
            `Revision ${since} is too old (or unknown): history was compacted, resync without since.`,
          );
        cursor = since;
      }
    } catch (e) {
      unsubscribe();
      throw e;
    }

    reply.hijack();
    clients?.inc();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache' });
    let closed = false;
    const stop = () => {
      closed = true;
      wake?.();
    };
    req.raw.on('close', stop);
    res.on('close', stop);
    const sendText = async (text: string) => {
      if (!res.write(text)) await new Promise<void>((r) => res.once('drain', r).once('close', r));
    };
    const send = (m: WatchMessage) => sendText(`${JSON.stringify(m)}\n`);
    try {
      for (const m of first) await send(m);
      while (!closed) {
        pending = false;
        const r = await feed.changesSince(cursor, BATCH);
        if (r.compacted) break; // fell behind compaction: end the stream, the client's resume gets 410
        // One write per read of the log: fewer syscalls and TCP segments per stream when changes come in bursts.
        let text = '';
        for (const c of r.changes) {
          cursor = c.revision;
          if (!isWatchedKind(c.kind)) continue; // instances stay on the server (user data)
          text += eventLine(c, present);
        }
        if (text) await sendText(text);
        if (r.changes.length === BATCH || pending || closed) continue;
        const woke = await new Promise<boolean>((resolve) => {
          const t = setTimeout(() => resolve(false), deps.config.watchHeartbeatMs);
          wake = () => {
            clearTimeout(t);
            resolve(true);
          };
        });
        wake = undefined;
        if (!woke && !closed) await send({ type: 'heartbeat', revision: cursor });
      }
    } catch (e) {
      log.warn({ err: e }, 'watch stream failed');
    } finally {
      clients?.dec();
      unsubscribe();
      res.end();
    }
  });
}
