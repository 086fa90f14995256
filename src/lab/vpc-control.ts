/**
 * The control socket of the lab's EC2 endpoint daemon (`<state>/vpc/control.sock`): the lab asks it to
 * plug an ENI into a namespace, because the VPC router's links and the routes to them live in the
 * daemon's dataplane (NetnsVpcDataplane), not in `lab up`. One request, `POST /plug`
 * `{"eni": "eni-…", "netns": "<a namespace of the plan's vpc cloud>"}`; the daemon checks both.
 */
import { createServer, request, type Server } from 'node:http';
import { rmSync } from 'node:fs';

export interface PlugRequest {
  eni: string;
  netns: string;
}

/** Parses a plug request body strictly: exactly the two strings. */
export function parsePlugRequest(body: string): PlugRequest {
  const v = JSON.parse(body) as unknown;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('the request must be an object');
  const o = v as Record<string, unknown>;
  const extra = Object.keys(o).filter((k) => k !== 'eni' && k !== 'netns');
  if (extra.length) throw new Error(`unknown keys: ${extra.join(', ')}`);
  if (typeof o.eni !== 'string' || typeof o.netns !== 'string') throw new Error('eni and netns must be strings');
  return { eni: o.eni, netns: o.netns };
}

/** Serves `POST /plug` on `socket`; `plug` throws for a request it refuses (answered 400 with its message). */
export async function serveControl(socket: string, plug: (r: PlugRequest) => Promise<void>): Promise<Server> {
  rmSync(socket, { force: true });
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const answer = (status: number, text: string) => {
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(text);
      };
      if (req.method !== 'POST' || req.url !== '/plug') return answer(404, 'only POST /plug');
      let r: PlugRequest;
      try {
        r = parsePlugRequest(body);
      } catch (e) {
        return answer(400, (e as Error).message);
      }
      plug(r).then(
        () => answer(200, 'plugged'),
        (e: Error) => answer(400, e.message),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, resolve);
  });
  return server;
}

/** Asks the daemon on `socket` to plug an ENI; throws with its answer when it refuses. */
export function requestPlug(socket: string, r: PlugRequest, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, method: 'POST', path: '/plug', timeout: timeoutMs }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () =>
        res.statusCode === 200 ? resolve() : reject(new Error(`plug ${r.eni} into ${r.netns}: ${text}`)),
      );
    });
    req.on('timeout', () => req.destroy(new Error(`plug ${r.eni}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(JSON.stringify(r));
  });
}
