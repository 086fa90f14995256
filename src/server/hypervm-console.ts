/**
 * `hypernet hypervm console ID`: the server relays a raw byte stream between the caller and the node
 * running the container. Nodes only dial out to the server, so the relay works the other way round:
 *
 *   caller  GET /v2.0/hypervms/{id}/console                 Upgrade: hypernet-console  (owner or admin)
 *           → a session id is put on the HyperVM (console_session); the node sees it on the watch stream
 *   node    GET /v2.0/hypervms/{id}/console?session=S       Upgrade: hypernet-console  (admin)
 *           → both get 101 and the server pipes one socket into the other until either ends
 *
 * The session id pairs the two; it grants nothing alone (the node's side needs an admin token). A
 * caller whose node does not dial back within 15 s gets 504. One session per HyperVM at a time.
 */
import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { CONSOLE_PROTOCOL } from '../model/hypervm.js';
import { authenticate, prevalidate } from './auth.js';
import { ownedOrAdmin } from './resource.js';
import { hypervms } from './resources/hypervms.js';
import type { RouteDeps } from './routes.js';
import { storeUpdate } from './store-update.js';

const DIAL_BACK_MS = 15_000;
const PATH = /^\/v2\.0\/hypervms\/([0-9a-zA-Z-]{1,64})\/console(?:\?session=([0-9a-f-]{36}))?$/;

interface Waiting {
  socket: Duplex;
  timer: NodeJS.Timeout;
}

const answer = (socket: Duplex, status: number, text: string) => {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
};
const switched = `HTTP/1.1 101 Switching Protocols\r\nupgrade: ${CONSOLE_PROTOCOL}\r\nconnection: Upgrade\r\n\r\n`;

/** The `upgrade` listener of the API's HTTP servers (TCP and Unix socket). */
export function consoleRelay(deps: RouteDeps): (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void {
  const waiting = new Map<string, Waiting>();
  return (req, socket, head) => {
    handle(req, socket, head).catch(() => answer(socket, 500, 'Internal Server Error'));
  };

  async function handle(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const m = PATH.exec(req.url ?? '');
    if (req.method !== 'GET' || !m || req.headers.upgrade?.toLowerCase() !== CONSOLE_PROTOCOL)
      return answer(socket, 404, 'Not Found');
    const [, id, session] = m;
    const header = req.headers['x-auth-token'];
    const token = Array.isArray(header) ? header[0] : header;
    await prevalidate(deps.auth, req, token);
    let caller: ReturnType<typeof authenticate>;
    try {
      caller = authenticate(deps.auth, token, req);
    } catch {
      return answer(socket, 401, 'Unauthorized');
    }
    if (head.length) socket.unshift(head);
    if (session !== undefined) {
      // The node dialling back.
      const w = waiting.get(session);
      if (!caller.isAdmin || !w) return answer(socket, 404, 'Not Found');
      waiting.delete(session);
      clearTimeout(w.timer);
      w.socket.write(switched);
      socket.write(switched);
      // Each end's close ends the other after what it still has to write (pipe ends it on 'end').
      w.socket.pipe(socket).pipe(w.socket);
      const fail = () => {
        w.socket.destroy();
        socket.destroy();
      };
      socket.on('error', fail).on('close', () => w.socket.end());
      w.socket.on('error', fail).on('close', () => socket.end());
      return;
    }
    const ctx = { caller, config: deps.config, nowMs: deps.clock.now(), images: deps.images };
    const sid = randomUUID();
    const ok = await deps.store.write(async (tx) => {
      const hv = await tx.get('hypervm', id);
      if (!hv || !ownedOrAdmin(ctx, hv)) return 'missing';
      if (hv.status !== 'ACTIVE') return 'inactive';
      await storeUpdate(hypervms, ctx, tx, { ...hv, console_session: sid });
      return 'ok';
    });
    if (ok === 'missing') return answer(socket, 404, 'Not Found');
    if (ok === 'inactive') return answer(socket, 409, 'Conflict');
    const timer = setTimeout(() => {
      waiting.delete(sid);
      answer(socket, 504, 'Gateway Timeout');
    }, DIAL_BACK_MS);
    waiting.set(sid, { socket, timer });
    socket.on('close', () => {
      clearTimeout(timer);
      waiting.delete(sid);
    });
  }
}
