/**
 * One end of a HyperVM console (src/server/hypervm-console.ts): an HTTP Upgrade to the raw byte
 * stream the server relays. The caller opens it for its HyperVM; the node dials back with the session.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { CONSOLE_PROTOCOL } from '../model/hypervm.js';
import { ApiError, type ApiClient } from './api.js';

/** Opens the console stream of HyperVM `id` (`session`: the node's side). Rejects with the server's refusal. */
export function openConsole(api: ApiClient, id: string, session?: string): Promise<Duplex> {
  const path = `/v2.0/hypervms/${encodeURIComponent(id)}/console${session ? `?session=${session}` : ''}`;
  return new Promise((resolve, reject) => {
    const req = http.request(api.requestOptions('GET', path, { connection: 'Upgrade', upgrade: CONSOLE_PROTOCOL }));
    req.on('upgrade', (_res, socket, head) => {
      if (head.length) socket.unshift(head);
      resolve(socket);
    });
    req.on('response', (res) => {
      res.resume();
      const why: Record<number, string> = {
        404: `HyperVM ${id} could not be found`,
        409: `HyperVM ${id} is not ACTIVE`,
        504: `the node of HyperVM ${id} did not answer`,
      };
      reject(
        new ApiError(
          res.statusCode ?? 0,
          'ConsoleRefused',
          why[res.statusCode ?? 0] ?? `console refused (${res.statusCode})`,
        ),
      );
    });
    req.on('error', (e) => reject(new ApiError(0, 'ConnectionFailed', `console: ${e.message}`)));
    req.end();
  });
}
