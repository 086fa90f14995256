/**
 * The PostgreSQL store's ear for other servers' commits: a dedicated connection (not from the pool:
 * LISTEN belongs to a session) that LISTENs on the commit channel and passes each NOTIFY's revision on.
 * When it breaks (database restarted, network) it reconnects with backoff, up to 5 s apart, and then
 * passes on the current revision once, which covers every commit made while it was deaf.
 */
import pg from 'pg';
import type { Logger } from '../../common/log.js';
import { COMMIT_CHANNEL } from './postgres-sql.js';

export interface CommitListenerOptions {
  url: string;
  log?: Logger;
  /** Hears revisions: from NOTIFY payloads, and the current one after each (re)connect. */
  onRevision: (revision: number) => void;
  /** SELECT of the current revision (one row, column `value`). */
  revisionSql: string;
}

export class CommitListener {
  private client?: pg.Client;
  private stopped = false;
  private timer?: NodeJS.Timeout;

  /** Connects and listens; rejects (leaving nothing open) when the first connection fails. */
  static async start(opts: CommitListenerOptions): Promise<CommitListener> {
    const l = new CommitListener(opts);
    await l.connect(0, true);
    return l;
  }

  private constructor(private readonly opts: CommitListenerOptions) {}

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }

  private async connect(attempt: number, initial = false): Promise<void> {
    const client = new pg.Client({ connectionString: this.opts.url, keepAlive: true });
    let lost = false;
    const onLost = (e?: unknown) => {
      if (lost) return;
      lost = true;
      if (this.client === client) this.client = undefined;
      client.end().catch(() => undefined);
      if (this.stopped) return;
      this.opts.log?.warn({ err: e }, 'postgres: LISTEN connection lost, reconnecting');
      const delay = Math.min(5_000, 100 * 2 ** attempt);
      this.timer = setTimeout(() => void this.connect(attempt + 1), delay);
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', (n) => {
      const rev = Number(n.payload);
      if (Number.isSafeInteger(rev)) this.opts.onRevision(rev);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${COMMIT_CHANNEL}`);
      const rev = Number((await client.query(this.opts.revisionSql)).rows[0].value);
      if (this.stopped) {
        lost = true;
        await client.end();
        return;
      }
      this.client = client;
      attempt = 0; // the next loss starts its backoff from the beginning
      this.opts.onRevision(rev);
    } catch (e) {
      if (!initial) return onLost(e);
      // At start the caller reports it: no reconnecting, and no connection left behind.
      lost = true;
      await client.end().catch(() => undefined);
      throw e;
    }
  }
}
